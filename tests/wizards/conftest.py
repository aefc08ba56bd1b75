"""Fixtures for the backup and recovery wizards: the real parts they act on.

- ``pg``: two fresh databases on the real PostgreSQL (tests/servers.py, trust): the
  "production" one with ``critical_table`` seeded with ``ROWS`` rows, and an empty one that
  stands for the fresh ``postgres-recovery`` instance; plus a real ``pg_dump -Fc`` of the
  production one.
- ``moto``: moto in server mode with the backup bucket holding dated dumps (the newest is
  the real dump).
- ``sandbox``: one ``mcp-ops sandbox serve`` child (session-wide) for the end-to-end runs
  through ``mcp-ops run`` (``sandbox_cli``, ``sandbox_switch``).
- ``world``: the Kubernetes emulator (seeded production world, own event loop = the
  test's) whose ``postgres-recovery`` pod runs the real pg_restore/psql/pg_isready against
  the recovery database — through the sandbox's own exec handler — and a config file for
  all of it, with the MCP-server simulator as the service.

``drive(world, wizard_id, ...)`` runs a wizard through :class:`WizardRun` exactly as
``mcp-ops run`` does (same executor, confirmations, session log) and returns what it saw.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import servers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kube"))

from kube_support import Emulator, start_emulator  # noqa: E402

PG_ADMIN = f"postgresql://postgres@{servers.PG_HOSTPORT}/postgres"
ROWS = 1234
BUCKET, PREFIX = "pratiko-backups", "production/postgres/"
AWS_ENV = {"WZ_BACKUP_AWS_KEY": "testing-key", "WZ_BACKUP_AWS_SECRET": "testing-secret"}
SEED = f"""
CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE critical_table (
    id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id),
    amount numeric(12, 2) NOT NULL);
INSERT INTO accounts (name) SELECT 'account-' || g FROM generate_series(1, 20) AS g;
INSERT INTO critical_table (account_id, amount)
    SELECT 1 + g % 20, (g * 7.31)::numeric(12, 2) FROM generate_series(1, {ROWS}) AS g;
