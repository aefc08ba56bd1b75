"""The sandbox's PostgreSQL: the machine's own server when one answers, else an embedded one.

``MCP_OPS_SANDBOX_PG`` chooses: unset or ``auto`` probes 127.0.0.1:5432; ``HOST:PORT``
probes that address instead; ``embedded`` skips the probe. When nothing answers (or a
server answers but will not let us in), the sandbox runs its own server from the binaries
that the ``pgserver`` wheel ships, on 127.0.0.1 and a free port, with its data in the
sandbox's temporary directory.

On a shared local server each sandbox gets its own database,
``pratiko_mcp_production_<host>_<pid>_<id>`` (see ``leftovers.py``),
so two sandboxes side by side never see each other's rows; the pods' ``psql`` and
``pg_restore`` still say ``pratiko_mcp_production`` (the exec handlers translate, see
``db_exec.py``). On stop, the database is dropped (shared server) or the embedded server is
shut down (its data goes with the temporary directory).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .embedded_postgres import pgserver_bin_dir, start_embedded
from .leftovers import database_name, orphaned_databases
from .local_process import (
    LOCALHOST,
    ChildProcess,
    parse_host_port,
    port_answers,
)

MODE_ENV = "MCP_OPS_SANDBOX_PG"
RUNBOOK_DATABASE = "pratiko_mcp_production"
EMBEDDED_MAX_CONNECTIONS = 60  # small: the exhaustion scenario really opens 90% of it

SEED_SQL = """
CREATE TABLE accounts (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    plan        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE critical_table (
    id          bigserial PRIMARY KEY,
    account_id  int NOT NULL REFERENCES accounts(id),
    kind        text NOT NULL,
    amount      numeric(12, 2) NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE tool_calls (
    id          bigserial PRIMARY KEY,
    account_id  int NOT NULL REFERENCES accounts(id),
    tool        text NOT NULL,
    status      text NOT NULL,
    duration_ms int NOT NULL,
    called_at   timestamptz NOT NULL
);
CREATE INDEX tool_calls_called_at ON tool_calls (called_at);
CREATE TABLE api_keys (
    id          serial PRIMARY KEY,
    account_id  int NOT NULL REFERENCES accounts(id),
    prefix      text NOT NULL UNIQUE,
    revoked     boolean NOT NULL DEFAULT false
);
INSERT INTO accounts (name, plan)
    SELECT 'account-' || g, (ARRAY['free', 'team', 'enterprise'])[1 + g % 3]
    FROM generate_series(1, 200) AS g;
INSERT INTO critical_table (account_id, kind, amount, updated_at)
    SELECT 1 + g % 200, (ARRAY['invoice', 'credit', 'refund'])[1 + g % 3],
           round((g * 7.31) % 5000, 2), now() - make_interval(mins => g)
    FROM generate_series(1, 1000) AS g;
INSERT INTO tool_calls (account_id, tool, status, duration_ms, called_at)
    SELECT 1 + g % 200, (ARRAY['search', 'fetch', 'summarise', 'translate'])[1 + g % 4],
           CASE WHEN g % 97 = 0 THEN 'error' ELSE 'ok' END, 20 + (g * 13) % 400,
           now() - make_interval(secs => g * 3)
    FROM generate_series(1, 5000) AS g;
INSERT INTO api_keys (account_id, prefix)
    SELECT g, 'pk_' || lpad(g::text, 6, '0') FROM generate_series(1, 200) AS g;
ANALYZE;
"""


@dataclass
class SandboxDatabase:
    """Where the sandbox database lives and how to reach it."""

    mode: str  # "local" (a server that was already running) or "embedded"
    host: str
    port: int
    user: str
    database: str  # the real name (pratiko_mcp_production_<id> on a shared server)
    bin_dir: Path | None  # psql, pg_dump, pg_restore matching the server
    max_connections: int = 100
    server: ChildProcess | None = None
    note: str = ""  # why this server was chosen (shown in the sandbox's progress)
    own_dir: Path | None = None  # data kept outside the sandbox's directory, removed on stop
    statements_note: str = ""  # why pg_stat_statements is not available ("" = it is)

    @property
    def recovery_database(self) -> str:
        """An empty database standing in for the runbook's fresh "postgres-recovery" pod,
        so a point-in-time-recovery rehearsal restores into nothing, as it would."""
        return f"{self.database}_recovery"

    def dsn(self, database: str | None = None) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database or self.database}"

    def program(self, name: str) -> str:
        """The client program ``name`` to run against this server."""
        if self.bin_dir is not None and (self.bin_dir / name).exists():
            return str(self.bin_dir / name)
        return shutil.which(name) or name

    async def connect(self, **kwargs) -> asyncpg.Connection:
        return await asyncpg.connect(self.dsn(), timeout=15, **kwargs)

    async def stop(self) -> None:
        """Drop our database from a shared server, or shut the embedded server down."""
        if self.mode == "local":
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(self.dsn("postgres"), timeout=15)
                try:
                    for name in (self.database, self.recovery_database):
                        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()
        if self.server is not None:
            await self.server.stop(grace=10)
        if self.own_dir is not None:
            shutil.rmtree(self.own_dir, ignore_errors=True)


Found = tuple["SandboxDatabase | None", str]


async def find_local(sandbox_id: str) -> Found:
    """The local server (with a fresh database for this sandbox) when one answers and lets
    us in, else (None, why not). Quick; the platform asks before it starts anything that
    keeps the event loop busy, so a slow start-up cannot time the probe out."""
    choice = os.environ.get(MODE_ENV, "auto").strip() or "auto"
    if choice == "embedded":
        return None, f"{MODE_ENV}=embedded"
    host, port = parse_host_port("" if choice == "auto" else choice, 5432)
    return await _try_local(host, port, database_name(RUNBOOK_DATABASE, sandbox_id[:6]))


async def start_database(workdir: Path, sandbox_id: str, found: Found | None = None) -> SandboxDatabase:
    """A seeded sandbox database, on the local server or an embedded one."""
    db, why = found if found is not None else await find_local(sandbox_id)
    if db is None:
        db = await _start_embedded(workdir)
        db.note = why
    try:
        await _seed(db)
    except BaseException:
        await db.stop()
        raise
    return db


async def _try_local(host: str, port: int, name: str) -> tuple[SandboxDatabase | None, str]:
    """The local server at host:port with a fresh database ``name``, or (None, why not)."""
    if not await port_answers(host, port, timeout=2):
        return None, f"nothing answers on {host}:{port}"
    user = os.environ.get("PGUSER") or "postgres"
    try:
        conn = await asyncpg.connect(f"postgresql://{user}@{host}:{port}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        # answers but will not let us in (password, no such role, full): not ours to use
        return None, f"{host}:{port} refused us ({type(exc).__name__}: {exc})"
    try:
        max_connections = int(await conn.fetchval("SELECT current_setting('max_connections')"))
        existing = [r[0] for r in await conn.fetch("SELECT datname FROM pg_database")]
        for orphan in orphaned_databases(existing):  # of sandboxes that were killed
            await conn.execute(f'DROP DATABASE IF EXISTS "{orphan}" WITH (FORCE)')
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    local_bin = shutil.which("pg_dump")
    return SandboxDatabase("local", host, port, user, name,
                           Path(local_bin).parent if local_bin else pgserver_bin_dir(),
                           max_connections=max_connections,
                           note=f"the server on {host}:{port}, database {name}"), ""


async def _start_embedded(workdir: Path) -> SandboxDatabase:
    server = await start_embedded(workdir, max_connections=EMBEDDED_MAX_CONNECTIONS,
                                  preload=("pg_stat_statements",))
    db = SandboxDatabase("embedded", LOCALHOST, server.port, "postgres", RUNBOOK_DATABASE,
                         server.bin_dir, max_connections=EMBEDDED_MAX_CONNECTIONS,
                         server=server.process, own_dir=server.own_dir)
    try:
        conn = await asyncpg.connect(db.dsn("postgres"), timeout=15)
        try:
            await conn.execute(f'CREATE DATABASE "{RUNBOOK_DATABASE}"')
        finally:
            await conn.close()
    except BaseException:
        await db.stop()
        raise
    return db


async def _seed(db: SandboxDatabase) -> None:
    admin = await asyncpg.connect(db.dsn("postgres"), timeout=15)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db.recovery_database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{db.recovery_database}"')
    finally:
        await admin.close()
    conn = await db.connect()
    try:
        await conn.execute(SEED_SQL)
        db.statements_note = await enable_statements(conn)
    finally:
        await conn.close()


async def enable_statements(conn: asyncpg.Connection) -> str:
    """``CREATE EXTENSION pg_stat_statements`` where the server preloads it; otherwise why
    it is not available (a shared local server is not restarted with other settings)."""
    preload = await conn.fetchval("SELECT current_setting('shared_preload_libraries')")
    if "pg_stat_statements" not in (preload or ""):
        return ("pg_stat_statements is not in this server's shared_preload_libraries "
                f"({preload or 'empty'})")
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    except asyncpg.PostgresError as exc:
        return f"CREATE EXTENSION pg_stat_statements failed: {exc}"
    return ""
