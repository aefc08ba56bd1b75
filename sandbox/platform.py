"""The whole platform on one machine: start it, switch scenarios, stop it without a trace.

:class:`Sandbox` starts, each on 127.0.0.1 and a port of its own: PostgreSQL (the local
server or an embedded one) with the seeded ``pratiko_mcp_production``; a private Redis
with maxmemory and live traffic; two Kubernetes emulators (production and DR) seeded with
the runbook's world, their database pods running real psql/pg_dump/pg_restore; moto with
the backup bucket (real pg_dump archives), RDS, Route53 and EC2; and the MCP-server
simulator for each region (the MCP-server pods' ``curl localhost:8080`` reaches it, see
``service_exec.py``). It writes a config for all of it (environments ``sandbox`` and
``sandbox-dr``) and a small control API through which the console's sandbox menu, the
tests and scripts switch scenarios.

Everything lives in one temporary directory and in child processes of this one; :meth:`stop`
undoes the scenario, stops every server (children are killed if they do not stop in time)
and removes the directory, and it runs on SIGTERM, SIGINT and when the parent that asked
for the sandbox goes away, so nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import aws as sandbox_aws
from . import scenarios
from .aws import SandboxAws, install_hooks, seed_backups, start_aws, velero_bucket_writer
from .aws_process import EarlyStart, end_child
from .cache import SandboxCache, find_external, start_cache
from .clusters import SandboxClusters, start_clusters, wire_exec
from .control import ControlServer
from .database import SandboxDatabase, find_local, start_database
from .dr_region import (
    PRIMARY_SERVICE_HOST,
    RECOVERY_SERVICE_HOST,
    Address,
    DrDatabase,
    DrRegion,
    FrontDoor,
    Names,
    prepare_dr_cluster,
    ready_pods,
    route_targets,
    secret_dsn,
    start_dr_database,
)
from .ingress_gate import admits
from .kube.clock import check_sandbox_speed
from .kube.controllers.velero_store import attach_object_store
from .leftovers import DIR_PREFIXES, mark_owner, sweep_directories
from .local_process import PARENT_ENV  # noqa: F401 - named here by callers
from .prometheus import SandboxPrometheus, start_prometheus
from .prometheus import binary as prometheus_binary
from .sandbox_config import PROMETHEUS_JOBS, Addresses, write_config
from .service_exec import wire_service_exec
from .service_tls import ServiceTls
from .simulator import Simulator
from .webhooks import WebhookReceiver

log = logging.getLogger(__name__)
PRIMARY_HOST = "postgres-production-primary.mcp-production.svc.cluster.local"
PROMETHEUS_ENV = "MCP_OPS_SANDBOX_PROMETHEUS"


class PartFailed(RuntimeError):
    """A part of the sandbox did not start; the message names it."""


async def _all_parts(*parts: tuple[str, Any]) -> None:
    """Run the named coroutines side by side and wait for every one of them (whatever has
    started is then on the sandbox, for stop() to undo); then raise the first failure,
    named after its part."""
    results = await asyncio.gather(*(coro for _, coro in parts), return_exceptions=True)
    for (part, _), r in zip(parts, results, strict=True):
        if isinstance(r, PartFailed):
            raise r
        if isinstance(r, Exception):
            raise PartFailed(f"{part}: {type(r).__name__}: {r}".rstrip(": ")) from r
        if isinstance(r, BaseException):
            raise r


class Sandbox:
    """One running sandbox. ``async with Sandbox(...) as sb`` or start()/stop()."""

    def __init__(self, *, scenario: str = "healthy", extra_pods: int = 0,
                 speed: float = 1.0, config_out: Path | None = None,
                 progress: Callable[[str], None] | None = None,
                 early: EarlyStart | None = None) -> None:
        scenarios.get(scenario)  # an unknown name fails before anything starts
        self.early = early  # a directory and moto's child made before this module loaded
        self.initial_scenario = scenario
        self.scenario = "healthy"
        self.extra_pods = extra_pods
        self.speed = check_sandbox_speed(speed)  # the emulators' clocks (controllers, ages)
        self.config_out = config_out
        self.progress = progress or (lambda message: None)
        self.id = uuid.uuid4().hex[:8]
        self.workdir: Path | None = None
        self.db: SandboxDatabase | None = None
        self.cache: SandboxCache | None = None
        self.clusters: SandboxClusters | None = None
        self.aws: SandboxAws | None = None
        self.simulator: Simulator | None = None
        self.dr_simulator: Simulator | None = None
        self.control: ControlServer | None = None
        self.dr_db: DrDatabase | None = None
        self.dr_region: DrRegion | None = None
        self.front_door: FrontDoor | None = None
        self.names = Names()
        self.webhooks: WebhookReceiver | None = None
        self.service_tls: ServiceTls | None = None
        self.prometheus: SandboxPrometheus | None = None
        self.prometheus_note = ""
        self.config_path: Path | None = None
        self.scenario_state: dict[str, Any] = {}
        self.client_token = ""  # believes the client-address header (sandbox/ingress_gate.py)
        self.timings: dict[str, float] = {}
        self._switch_lock = asyncio.Lock()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ---- start -------------------------------------------------------------------------
    async def start(self) -> None:
        started = time.monotonic()
        if self.early is not None:
            self.workdir = self.early.workdir
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix=DIR_PREFIXES[0]))
        try:
            mark_owner(self.workdir)
            await asyncio.to_thread(sweep_directories, ("/tmp",))  # of killed sandboxes
            await self._start_parts()
        except BaseException:
            await self.stop()
            raise
        self.timings["total"] = time.monotonic() - started
        self.progress(f"sandbox ready in {self.timings['total']:.1f} s")

    async def _timed(self, name: str, coro):
        began = time.monotonic()
        try:
            return await coro
        finally:
            self.timings[name] = round(time.monotonic() - began, 3)

    async def _start_parts(self) -> None:
        """Every part as soon as what it needs is up: the DR standby and the pg_dump for S3
        right after the database, next to moto's and the emulators' start (which keep
        this process busy while the database's programs run on another core)."""
        workdir = self.workdir
        self._loop = asyncio.get_running_loop()
        # which servers to use is asked first, while nothing else keeps the loop busy
        found_db, found_cache = await asyncio.gather(find_local(self.id), find_external(self.id))
        self.progress("starting PostgreSQL, Redis, the Kubernetes emulators and moto")
        dump: list[bytes] = []
        await _all_parts(
            ("PostgreSQL", self._start_database_side(workdir, found_db, dump)),
            ("Redis", self._start_cache(workdir, found_cache)),
            ("Kubernetes emulators", self._start_clusters(workdir)),
            ("moto", self._start_aws()))
        self.progress(f"Redis {self.cache.mode} on port {self.cache.port}")
        await self._timed("dr-region", asyncio.to_thread(self._wire_dr_region))
        podfs = workdir / "podfs"
        wire_exec(self.clusters, db=self.db, cache=self.cache, podfs=podfs)
        self.cache.start_traffic()
        self.progress("seeding the S3 backup bucket; starting the simulators and Prometheus")
        await _all_parts(
            # no /backup/latest-backup.sql in any pod: the real backup job writes to S3 only
            ("S3 backups", self._timed("s3", seed_backups(self.aws, dump[0]))),
            # every Velero backup's resource list in its location's bucket, as Velero keeps it
            ("Velero storage", self._timed("velero-storage",
                                           asyncio.to_thread(self._wire_velero_storage))),
            ("simulators", self._start_service_side(workdir)))
        await self._finish_start(workdir)

    async def _start_database_side(self, workdir: Path, found_db, dump: list[bytes]) -> None:
        """The database, then its DR standby and its dump side by side."""
        self.db = await self._timed("postgres", start_database(workdir, self.id, found_db))
        self.progress(f"PostgreSQL {self.db.mode} on port {self.db.port} ({self.db.note})")
        self.progress("pg_stat_statements: " + (self.db.statements_note or "available"))
        self.progress("starting the DR region's database (a streaming replica of production) "
                      "and dumping the database for the S3 backup bucket")
        await _all_parts(("DR database", self._start_dr_database(workdir)),
                         ("pg_dump", self._dump_into(dump)))

    async def _start_dr_database(self, workdir: Path) -> None:
        self.dr_db = await self._timed("postgres-dr", start_dr_database(workdir, self.db))

    async def _dump_into(self, dump: list[bytes]) -> None:
        dump.append(await self._timed("pg_dump", self._pg_dump()))

    async def _start_cache(self, workdir: Path, found_cache) -> None:
        self.cache = await self._timed("redis", start_cache(workdir, self.id, found_cache))

    async def _start_clusters(self, workdir: Path) -> None:
        self.clusters = await self._timed(
            "kubernetes", start_clusters(workdir, extra_pods=self.extra_pods,
                                       speed=self.speed))

    async def _start_aws(self) -> None:
        early = self.early.moto if self.early is not None else None
        self.early = None  # start_aws owns the child now, and ends it should it fail
        self.aws = await self._timed("moto", start_aws(self.workdir, early))

    async def _start_service_side(self, workdir: Path) -> None:
        """The simulators, the front door, the webhook receivers, the TLS endpoint and
        Prometheus (the config is written once all of them and the backups are there)."""
        self.simulator = self._simulator(seed=1, region="sandbox",
                                         cluster=self.clusters.production.cluster)
        self.dr_simulator = self._simulator(seed=2, region="sandbox-dr",
                                            cluster=self.clusters.dr.cluster)
        await self._timed("simulator", asyncio.gather(self.simulator.start(),
                                                      self.dr_simulator.start()))
        self.front_door = FrontDoor(self.aws, route_targets(self.simulator.base_url,
                                                            self.dr_simulator.base_url))
        await self.front_door.start()
        # the MCP-server pods' curl of localhost:8080 reaches their region's simulator
        wire_service_exec(self.clusters.production.cluster, self.simulator.base_url)
        wire_service_exec(self.clusters.dr.cluster, self.dr_simulator.base_url)
        # the production front door honours the NetworkPolicies by client address
        self.client_token = secrets.token_urlsafe(18)
        production = self.clusters.production.cluster
        self.simulator.gate = lambda address: admits(production, address)
        self.simulator.client_token = self.client_token
        self.webhooks = WebhookReceiver()
        await self.webhooks.start()
        # the service host's TLS endpoint, presenting what cert-manager says it issued
        self.service_tls = ServiceTls(self.clusters.production.cluster, workdir)
        await self.service_tls.start()
        await self._timed("prometheus", self._start_prometheus())

    async def _finish_start(self, workdir: Path) -> None:
        self.config_path = self.config_out or workdir / "config.yaml"
        write_config(self.config_path, Addresses(
            kubeconfig=str(self.clusters.kubeconfig), postgres_dsn=self.db.dsn(),
            recovery_postgres_dsn=self.db.dsn(self.db.recovery_database),
            redis_url=self.cache.url, service_url=self.simulator.base_url,
            dr_service_url=self.dr_simulator.base_url, aws_endpoint=self.aws.endpoint_url,
            dr_postgres_dsn=self.dr_db.dsn() if self.dr_db else None,
            front_door_url=self.front_door.url,
            route53_zone_id=self.aws.zone_id, scenario=self.initial_scenario,
            webhooks={c: self.webhooks.url(c) for c in ("status_page", "slack")},
            prometheus_url=self.prometheus.url if self.prometheus else None,
            tls_host=self.service_tls.address, tls_server_name=self.service_tls.server_name(),
            tls_ca_file=str(self.service_tls.ca_file),
            maintenance_manifest=str(self._maintenance_manifest(workdir))))
        self.control = ControlServer(self)
        await self.control.start()
        if self.initial_scenario != "healthy":
            await self.switch(self.initial_scenario)
        self._write_sidecar()

    @staticmethod
    def _maintenance_manifest(workdir: Path) -> Path:
        import yaml

        from .scenario_outage import maintenance_manifest

        path = workdir / "maintenance-mode.yaml"
        path.write_text(yaml.safe_dump_all(maintenance_manifest(), sort_keys=False))
        return path

    async def _start_prometheus(self) -> None:
        """A real Prometheus scraping both simulators, when the binary is installed
        (``MCP_OPS_SANDBOX_PROMETHEUS=off`` leaves it out); without one the sandbox runs as
        before and the PromQL steps say Prometheus is not configured."""
        if os.environ.get(PROMETHEUS_ENV, "").strip().lower() in ("0", "off", "no", "false"):
            self.prometheus_note = f"{PROMETHEUS_ENV}=off"
            return
        if prometheus_binary() is None:
            self.prometheus_note = "prometheus not installed (apt-get install prometheus)"
            self.progress(f"no Prometheus: {self.prometheus_note}")
            return
        urls = {"sandbox": self.simulator.base_url, "sandbox-dr": self.dr_simulator.base_url}
        self.prometheus = await start_prometheus(
            self.workdir / "prometheus", {PROMETHEUS_JOBS[env]: url for env, url in urls.items()})
        self.progress(f"Prometheus on {self.prometheus.url}, scraping the simulators every 1 s")

    def _simulator(self, seed: int, region: str, cluster) -> Simulator:
        from .aws import BUCKET

        return Simulator(database_dsn=self.db.dsn(), redis_url=self.cache.url,
                         s3_url=f"{self.aws.endpoint_url}/{BUCKET}", seed=seed, region=region,
                         database_source=secret_dsn(cluster, self.names),
                         ready_source=ready_pods(cluster))

    def _wire_velero_storage(self) -> None:
        put = velero_bucket_writer(self.aws)
        for cluster in (self.clusters.production.cluster, self.clusters.dr.cluster):
            attach_object_store(cluster, put)

    def _wire_dr_region(self) -> None:
        """Names of the databases, the DR site's starting state, moto's promotion hook."""
        db, aws = self.db, self.aws
        primary_host, _ = aws.endpoint(sandbox_aws.RDS_PRIMARY, sandbox_aws.REGION)
        replica_host, _ = aws.endpoint(sandbox_aws.RDS_DR_REPLICA, sandbox_aws.DR_REGION)
        production = Address(db.host, db.port, db.database, "production primary")
        self.names.user = db.user
        self.names.add(PRIMARY_SERVICE_HOST, production)
        self.names.add(primary_host, production)
        self.names.add(RECOVERY_SERVICE_HOST, Address(db.host, db.port, db.recovery_database,
                                                      "PITR recovery database"))
        if self.dr_db is not None:
            self.names.add(replica_host, Address(self.dr_db.host, self.dr_db.port,
                                                 self.dr_db.database, "DR replica"))
        prepare_dr_cluster(self.clusters.dr.cluster, primary_host)
        self.dr_region = DrRegion(aws, self.dr_db, self._loop)
        install_hooks(aws, self.dr_region.on_promote)

    async def _pg_dump(self) -> bytes:
        db = self.db
        proc = await asyncio.create_subprocess_exec(
            db.program("pg_dump"), "-Fc", "-h", db.host, "-p", str(db.port), "-U", db.user,
            "-d", db.database, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {err.decode(errors='replace').strip()}")
        return out

    # ---- scenarios ---------------------------------------------------------------------
    async def switch(self, name: str) -> None:
        """Undo the current scenario and apply ``name`` (one switch at a time)."""
        target = scenarios.get(name)
        async with self._switch_lock:
            current = scenarios.get(self.scenario)
            self.progress(f"scenario: {current.name} -> {target.name}")
            await current.revert(self)
            await scenarios.set_logs(self, None)
            self.scenario = "healthy"
            try:
                await target.apply(self)
                await scenarios.set_logs(self, target)  # the incident in the pods' logs
            except BaseException:
                with contextlib.suppress(Exception):
                    await target.revert(self)
                raise
            self.scenario = target.name

    # ---- information -------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What a caller needs: the config, the control API, ports, modes, timings."""
        return {
            "event": "ready", "id": self.id, "pid": os.getpid(),
            "config": str(self.config_path), "workdir": str(self.workdir),
            "control_url": self.control.url if self.control else None,
            "control_token": self.control.token if self.control else None,
            "scenario": self.scenario, "speed": self.speed,
            "postgres": {"mode": self.db.mode, "port": self.db.port, "dsn": self.db.dsn()},
            "redis": {"mode": self.cache.mode, "port": self.cache.port, "url": self.cache.url},
            "kubernetes": {ctx: s.url for ctx, s in self.clusters.servers.items()},
            "service": {"sandbox": self.simulator.base_url,
                        "sandbox-dr": self.dr_simulator.base_url},
            # with this token, X-Sandbox-Client-Address names the client (ingress_gate.py)
            "service_client_token": self.client_token,
            "aws": self.aws.endpoint_url, "timings": self.timings,
            "front_door": self.front_door.url if self.front_door else None,
            "postgres_dr": ({"port": self.dr_db.port, "dsn": self.dr_db.dsn()}
                            if self.dr_db else None),
            "webhooks": self.webhooks.base_url if self.webhooks else None,
            # the database host names the clusters' secrets use -> where they really are
            "databases": {PRIMARY_HOST: self.db.dsn(),
                          **{host: self.names.dsn(host) for host in self.names.hosts}},
            "prometheus": self.prometheus.url if self.prometheus else None,
            "prometheus_note": self.prometheus_note,
            "pg_stat_statements": self.db.statements_note or "available",
        }

    def sidecar_path(self) -> Path | None:
        return self.config_path.with_name(self.config_path.name + ".sandbox.json") \
            if self.config_path else None

    def _write_sidecar(self) -> None:
        path = self.sidecar_path()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(self.describe(), fh, indent=2)

    # ---- stop --------------------------------------------------------------------------
    async def stop(self) -> None:
        """Stop everything that was started, in reverse order; never raises."""
        steps = [
            ("control", self.control and self.control.stop),
            ("webhooks", self.webhooks and self.webhooks.stop),
            ("service tls", self.service_tls and self.service_tls.stop),
            ("scenario", self._revert_scenario),
            ("front door", self.front_door and self.front_door.stop),
            ("dr region", self.dr_region and self.dr_region.stop),
            ("simulator", self.simulator and self.simulator.stop),
            ("dr simulator", self.dr_simulator and self.dr_simulator.stop),
            ("prometheus", self.prometheus and self.prometheus.stop),
            ("kubernetes", self.clusters and self.clusters.stop),
            ("redis", self.cache and self.cache.stop),
            ("postgres dr", self.dr_db and self.dr_db.stop),
            ("postgres", self.db and self.db.stop),
        ]
        for name, step in steps:
            if step:
                try:
                    await asyncio.wait_for(step(), 30)
                except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                    log.warning("stopping %s failed: %s", name, exc)
        if self.aws is not None:
            await asyncio.to_thread(self.aws.stop)
        if self.early is not None:  # stopped before moto's start took the child over
            await asyncio.to_thread(end_child, self.early.moto)
            self.early = None
        self.control = self.simulator = self.dr_simulator = self.clusters = None
        self.front_door = self.dr_region = self.dr_db = None
        self.webhooks = None
        self.service_tls = None
        self.prometheus = None
        self.cache = self.db = self.aws = None
        sidecar = self.sidecar_path()
        if sidecar is not None:
            for leftover in (sidecar, self.config_path.with_name(self.config_path.name + ".secrets")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def _revert_scenario(self) -> None:
        if self.db is None:
            return
        with contextlib.suppress(Exception):
            await scenarios.get(self.scenario).revert(self)
        self.scenario = "healthy"