"""


@dataclass
class Databases:
    production: str
    recovery: str
    dump: bytes

    def dsn(self, name: str) -> str:
        return f"postgresql://postgres@{servers.PG_HOSTPORT}/{name}"

    async def count(self, name: str, table: str = "critical_table") -> int | None:
        conn = await asyncpg.connect(self.dsn(name), timeout=5)
        try:
            exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            return await conn.fetchval(f"SELECT count(*) FROM {table}") if exists else None
        finally:
            await conn.close()


@pytest.fixture
async def pg():
    suffix = uuid.uuid4().hex[:8]
    names = Databases(f"wz_pitr_{suffix}", f"wz_pitr_{suffix}_recovery", b"")
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        for name in (names.production, names.recovery):
            await admin.execute(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(names.dsn(names.production), timeout=5)
        try:
            await conn.execute(SEED)
        finally:
            await conn.close()
        dump = await asyncio.create_subprocess_exec(
            "pg_dump", "-Fc", *servers.pg_args(), "-U", "postgres", "-d", names.production,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await dump.communicate()
        assert dump.returncode == 0, err
        names.dump = out
        yield names
    finally:
        for name in (names.production, names.recovery):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Moto:
    endpoint: str
    keys: list[str] = field(default_factory=list)

    def client(self):
        import boto3

        return boto3.client("s3", region_name="eu-west-1", endpoint_url=self.endpoint,
                            aws_access_key_id="testing-key",
                            aws_secret_access_key="testing-secret")

    def put(self, key: str, body: bytes) -> None:
        self.client().put_object(Bucket=BUCKET, Key=key, Body=body)


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_server, pg):
    """A fresh bucket (moto's state is reset) with three dated dumps, newest = real dump."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    m = Moto(moto_server)
    m.client().create_bucket(Bucket=BUCKET, CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    today = datetime.now(UTC)
    for days_ago in (2, 1, 0):
        key = f"{PREFIX}{today - timedelta(days=days_ago):%Y%m%d}.dump"
        m.put(key, pg.dump)
        m.keys.append(key)
    return m


@dataclass
class World:
    emulator: Emulator
    pg: Databases
    moto: Moto
    config_path: Path
    tmp: Path

    @property
    def store(self):
        return self.emulator.store

    @property
    def cluster(self):
        return self.emulator.cluster

    def config(self):
        from console.config import load_file

        return load_file(self.config_path)

    def set_thresholds(self, **values: float) -> None:
        """Override thresholds of the sandbox environment in the world's config."""
        pairs = ", ".join(f"{k}: {v}" for k, v in values.items())
        text = self.config_path.read_text()
        self.config_path.write_text(text.replace(
            "    read_only:", f"    thresholds: {{{pairs}}}\n    read_only:", 1))

    def deployment(self, name: str = "mcp-server-production") -> dict[str, Any]:
        return self.store.peek("deployments.apps", "mcp-production", name)

    def secret(self, name: str = "postgres-credentials") -> dict[str, Any] | None:
        return self.store.peek("secrets", "mcp-production", name)

    def app_pods(self) -> list[dict[str, Any]]:
        return [p for p in self.store.iter("pods", "mcp-production")
                if (p["metadata"].get("labels") or {}).get("app") == "mcp-server"]


def write_config(path: Path, *, kubeconfig: Path, service_url: str, aws_endpoint: str,
                 pg_dsn: str, read_only: bool = False) -> Path:
    path.write_text(textwrap.dedent(f"""\
        version: 1
        default_environment: sandbox
        session_log: {{directory: {path.parent}/sessions}}
        # 10 s for the health steps' sources: on a loaded 2-core machine the in-process
        # simulator can miss 3 s, which is not what any of these tests is about
        ui: {{source_timeout_seconds: 10}}
        environments:
          sandbox:
            read_only: {str(read_only).lower()}
            kubernetes: {{kubeconfig: {kubeconfig}, context: sandbox, request_timeout: 5}}
            postgres: {{dsn: "{pg_dsn}"}}
            redis: {{url: "redis://{servers.REDIS_HOSTPORT}/0"}}
            service: {{base_url: "{service_url}", timeout: 10}}
            aws:
              endpoint_url: "{aws_endpoint}"
              region: eu-west-1
              s3_backup_bucket: {BUCKET}
              s3_backup_prefix: {PREFIX}
              access_key_id_env: WZ_BACKUP_AWS_KEY
              secret_access_key_env: WZ_BACKUP_AWS_SECRET
        """))
    return path


@pytest.fixture
async def world(tmp_path, pg, moto, monkeypatch):
    from sandbox.db_exec import PodFiles, postgres_handler
    from sandbox.kube.exec_handlers import register_exec_handler
    from sandbox.kube.exec_subprocess import POSTGRES_PROGRAMS
    from sandbox.simulator import Simulator

    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("KUBECACHEDIR", str(tmp_path / "kubecache"))
    simulator = Simulator(database_dsn=pg.dsn(pg.production), redis_url=f"redis://{servers.REDIS_HOSTPORT}/0")
    await simulator.start()
    try:
        async with start_emulator(tmp_path / "emulator", speed=20) as emu:
            register_exec_handler(
                emu.cluster, postgres_handler(host="127.0.0.1", port=servers.PG_PORT, user="postgres",
                                              database=pg.recovery, bin_dir=None,
                                              files=PodFiles(tmp_path / "podfs")),
                name_prefix="postgres-recovery", commands=POSTGRES_PROGRAMS)
            monkeypatch.setenv("KUBECONFIG", str(emu.kubeconfig))
            config = write_config(tmp_path / "config.yaml", kubeconfig=emu.kubeconfig,
                                  service_url=simulator.base_url, aws_endpoint=moto.endpoint,
                                  pg_dsn=pg.dsn(pg.production))
            yield World(emu, pg, moto, config, tmp_path)
    finally:
        await simulator.stop()


class _Statuses(dict):
    def __init__(self, driven: Driven, statuses: dict[str, str]):
        super().__init__(statuses)
        self._driven = driven

    def __missing__(self, step_id: str) -> str:
        d = self._driven
        errors = {k: o.error for k, o in d.outcomes.items() if getattr(o, "error", None)}
        raise AssertionError(f"step {step_id!r} did not run; ran {dict(self)}, errors "
                             f"{errors}, input problems {d.problems}\n{d.text()}")


@dataclass
class Driven:
    run: Any
    outcomes: dict[str, Any]  # step id -> StepOutcome, in the order run
    lines: list[str]
    progress: list[Any]
    problems: list[Any]

    @property
    def path(self) -> Path:
        return self.run.log.path

    def records(self, event: str | None = None) -> list[dict[str, Any]]:
        from console.execution.log_store import read_records

        return [r for r in read_records(self.path) if event is None or r["event"] == event]

    @property
    def statuses(self) -> dict[str, str]:
        """Step id -> status; asking for a step that did not run fails with what did."""
        return _Statuses(self, {k: v.status for k, v in self.outcomes.items()})

    def text(self) -> str:
        return "\n".join(self.lines)


async def drive(world: World, wizard_id: Any, answers: dict[str, str] | None = None, *,
                read_only: bool = False, confirm: str | None = "sandbox",
                resume: Path | None = None, confirmer: Any = None) -> Driven:
    """Run a wizard (an id or a Wizard) to its end or its first stop, as ``mcp-ops run``
    does; ``confirmer`` replaces ``--confirm`` (e.g. to decline one step)."""
    from actions.catalogue import get
    from console.execution.confirmation import CommandLineConfirmer
    from console.execution.executor import OK, SKIPPED, OutputEvent, ProgressEvent
    from console.execution.session import WizardRun

    lines: list[str] = []
    progress: list[Any] = []

    def sink(event: Any) -> None:
        if isinstance(event, OutputEvent):
            lines.append(event.text)
        elif isinstance(event, ProgressEvent):
            progress.append(event.progress)

    wizard = get(wizard_id) if isinstance(wizard_id, str) else wizard_id
    kw = dict(config=world.config(), wizard=wizard, read_only=read_only,
              confirmer=confirmer or CommandLineConfirmer(confirm), sink=sink)
    if resume is not None:
        run, problems = await WizardRun.resume(resume, env_name="sandbox",
                                               answers=answers or {}, **kw)
    else:
        run = WizardRun(env_name="sandbox", **kw)
        run.start()
        problems = await run.resolve_inputs(answers or {})
    driven = Driven(run, {}, lines, progress, problems)
    if problems:
        await run.finish("refused")
        return driven
    index = run.next_index()
    status = "completed"
    while index is not None:
        step = wizard.steps[index]
        watchdog = asyncio.create_task(_report_a_stall(f"{wizard.id}: step {step.id}"))
        try:
            outcome = await run.run_step(index)
        finally:
            watchdog.cancel()
        driven.outcomes[step.id] = outcome
        if outcome.status not in (OK, SKIPPED):
            status = "failed"
            break
        index = run.next_index(index)
    await run.finish(status)
    return driven


STALL_REPORT_SECONDS = 90.0


async def _report_a_stall(what: str) -> None:
    """A step still running after ``STALL_REPORT_SECONDS``: print where every task of the
    loop waits (to stderr, which pytest shows with the failure), once. A step stalled with
    the loop idle leaves no other trace: the test's timeout only shows ``select()``."""
    await asyncio.sleep(STALL_REPORT_SECONDS)
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    print(f"\n== {what} still running after {STALL_REPORT_SECONDS:.0f}s; "
          f"{len(tasks)} tasks:", file=sys.stderr)
    for task in tasks:
        print(f"-- {task.get_name()}: " + " <- ".join(reversed(_awaiting(task.get_coro()))),
              file=sys.stderr)


def _awaiting(awaitable: Any) -> list[str]:
    """Each frame of a suspended coroutine's ``await`` chain, outermost first (printed
    innermost first; ``Task.print_stack`` shows only the outermost one)."""
    where: list[str] = []
    for _ in range(40):
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "ag_frame", None) \
            or getattr(awaitable, "gi_frame", None)
        if frame is None:
            if awaitable is not None:
                where.append(type(awaitable).__name__)
            break
        where.append(f"{frame.f_code.co_name} ({Path(frame.f_code.co_filename).name}:"
                     f"{frame.f_lineno})")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "ag_await", None) \
            or getattr(awaitable, "gi_yieldfrom", None)
    return where


