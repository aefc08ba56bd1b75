"""The seeded world of the emulator. (Placeholder: replaced by the controllers work.)"""

from __future__ import annotations


def seed_world(cluster, extra_pods: int = 0) -> None:
    return None
