"""The sandbox's PostgreSQL: the machine's own server when one answers, else an embedded one.

``MCP_OPS_SANDBOX_PG`` chooses: unset or ``auto`` probes 127.0.0.1:5432; ``HOST:PORT``
probes that address instead; ``embedded`` skips the probe. When nothing answers (or a
server answers but will not let us in), the sandbox runs its own server from the binaries
that the ``pgserver`` wheel ships, on 127.0.0.1 and a free port, with its data in the
sandbox's temporary directory.

On a shared local server each sandbox gets its own database, ``pratiko_mcp_production_<id>``,
so two sandboxes side by side never see each other's rows; the pods' ``psql`` and
``pg_restore`` still say ``pratiko_mcp_production`` (the exec handlers translate, see
``db_exec.py``). On stop, the database is dropped (shared server) or the embedded server is
shut down (its data goes with the temporary directory).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .local_process import (
    LOCALHOST,
    ChildProcess,
    free_port,
    hand_over,
    parse_host_port,
    port_answers,
    start_child,
    unprivileged_user,
    wait_until,
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
        return await asyncpg.connect(self.dsn(), timeout=5, **kwargs)

    async def stop(self) -> None:
        """Drop our database from a shared server, or shut the embedded server down."""
        if self.mode == "local":
            with contextlib.suppress(Exception):
                conn = await asyncpg.connect(self.dsn("postgres"), timeout=5)
                try:
                    for name in (self.database, self.recovery_database):
                        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                finally:
                    await conn.close()
        if self.server is not None:
            await self.server.stop(grace=10)
        if self.own_dir is not None:
            shutil.rmtree(self.own_dir, ignore_errors=True)


def pgserver_bin_dir() -> Path | None:
    """The bin directory of the ``pgserver`` wheel, found without importing it (importing
    it takes a lock file and registers exit handlers we do not want)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


Found = tuple["SandboxDatabase | None", str]


async def find_local(sandbox_id: str) -> Found:
    """The local server (with a fresh database for this sandbox) when one answers and lets
    us in, else (None, why not). Quick; the platform asks before it starts anything that
    keeps the event loop busy, so a slow start-up cannot time the probe out."""
    choice = os.environ.get(MODE_ENV, "auto").strip() or "auto"
    if choice == "embedded":
        return None, f"{MODE_ENV}=embedded"
    host, port = parse_host_port("" if choice == "auto" else choice, 5432)
    return await _try_local(host, port, f"{RUNBOOK_DATABASE}_{sandbox_id}")


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
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    local_bin = shutil.which("pg_dump")
    return SandboxDatabase("local", host, port, user, name,
                           Path(local_bin).parent if local_bin else pgserver_bin_dir(),
                           max_connections=max_connections,
                           note=f"the server on {host}:{port}, database {name}"), ""


def reachable_by(path: Path, user: str) -> bool:
    """Whether ``user`` may enter every directory above ``path`` (PostgreSQL needs to reach
    its data directory, which we then hand over to it)."""
    entry = pwd.getpwnam(user)
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_mode & stat.S_IXOTH:
            continue
        if st.st_uid == entry.pw_uid and st.st_mode & stat.S_IXUSR:
            continue
        if st.st_gid == entry.pw_gid and st.st_mode & stat.S_IXGRP:
            continue
        return False
    return True


def _shared_tmp() -> str:
    for candidate in ("/tmp", "/var/tmp", "/dev/shm"):
        if os.path.isdir(candidate) and os.stat(candidate).st_mode & stat.S_IXOTH:
            return candidate
    raise RuntimeError("no world-accessible temporary directory for the embedded PostgreSQL")


async def _start_embedded(workdir: Path) -> SandboxDatabase:
    bin_dir = pgserver_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL answers and pgserver is not installed "
                           "(pip install 'mcp-ops[sandbox]')")
    user = unprivileged_user()
    base, own_dir, bin_dir = _server_home(workdir, bin_dir, user)
    try:
        return await _run_embedded(workdir, base, bin_dir, user, own_dir)
    except BaseException:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
        raise