async def cli(config: Path, *args: str, env: dict[str, str] | None = None,
              timeout: float = 240) -> subprocess.CompletedProcess:
    """``mcp-ops --config CONFIG ARGS`` as a child process, awaited without blocking the
    loop the in-process emulator serves from."""
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "console.cli", "--config", str(config), *args]
    child = await asyncio.create_subprocess_exec(
        *argv, cwd=root, env={**os.environ, **AWS_ENV, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(child.communicate(), timeout)
    except TimeoutError:
        child.kill()
        out, err = await child.communicate()
    return subprocess.CompletedProcess(argv, child.returncode, out.decode(), err.decode())


# ---- the sandbox, as an operator starts it --------------------------------------------
@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    """One ``mcp-ops sandbox serve`` child for the session (on its own PostgreSQL);
    tests switch it to the scenario they need first."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))
    from sandbox_support import REHEARSAL_SPEED, serving

    with serving(tmp_path_factory.mktemp("sandbox"), timeout=120, speed=REHEARSAL_SPEED) as serve:
        yield serve


def sandbox_cli(sandbox, tmp: Path, *args: str, timeout: float = 240,
                config: Path | None = None) -> subprocess.CompletedProcess:
    """``mcp-ops --config <sandbox config> ARGS`` with the sandbox's AWS placeholders and the
    session logs under ``tmp``; ``config``: another config for the same sandbox."""

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "XDG_STATE_HOME": str(tmp / "state"),
           "KUBECACHEDIR": str(tmp / "kubecache")}
    return subprocess.run([sys.executable, "-m", "console.cli", "--config",
                           str(config or sandbox.config), *args], capture_output=True, text=True,
                          cwd=root, env=env, timeout=timeout)


def sandbox_switch(sandbox, scenario: str) -> None:
    from sandbox.control import ControlAddress, switch_scenario

    address = ControlAddress(sandbox.info["control_url"], sandbox.info["control_token"])
    assert switch_scenario(address, scenario)["scenario"] == scenario


@pytest.fixture
def fresh_sandbox(tmp_path_factory):
    """A sandbox of the test's own, for a rehearsal whose findings depend on the platform's
    history (24 h of pod logs): the session's shared sandbox has seen other rehearsals'
    rollouts, whose new pods carry only minutes of log."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))
    from sandbox_support import REHEARSAL_SPEED, serving

    with serving(tmp_path_factory.mktemp("fresh-sandbox"), timeout=120,
                 speed=REHEARSAL_SPEED) as serve:
        yield serve
