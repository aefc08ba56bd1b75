"""The PostgreSQL and Redis servers the tests talk to.

In a plain ``pytest`` process they are the machine's: PostgreSQL on 127.0.0.1:5432 (trust,
databases ``test`` and ``postgres``) and Redis on 127.0.0.1:6379. Under pytest-xdist
(``./dev test`` runs the whole suite on several workers), each worker starts a private pair
from the same binaries before it imports any test (:func:`start_for_worker`, called from
``conftest.pytest_configure``), so a test that reads server-wide figures — sessions, locks,
keyspace hits, evictions — never sees another worker's load, and a test that takes a server
down takes down only its own worker's.

Tests name the servers only through this module: ``PG_PORT``/``REDIS_PORT``, ``pg_dsn()``,
``redis_url()``, ``PG_HOSTPORT``. The ports come from the environment the worker set, so
programs a test starts (``mcp-ops`` children, ``psql`` with ``pg_args()``) find them too.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sandbox.embedded_postgres import local_bin_dir
from sandbox.local_process import free_port, unprivileged_user

HOST = "127.0.0.1"
PG_PORT_ENV, REDIS_PORT_ENV = "MCP_OPS_TEST_PG_PORT", "MCP_OPS_TEST_REDIS_PORT"

PG_PORT = int(os.environ.get(PG_PORT_ENV) or 5432)
REDIS_PORT = int(os.environ.get(REDIS_PORT_ENV) or 6379)
PG_HOSTPORT = f"{HOST}:{PG_PORT}"
REDIS_HOSTPORT = f"{HOST}:{REDIS_PORT}"


def pg_dsn(database: str = "test", user: str = "postgres") -> str:
    return f"postgresql://{user}@{PG_HOSTPORT}/{database}"


def redis_url(db: int = 0, user: str | None = None) -> str:
    return f"redis://{user + '@' if user else ''}{REDIS_HOSTPORT}/{db}"


def pg_args() -> list[str]:
    """``-h``/``-p`` for a libpq program (psql, pg_dump, pg_restore) started by a test."""
    return ["-h", HOST, "-p", str(PG_PORT)]


@dataclass
class PrivateServers:
    """One worker's own PostgreSQL and Redis, stopped at the end of its session."""

    base: Path
    postgres: subprocess.Popen
    redis: subprocess.Popen
    pg_port: int
    redis_port: int

    def stop(self) -> None:
        if self.postgres.returncode is not None and not self.base.exists():
            return
        # SIGINT is PostgreSQL's "fast" shutdown; Redis saves nothing (--save "")
        for proc, sig in ((self.postgres, signal.SIGINT), (self.redis, signal.SIGTERM)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        for proc in (self.postgres, self.redis):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.base, ignore_errors=True)



def _die_with_parent():
    """A pre-exec hook: the server gets SIGKILL when the worker dies, however it dies."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        os.setsid()
        prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG

    return preexec



def _wait(check, what: str, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start within {timeout:.0f} s; its log: {log}\n"
                       + (log.read_text(errors="replace")[-2000:] if log.exists() else ""))


def start_private(worker: str) -> PrivateServers:
    """initdb + postgres (as an unprivileged account when we are root: PostgreSQL refuses
    root) and a redis-server, on free ports, configured like the machine's: trust auth,
    databases ``test`` and ``root``, C.UTF-8, 100 connections; Redis without persistence."""
    user = unprivileged_user()
    _sweep_leftovers()
    base = Path(tempfile.mkdtemp(prefix=f"{LEFTOVER_PREFIX}{os.getpid()}-{worker}-", dir="/tmp"))
    os.chmod(base, 0o755)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    bin_dir = local_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server binaries (initdb, postgres) on this machine: "
                           "install postgresql, or run the suite in one process")
    data, pg_log = base / "data", base / "postgres.log"
    subprocess.run([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "--locale=C.UTF-8", "--encoding=UTF8", "--no-sync"],
                   user=user, check=True, capture_output=True, cwd=base)
    pg_port, redis_port = free_port(), free_port()
    with open(pg_log, "wb") as out:
        postgres = subprocess.Popen(
            [str(bin_dir / "postgres"), "-D", str(data), "-h", HOST, "-p", str(pg_port),
             "-k", str(base), "-c", "fsync=off", "-c", "full_page_writes=off",
             "-c", "synchronous_commit=off"],
            user=user, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent(),
            cwd=base)
    redis_log = base / "redis.log"
    redis = subprocess.Popen(
        ["redis-server", "--bind", HOST, "--port", str(redis_port), "--save", "",
         "--appendonly", "no", "--dir", str(base), "--logfile", str(redis_log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent())
    servers = PrivateServers(base, postgres, redis, pg_port, redis_port)
    try:
        _wait(lambda: subprocess.run(["pg_isready", "-q", "-h", HOST, "-p", str(pg_port)]
                                     ).returncode == 0, "PostgreSQL", pg_log)
        for name in ("test", "root"):
            subprocess.run(["createdb", "-h", HOST, "-p", str(pg_port), "-U", "postgres", name],
                           check=True, capture_output=True)
        _wait(lambda: subprocess.run(["redis-cli", "-h", HOST, "-p", str(redis_port), "ping"],
                                     capture_output=True).stdout.strip() == b"PONG",
              "Redis", redis_log)
    except BaseException:
        servers.stop()
        raise
    return servers


LEFTOVER_PREFIX = "mcp-ops-tests-"


def _sweep_leftovers() -> None:
    """Remove the folders of workers that died without stopping their servers (their
    servers died with them: PR_SET_PDEATHSIG)."""
    for folder in Path("/tmp").glob(f"{LEFTOVER_PREFIX}*"):
        pid = folder.name[len(LEFTOVER_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)



def start_for_worker(worker: str) -> PrivateServers:
    """Start this worker's servers and point ``PG_PORT``/``REDIS_PORT`` (and every program
    the tests start) at them."""
    servers = start_private(worker)
    # and its own TMPDIR: a sandbox sweeps the folders of killed sandboxes under TMPDIR,
    # and must not take another worker's killed sandbox for one of its own
    own_tmp = servers.base / "tmp"
    own_tmp.mkdir(mode=0o1777)
    os.chmod(own_tmp, 0o1777)
    os.environ["TMPDIR"] = str(own_tmp)
    tempfile.tempdir = None  # gettempdir() reads TMPDIR again
    atexit.register(servers.stop)  # pytest_unconfigure stops them first; this is the backstop
    os.environ[PG_PORT_ENV] = str(servers.pg_port)
    os.environ[REDIS_PORT_ENV] = str(servers.redis_port)
    global PG_PORT, REDIS_PORT, PG_HOSTPORT, REDIS_HOSTPORT
    PG_PORT, REDIS_PORT = servers.pg_port, servers.redis_port
    PG_HOSTPORT, REDIS_HOSTPORT = f"{HOST}:{PG_PORT}", f"{HOST}:{REDIS_PORT}"
    return servers
