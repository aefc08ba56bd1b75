"""The sandbox's DR region, really separate from production, so a failover can be checked.

- **Its own PostgreSQL**: a real streaming replica of the sandbox's production server
  (``pg_basebackup -R -X stream`` of it, see ``embedded_postgres.start_standby``), on a
  port of its own, data in the sandbox's directory. moto's RDS DR replica stands for it:
  when that replica is promoted through the AWS API, :meth:`DrRegion.on_promote` (called by
  the hook of ``aws.install_hooks``) runs ``pg_promote()`` on the real standby and only then
  lets the RDS instance read back ``available``.
- **Database host names** (:class:`Names`): what a ``postgres-credentials`` secret may say
  — the in-cluster service of production's primary, the PITR recovery service, the RDS
  endpoints of the primary and of the DR replica — mapped to the local server behind each.
  A host it does not know fails to resolve, as a typo in a secret would.
- **The DR cluster as a real DR site** (:func:`prepare_dr_cluster`): namespaces and
  configuration are there, ``postgres-credentials`` points at production's RDS primary,
  and there is no MCP-server Deployment — the cross-region Velero backup
  (``latest-cross-region-backup``, whose contents are the production world's) restores it.
- Each region's MCP-server simulator takes its database from its cluster's secret
  (:func:`secret_dsn`) and answers ``/health`` only while its Deployment has a ready pod.
- **The front door** (:class:`FrontDoor`): one local HTTP address standing for the public
  service name; each request is routed to the region the Route53 record names in moto.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
from aiohttp import web

from . import aws as sandbox_aws
from .embedded_postgres import EmbeddedServer, start_standby
from .local_http import serve_local
from .local_process import LOCALHOST

if TYPE_CHECKING:
    from .database import SandboxDatabase

log = logging.getLogger(__name__)

NAMESPACE = "mcp-production"
DEPLOYMENT = "mcp-server-production"
SECRET = "postgres-credentials"
PRIMARY_SERVICE_HOST = f"postgres-production-primary.{NAMESPACE}.svc.cluster.local"
RECOVERY_SERVICE_HOST = f"postgres-recovery.{NAMESPACE}.svc.cluster.local"
PROD_LB = "mcp-prod-lb.eu-west-1.elb.amazonaws.com"
DR_LB = "mcp-dr-lb.eu-central-1.elb.amazonaws.com"


@dataclass(frozen=True)
class Address:
    host: str
    port: int
    database: str
    role: str  # what it stands for: "production primary", "DR replica", ...


@dataclass
class Names:
    """The sandbox's name resolution for database hosts (see the module doc)."""

    user: str = "postgres"
    hosts: dict[str, Address] = field(default_factory=dict)

    def add(self, name: str, address: Address) -> None:
        self.hosts[name] = address

    def dsn(self, host: str, port: str = "5432", database: str = "pratiko_mcp_production") -> str:
        """The DSN a client of ``host`` really reaches (the secret's user and password are
        the production ones and mean nothing to the sandbox's server: its own user is used).
        An unknown host is kept as it is, so connecting fails as it would in the cluster."""
        found = self.hosts.get(host)
        if found is None:
            return f"postgresql://{self.user}@{host}:{port}/{database}"
        return f"postgresql://{self.user}@{found.host}:{found.port}/{found.database}"


