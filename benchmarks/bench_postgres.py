"""PostgreSQL: what one refresh of our collector costs the server, against pg_activity,
with 50 busy pgbench clients, in the same minute on the same server.

The server is one of our own (the sandbox's embedded PostgreSQL, started here with
pg_stat_statements preloaded and planning tracked), so the shared test server is not
restarted. Our collector runs as role ``bench_ours`` at a 1 s refresh, pg_activity
``--refresh 1`` on an 80x24 pseudo-terminal as ``bench_pga``, both for the same window
while pgbench keeps 50 sessions busy; pg_stat_statements, summed by role, gives each
one's statements and server time (planning + execution) per refresh.
"""

from __future__ import annotations

import asyncio
import os
import pty
import shutil
import struct
import subprocess
import tempfile
import termios
import time
from pathlib import Path

import asyncpg
from bench_table import Row, ratio

from console.collectors.postgres import PostgresCollector
from console.config.model import PostgresSettings
from sandbox.embedded_postgres import start_embedded

CLIENTS = 50
GOAL = 0.25

SETUP = [
    "CREATE EXTENSION IF NOT EXISTS pg_stat_statements",
    "ALTER SYSTEM SET pg_stat_statements.track_planning = on",
    "SELECT pg_reload_conf()",
    "CREATE ROLE bench_ours LOGIN SUPERUSER",
    "CREATE ROLE bench_pga LOGIN SUPERUSER",
]
BY_ROLE = """
SELECT r.rolname AS role, sum(s.calls)::float8 AS calls,
       sum(s.total_exec_time + s.total_plan_time)::float8 AS ms
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
WHERE r.rolname IN ('bench_ours', 'bench_pga') GROUP BY r.rolname
"""

TOP = """
SELECT r.rolname AS role, s.calls, (s.total_exec_time + s.total_plan_time)::float8 AS ms,
       regexp_replace(s.query, '\\s+', ' ', 'g') AS query
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
WHERE r.rolname IN ('bench_ours', 'bench_pga') ORDER BY r.rolname, 3 DESC LIMIT 12
"""


def _pg_activity(port: int) -> tuple[subprocess.Popen, int]:
    primary, secondary = pty.openpty()
    termios.tcsetwinsize(secondary, (24, 80)) if hasattr(termios, "tcsetwinsize") else \
        __import__("fcntl").ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(["pg_activity", "-h", "127.0.0.1", "-p", str(port), "-U",
                             "bench_pga", "-d", "postgres", "--refresh", "1"],
                            stdin=secondary, stdout=secondary, stderr=secondary,
                            env={**os.environ, "TERM": "xterm-256color"}, start_new_session=True)
    os.close(secondary)
    return proc, primary


