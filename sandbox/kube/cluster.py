"""One emulated cluster: the store, its clock, faults, controllers, exec and log sources.

Module ownership inside ``sandbox/kube/``:
- ``store.py``, ``clock.py``, ``cluster.py``: shared core (this file).
- ``server.py`` and friends (discovery, resources, patch, selectors, auth, faults,
  ``__main__``): the HTTP API server.
- ``controllers/`` and ``seed.py``: Deployment/ReplicaSet/Pod/Node/DaemonSet/HPA/Velero
  controllers, metrics load model, and the seeded world.
- ``exec.py`` and ``logs.py``: websocket exec (v4/v5 channel protocol) with pluggable
  handlers, and pod logs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .clock import Clock
from .store import Store


@dataclass
class Cluster:
    """Everything one emulated API server serves. Start it with :meth:`start` (which starts
    the controllers) and stop it with :meth:`stop`. ``extras`` is a free slot for the
    pieces (exec handlers, log book, faults, tokens) to keep their state."""

    clock: Clock = field(default_factory=Clock)
    store: Store = None  # type: ignore[assignment]
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.store is None:
            self.store = Store(self.clock)

    async def start(self) -> None:
        """Start the controllers (Deployment -> ReplicaSet -> Pod, nodes, HPA, Velero...)."""
        from .controllers import Controllers

        controllers = Controllers(self)
        self.extras["controllers"] = controllers
        await controllers.start()

    async def stop(self) -> None:
        controllers = self.extras.pop("controllers", None)
        if controllers is not None:
            await controllers.stop()
        self.store.close_watches()


def build_cluster(*, seeded: bool = True, extra_pods: int = 0, speed: float = 1.0) -> Cluster:
    """A cluster with the runbook's production world (see ``seed.py``), not yet started."""
    cluster = Cluster(clock=Clock(speed))
    if seeded:
        from .seed import seed_world

        seed_world(cluster, extra_pods=extra_pods)
    return cluster