def secret_fields(secret: dict[str, Any] | None) -> dict[str, str]:
    """A Secret's values, decoded (a value that is not base64 is taken as it is — the API
    would have refused it, the emulator's store may not have)."""
    out: dict[str, str] = {}
    for key, value in ((secret or {}).get("data") or {}).items():
        try:
            out[key] = base64.b64decode(value, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            out[key] = str(value)
    return out


def secret_dsn(cluster, names: Names) -> Callable[[], str]:
    """For a simulator: the DSN of the database the cluster's secret names, read each time."""
    def read() -> str:
        fields = secret_fields(cluster.store.peek("secrets", NAMESPACE, SECRET))
        if not fields.get("host"):
            return f"postgresql://{names.user}@secret-{SECRET}-missing.invalid:5432/none"
        return names.dsn(fields["host"], fields.get("port") or "5432",
                         fields.get("database") or "pratiko_mcp_production")
    return read


def ready_pods(cluster) -> Callable[[], int]:
    """For a simulator: the ready replicas of the cluster's MCP-server Deployment."""
    def read() -> int:
        deployment = cluster.store.peek("deployments.apps", NAMESPACE, DEPLOYMENT)
        return int(((deployment or {}).get("status") or {}).get("readyReplicas") or 0)
    return read


def prepare_dr_cluster(cluster, primary_endpoint: str) -> None:
    """The DR site before a failover: its secret names production's RDS primary, and the
    MCP-server Deployment is absent (the cross-region backup restores it)."""
    def point(secret: dict[str, Any]) -> None:
        secret.setdefault("data", {})["host"] = base64.b64encode(
            primary_endpoint.encode()).decode()

    cluster.store.mutate("secrets", NAMESPACE, SECRET, point)
    if cluster.store.peek("deployments.apps", NAMESPACE, DEPLOYMENT) is not None:
        cluster.store.delete("deployments.apps", NAMESPACE, DEPLOYMENT)


@dataclass
class DrDatabase:
    """The DR region's PostgreSQL: a hot standby of production until promoted."""

    server: EmbeddedServer
    database: str
    user: str = "postgres"
    host: str = LOCALHOST
    promoted_at: float | None = None

    @property
    def port(self) -> int:
        return self.server.port

    def dsn(self, database: str | None = None) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database or self.database}"

    async def in_recovery(self) -> bool:
        conn = await asyncpg.connect(self.dsn(), timeout=5)
        try:
            return bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
        finally:
            await conn.close()

    async def promote(self) -> None:
        """``pg_promote()``: end recovery and accept writes (waits up to 60 s)."""
        conn = await asyncpg.connect(self.dsn(), timeout=5)
        try:
            if await conn.fetchval("SELECT pg_is_in_recovery()"):
                if not await conn.fetchval("SELECT pg_promote(true, 60)"):
                    raise RuntimeError("pg_promote() did not finish within 60 s")
        finally:
            await conn.close()
        self.promoted_at = time.time()

    async def stop(self) -> None:
        await self.server.process.stop(grace=10)


async def start_dr_database(workdir: Path, db: SandboxDatabase) -> DrDatabase | None:
    """The standby of the sandbox's own production server; None on a shared server (no
    replication connection is granted there)."""
    if db.embedded is None:
        return None
    server = await start_standby(workdir, db.embedded, max_connections=db.max_connections)
    return DrDatabase(server, db.database, db.user)


def freeze(server: EmbeddedServer | None, stop: bool) -> list[int]:
    """SIGSTOP (or SIGCONT) a server and every process it forked: it accepts TCP
    connections and never answers, as a database in a region that is gone."""
    if server is None or server.process.process.returncode is not None:
        return []
    parent = server.process.pid
    pids = [parent]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGSTOP if stop else signal.SIGCONT)
    return pids


# a watchdog that resumes frozen processes when the sandbox dies (it gets SIGTERM then, as
# every child does): a stopped server would otherwise never act on its own death signal
THAW_ON_EXIT = """\
import os, signal, sys
pids = [int(p) for p in sys.argv[1:]]
def thaw(*_):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass
    sys.exit(0)
signal.signal(signal.SIGTERM, thaw)
while True:
    signal.pause()
"""


async def freeze_with_watchdog(server: EmbeddedServer | None, workdir: Path):
    """:func:`freeze` a server, and start the watchdog that thaws it should the sandbox be
    killed outright (stop it after thawing with :func:`freeze`)."""
    import sys

    from .local_process import start_child

    pids = freeze(server, True)
    if not pids:
        return None
    return await start_child("thaw-watchdog", [sys.executable, "-c", THAW_ON_EXIT,
                                               *map(str, pids)],
                             log_path=workdir / "thaw-watchdog.log")


