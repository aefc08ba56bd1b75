"""An embedded PostgreSQL for machines without one: the server binaries that the
``pgserver`` wheel ships, run directly (not through pgserver's own manager, which keeps
lock files and exit handlers of its own) so that the sandbox owns the process: 127.0.0.1
and a free port, its data in the sandbox's temporary directory, stopped with a "fast"
shutdown and killed if it does not go.

PostgreSQL refuses to run as root; as root the server runs as an unprivileged account,
which must be able to reach its data and its binaries (see :func:`_server_home`).
"""

from __future__ import annotations

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

from .leftovers import mark_owner
from .local_process import (
    LOCALHOST,
    ChildProcess,
    free_port,
    hand_over,
    start_child,
    unprivileged_user,
    wait_until,
)


@dataclass
class EmbeddedServer:
    port: int
    bin_dir: Path  # initdb, postgres, psql, pg_dump, pg_restore of the same version
    process: ChildProcess
    own_dir: Path | None  # data kept outside the sandbox's directory (remove after stop)


def pgserver_bin_dir() -> Path | None:
    """The bin directory of the ``pgserver`` wheel, found without importing it (importing
    it takes a lock file and registers exit handlers we do not want)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return path if (path / "postgres").exists() else None


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


def has_library(bin_dir: Path, name: str) -> bool:
    """Whether the server of ``bin_dir`` ships the loadable module ``name`` (pgserver's wheel
    leaves out most of contrib, pg_stat_statements among them)."""
    return any((bin_dir.parent / "lib" / sub / f"{name}.so").exists()
               for sub in ("postgresql", "."))


async def start_embedded(workdir: Path, *, max_connections: int,
                         preload: tuple[str, ...] = (),
                         bin_dir: Path | None = None) -> EmbeddedServer:
    """initdb and start a server from pgserver's binaries (or those of ``bin_dir``), on
    127.0.0.1 and a free port; the libraries of ``preload`` it ships go in
    shared_preload_libraries."""
    bin_dir = bin_dir or pgserver_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL answers and pgserver is not installed "
                           "(pip install 'mcp-ops[sandbox]')")
    user = unprivileged_user()
    base, own_dir, bin_dir = _server_home(workdir, bin_dir, user)
    try:
        libraries = [name for name in preload if has_library(bin_dir, name)]
        return await _run(workdir, base, bin_dir, user, own_dir, max_connections, libraries)
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
    mark_owner(own_dir)
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


async def _run(workdir: Path, base: Path, bin_dir: Path, user: str | None,
               own_dir: Path | None, max_connections: int,
               preload: list[str] | None = None) -> EmbeddedServer:
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
                         "-c", f"max_connections={max_connections}",
                         "-c", "fsync=off", "-c", "synchronous_commit=off",
                         "-c", "full_page_writes=off", "-c", "shared_buffers=32MB",
                         *(["-c", f"shared_preload_libraries={','.join(preload)}"]
                           if preload else [])],
            log_path=workdir / "postgres.log", user=user, stop_signal=signal.SIGINT)
        dsn = f"postgresql://postgres@{LOCALHOST}:{port}/postgres"
        try:
            await wait_until(lambda dsn=dsn, server=server: _accepts(dsn, server), timeout=20,
                             what="embedded PostgreSQL")
        except TimeoutError:
            await server.stop(grace=2)
            continue  # most likely someone took the port between our probe and its bind
        if not server.running:
            continue
        return EmbeddedServer(port, bin_dir, server, own_dir)
    raise RuntimeError(f"embedded PostgreSQL did not start:\n{server.log_tail()}")


async def _accepts(dsn: str, server: ChildProcess) -> bool:
    if not server.running:
        raise TimeoutError("postgres exited")
    try:
        conn = await asyncpg.connect(dsn, timeout=1)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True