def _server_home(workdir: Path, bin_dir: Path, user: str | None) -> tuple[Path, Path | None, Path]:
    """Where the embedded server keeps its data, a directory of its own to remove on stop
    (or None), and the binaries it runs from.

    Running as root, the server runs as an unprivileged account, which must be able to
    reach both its data and its binaries. When TMPDIR or the virtual environment sit inside
    a private directory (root's home, a test's tmp dir), they are placed in a private
    directory under the world-reachable /tmp instead (the binaries are copied there)."""
    if user is None or (reachable_by(workdir, user) and reachable_by(bin_dir / "postgres", user)):
        base = workdir / "postgres"
        base.mkdir()
        if user is not None:
            workdir.chmod(0o711)  # the server's account must reach its directory, not list ours
        hand_over(base, user)
        return base, None, bin_dir
    own_dir = Path(tempfile.mkdtemp(prefix="mcp-ops-sandbox-pg-", dir=_shared_tmp()))
    hand_over(own_dir, user)
    base = own_dir / "postgres"
    base.mkdir()
    hand_over(base, user)
    if not reachable_by(bin_dir / "postgres", user):
        # the same layout as in site-packages: the binaries find their libraries through
        # the relative rpath $ORIGIN/../../../pgserver.libs
        site = bin_dir.parents[2]
        copy = own_dir / "site"
        for part in ("bin", "lib", "share"):
            shutil.copytree(bin_dir.parent / part, copy / "pgserver" / "pginstall" / part,
                            symlinks=True)
        if (site / "pgserver.libs").is_dir():
            shutil.copytree(site / "pgserver.libs", copy / "pgserver.libs", symlinks=True)
        bin_dir = copy / "pgserver" / "pginstall" / "bin"
    return base, own_dir, bin_dir


async def _run_embedded(workdir: Path, base: Path, bin_dir: Path, user: str | None,
                        own_dir: Path | None) -> SandboxDatabase:
    data = base / "data"
    initdb = await start_child(
        "initdb", [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                   "-E", "UTF8", "--no-sync", "--no-instructions"],
        log_path=workdir / "initdb.log", user=user)
    if await initdb.process.wait() != 0:
        raise RuntimeError(f"initdb failed:\n{initdb.log_tail()}")
    for _attempt in range(3):
        port = free_port()
        server = await start_child(
            "postgres", [str(bin_dir / "postgres"), "-D", str(data), "-h", LOCALHOST,
                         "-p", str(port), "-k", str(base),
                         "-c", f"max_connections={EMBEDDED_MAX_CONNECTIONS}",
                         "-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off", "-c", "shared_buffers=32MB"],
            log_path=workdir / "postgres.log", user=user, stop_signal=signal.SIGINT)
        db = SandboxDatabase("embedded", LOCALHOST, port, "postgres", RUNBOOK_DATABASE, bin_dir,
                             max_connections=EMBEDDED_MAX_CONNECTIONS, server=server,
                             own_dir=own_dir)
        try:
            await wait_until(lambda db=db, server=server: _accepts(db, server), timeout=20,
                             what="embedded PostgreSQL")
        except TimeoutError:
            await server.stop(grace=2)
            continue  # most likely someone took the port between our probe and its bind
        if not server.running:
            continue
        conn = await asyncpg.connect(db.dsn("postgres"), timeout=5)
        try:
            await conn.execute(f'CREATE DATABASE "{RUNBOOK_DATABASE}"')
        finally:
            await conn.close()
        return db
    raise RuntimeError(f"embedded PostgreSQL did not start:\n{server.log_tail()}")


async def _accepts(db: SandboxDatabase, server: ChildProcess) -> bool:
    if not server.running:
        raise TimeoutError("postgres exited")
    try:
        conn = await asyncpg.connect(db.dsn("postgres"), timeout=1)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def _seed(db: SandboxDatabase) -> None:
    admin = await asyncpg.connect(db.dsn("postgres"), timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db.recovery_database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{db.recovery_database}"')
    finally:
        await admin.close()
    conn = await db.connect()
    try:
        await conn.execute(SEED_SQL)
    finally:
        await conn.close()