class DrRegion:
    """Glue between moto and the real standby: the promotion hook runs here."""

    def __init__(self, aws: sandbox_aws.SandboxAws, database: DrDatabase | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.aws = aws
        self.database = database
        self.loop = loop
        self.promotions: list[dict[str, Any]] = []
        self._tasks: set[asyncio.Task] = set()

    def on_promote(self, identifier: str) -> None:
        """Called in moto's thread when the RDS replica's promotion was accepted."""
        self.loop.call_soon_threadsafe(self._start_promotion, identifier)

    def _start_promotion(self, identifier: str) -> None:
        task = self.loop.create_task(self._promote(identifier))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _promote(self, identifier: str) -> None:
        began = time.monotonic()
        try:
            if self.database is None:
                raise RuntimeError("the DR region has no database of its own (shared server)")
            await self.database.promote()
        except Exception as exc:  # noqa: BLE001 - the RDS instance shows it, as AWS would
            log.warning("promoting the DR standby failed: %s", exc)
            self.aws.set_db_status(identifier, "failed")
            self.promotions.append({"instance": identifier, "ok": False, "error": str(exc)})
            return
        self.aws.set_db_status(identifier, "available")
        self.promotions.append({"instance": identifier, "ok": True,
                                "seconds": round(time.monotonic() - began, 3)})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class FrontDoor:
    """The public service name, served locally: each request goes to the region the
    Route53 record (``mcp.pratiko.ai``) names — production's load balancer or the DR
    target — and the answer says which (``X-Served-By``). A record naming nothing the
    sandbox knows, or a region that does not answer, is a 502/504 as from a CDN."""

    def __init__(self, aws: sandbox_aws.SandboxAws, regions: dict[str, str]) -> None:
        self.aws = aws
        self.regions = regions  # record target -> base URL of that region's service
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def target(self) -> str | None:
        """The record's value in Route53 now (moto, over its API)."""
        r53 = self.aws.client("route53")
        sets = r53.list_resource_record_sets(HostedZoneId=self.aws.zone_id,
                                             StartRecordName=sandbox_aws.RECORD,
                                             StartRecordType="CNAME", MaxItems="1")
        for rrset in sets["ResourceRecordSets"]:
            if rrset["Name"].rstrip(".") == sandbox_aws.RECORD:
                values = [r["Value"] for r in rrset.get("ResourceRecords") or []]
                return values[0].rstrip(".") if values else None
        return None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=4))
        app = web.Application()
        app.add_routes([web.get("/{path:.*}", self._forward)])
        self._runner, self.port = await serve_local(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.Response:
        target = await asyncio.to_thread(self.target)
        base = self.regions.get(target or "")
        headers = {"X-Route53-Target": target or ""}
        if base is None:
            return web.json_response({"status": "unhealthy", "error": f"{sandbox_aws.RECORD} "
                                      f"points at {target!r}, which serves nothing"},
                                     status=502, headers=headers)
        headers["X-Served-By"] = base
        try:
            async with self._http.get(base + "/" + request.match_info["path"],
                                      params=request.query) as upstream:
                body = await upstream.read()
                return web.Response(body=body, status=upstream.status, headers={
                    **headers, "Content-Type": upstream.headers.get("Content-Type",
                                                                    "application/json")})
        except (aiohttp.ClientError, TimeoutError) as exc:
            return web.json_response({"status": "unhealthy",
                                      "error": f"{target} does not answer: "
                                               f"{type(exc).__name__}: {exc}"[:300]},
                                     status=504, headers=headers)


def route_targets(production_url: str, dr_url: str) -> dict[str, str]:
    """Which record values reach which region's service."""
    return {PROD_LB: production_url, DR_LB: dr_url, sandbox_aws.DR_TARGET: dr_url}


# faults a failover can meet, switched on beside any scenario (region-failure first)
FAULTS = {
    "rds-promotion-refused": "promoting the DR replica fails with AccessDenied (IAM)",
    "route53-change-failing": "changing the service record fails with AccessDenied (IAM)",
    "dr-unreachable": "the DR cluster's API server stops answering",
}


def set_fault(sandbox, name: str, on: bool) -> None:
    """Switch one of :data:`FAULTS` on or off in a running sandbox."""
    if name not in FAULTS:
        raise KeyError(f"no fault {name!r}; one of: {', '.join(FAULTS)}")
    faults = sandbox.scenario_state.setdefault("faults", {})
    if name == "rds-promotion-refused":
        sandbox.aws.deny("rds:PromoteReadReplica", on)
    elif name == "route53-change-failing":
        sandbox.aws.deny("route53:ChangeResourceRecordSets", on)
    elif on and name not in faults:
        faults[name] = sandbox.clusters.dr.faults.add("/", hang=True,
                                                      message="DR region unavailable").id
    elif not on and name in faults:
        sandbox.clusters.dr.faults.remove(faults[name])
    if on:
        faults.setdefault(name, True)
    else:
        faults.pop(name, None)


def faults_on(sandbox) -> list[str]:
    return sorted(sandbox.scenario_state.get("faults", {}))
