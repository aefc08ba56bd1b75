"""Which collector serves which component, built for one environment.

The dashboard and ``mcp-ops check`` build their collectors here so both look at the same
things the same way. The Kubernetes source is shared by the pods and backups collectors
(one client, one connection pool).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from console.config.model import Environment
from console.sources.kube import KubeSource

from .backups import BackupsCollector
from .backups_model import BackupsSnapshot
from .base import Snapshot, describe_error
from .database_switch import FollowingPostgresCollector
from .kube import KubeCollector
from .kube_model import KubeSnapshot
from .postgres_model import PostgresSnapshot
from .redis import RedisCollector, RedisSnapshot
from .service import ServiceCollector
from .service_model import ServiceSnapshot


class Collector(Protocol):
    async def collect(self) -> Snapshot: ...
    async def close(self) -> None: ...


# component -> snapshot class (to make a failed snapshot of the right kind)
SNAPSHOT_TYPES: dict[str, type[Snapshot]] = {
    "service": ServiceSnapshot,
    "pods": KubeSnapshot,
    "database": PostgresSnapshot,
    "cache": RedisSnapshot,
    "backups": BackupsSnapshot,
}


def collectors_for(env: Environment, *, timeout: float = 3.0, watch: bool = True) -> dict[str, Collector]:
    kube = KubeSource(env.kubernetes, timeout=timeout)
    return {name: build_collector(env, name, timeout=timeout, watch=watch, kube=kube)
            for name in SNAPSHOT_TYPES}


def build_collector(env: Environment, name: str, *, timeout: float = 3.0, watch: bool = False,
                    kube: KubeSource | None = None) -> Collector:
    """The collector of one component (``service``, ``pods``, ``database``, ``cache``,
    ``backups``), without building the others. ``kube`` shares a Kubernetes source (its
    one client); the ``pods`` collector closes the source it is given when closed."""
    if name == "service":
        return ServiceCollector(env.service, timeout=min(timeout, env.service.timeout))
    if name == "pods":
        return KubeCollector(env.kubernetes, watch=watch, timeout=timeout, source=kube)
    if name == "database":
        # follows db-pitr's switch to the recovery instance (database_switch.py)
        return FollowingPostgresCollector(env.postgres, env.kubernetes, kube=kube,
                                          look_timeout=timeout / 3, connect_timeout=timeout,
                                          replica_timeout=timeout / 3,
                                          slow_after_seconds=env.thresholds.slow_query_seconds)
    if name == "cache":
        return RedisCollector(env.redis, timeout=timeout)
    if name == "backups":
        return BackupsCollector(env, timeout=timeout, kube=kube)
    raise KeyError(f"no component {name!r}; known: {', '.join(SNAPSHOT_TYPES)}")


async def collect_bounded(name: str, collector: Collector, timeout: float) -> Snapshot:
    """One collection that takes at most ``timeout`` seconds; past that, a failed snapshot.
    A collector that raises (a bug: collectors turn their sources' failures into snapshots
    themselves) is a failed snapshot too, so one component's bug is that component's
    UNREACHABLE, not the end of the whole check."""
    try:
        return await asyncio.wait_for(collector.collect(), timeout)
    except TimeoutError:
        return SNAPSHOT_TYPES[name].failed(f"timed out after {timeout:g} s")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - see above
        return SNAPSHOT_TYPES[name].failed(f"collector failed: {describe_error(exc)}")


async def close_all(collectors: dict[str, Collector], timeout: float = 2.0) -> None:
    """Close every collector; one that hangs on close is abandoned after ``timeout``."""
    async def one(c: Collector) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.close(), timeout)
    await asyncio.gather(*(one(c) for c in collectors.values()))
