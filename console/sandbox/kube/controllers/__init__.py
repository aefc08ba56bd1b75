"""Controllers of the emulated cluster. (Placeholder: replaced by the controllers work.)"""

from __future__ import annotations


class Controllers:
    def __init__(self, cluster) -> None:
        self.cluster = cluster

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None