async def _drain(fd: int, stop: asyncio.Event) -> None:
    """Reads what pg_activity paints, so it never blocks on a full terminal."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            await loop.run_in_executor(None, _read_some, fd)
        except OSError:
            return


def _read_some(fd: int) -> None:
    import select
    if select.select([fd], [], [], 0.2)[0]:
        os.read(fd, 65536)


async def _run(opts, progress) -> list[Row]:
    window = 10.0 if opts.quick else 30.0
    what = f"PostgreSQL collector, {CLIENTS} busy sessions, 1 s refresh: server time / statements per refresh"
    goal = f"≤ {GOAL:g}× pg_activity, all sessions shown"
    if not shutil.which("pgbench"):
        return [Row.missing(what, "pgbench not installed: apt-get install postgresql-contrib", goal)]
    with tempfile.TemporaryDirectory() as tmp:
        server = await start_embedded(Path(tmp), max_connections=CLIENTS + 30,
                                      preload=("pg_stat_statements",))
        try:
            dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
            conn = await asyncpg.connect(dsn)
            for sql in SETUP:
                await conn.execute(sql)
            subprocess.run([str(server.bin_dir / "pgbench"), "-i", "-q", "-s", "1", "-h",
                            "127.0.0.1", "-p", str(server.port), "-U", "postgres", "postgres"],
                           check=True, capture_output=True)
            bench = subprocess.Popen([str(server.bin_dir / "pgbench"), "-n", "-c", str(CLIENTS),
                                      "-j", "2", "-T", str(int(window + 30)), "-h", "127.0.0.1",
                                      "-p", str(server.port), "-U", "postgres", "postgres"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 30
                while await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE "
                                          "application_name = 'pgbench'") < CLIENTS:
                    if time.monotonic() > deadline:
                        raise RuntimeError("pgbench's sessions did not all connect")
                    await asyncio.sleep(0.2)
                await conn.execute("SELECT pg_stat_statements_reset()")
                progress(f"  pgbench: {CLIENTS} clients busy; measuring {window:g} s")
                rows = await _measure(server.port, conn, window, what, goal, progress)
            finally:
                bench.terminate()
                bench.wait(30)
                await conn.close()
        finally:
            await server.process.stop(grace=5)
            if server.own_dir is not None:
                shutil.rmtree(server.own_dir, ignore_errors=True)
    return rows


async def _measure(port: int, conn, window: float, what: str, goal: str,
                   progress) -> list[Row]:
    settings = PostgresSettings(dsn=f"postgresql://bench_ours@127.0.0.1:{port}/postgres")
    collector = PostgresCollector(settings, connect_timeout=10)
    pga = fd = None
    stop = asyncio.Event()
    drain = None
    if shutil.which("pg_activity"):
        pga, fd = _pg_activity(port)
        drain = asyncio.ensure_future(_drain(fd, stop))
    started = time.monotonic()
    refreshes, sessions = 0, []
    try:
        while time.monotonic() - started < window:
            tick = time.monotonic()
            snap = await collector.collect()
            if snap.error:
                raise RuntimeError(f"collector: {snap.error}")
            refreshes += 1
            sessions.append(snap.connections)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    finally:
        await collector.close()
        if pga is not None:
            pga.terminate()
            pga.wait(10)
            stop.set()
            await drain
            os.close(fd)
    by_role = {r["role"]: r for r in await conn.fetch(BY_ROLE)}
    for r in await conn.fetch(TOP):
        progress(f"  {r['role']}: {r['calls']:>4} x {r['ms']:8.2f} ms  {r['query'][:70]!r}")
    ours = by_role.get("bench_ours")
    if ours is None:
        return [Row.missing(what, "pg_stat_statements saw nothing of ours", goal)]
    ours_ms, ours_calls = ours["ms"] / refreshes, ours["calls"] / refreshes
    text = (f"{ours_ms:.2f} ms / {ours_calls:.1f} stmts, {min(sessions)}-{max(sessions)} "
            f"sessions shown ({refreshes} refreshes)")
    theirs = by_role.get("bench_pga")
    if pga is None:
        return [Row(what, text, "n/a (pg_activity not installed: apt-get install pg-activity)",
                    "—", goal, False)]
    if theirs is None:
        return [Row(what, text, "n/a (pg_activity ran no statement)", "—", goal, False)]
    # its refreshes: the count of its most-run statement (one of each per refresh)
    their_refreshes = max(1, await conn.fetchval(
        "SELECT max(s.calls) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid "
        "WHERE r.rolname = 'bench_pga'"))
    their_ms, their_calls = theirs["ms"] / their_refreshes, theirs["calls"] / their_refreshes
    met = ours_ms <= GOAL * their_ms and min(sessions) >= CLIENTS
    return [Row(what, text, f"pg_activity --refresh 1: {their_ms:.2f} ms / {their_calls:.1f} "
                f"stmts ({their_refreshes} refreshes)", ratio(ours_ms, their_ms), goal, met)]


def measure(opts, progress) -> list[Row]:
    return asyncio.run(_run(opts, progress))
