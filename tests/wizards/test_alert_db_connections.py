"""``alert-db-connections`` on the real PostgreSQL: a transaction left open by a batch job
with two updates queued behind it is named by its pid; cancelling it is not enough (idle in
transaction), terminating it ends the chain; a pool leaking idle sessions is found by
application and its sessions ended.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest
from conftest import cli, drive

pytestmark = pytest.mark.timeout(180)


@contextlib.asynccontextmanager
async def blocking(world, waiters: int = 2):
    dsn = world.pg.dsn(world.pg.production)
    holder = await asyncpg.connect(dsn, server_settings={"application_name": "nightly-reconcile"})
    await holder.execute("BEGIN")
    await holder.execute("UPDATE critical_table SET amount = amount WHERE id = 42")
    queued = []
    for _ in range(waiters):
        conn = await asyncpg.connect(dsn, server_settings={"application_name": "mcp-server"})
        queued.append((conn, asyncio.create_task(conn.execute(
            "UPDATE critical_table SET amount = amount + 0.01 WHERE id = 42"))))
    for _ in range(100):
        waiting = await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")
        if waiting >= waiters:
            break
        await asyncio.sleep(0.05)
    try:
        yield holder.get_server_pid(), queued
    finally:
        for conn, task in queued:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
            await conn.close()
        with contextlib.suppress(Exception):
            await holder.close()


async def test_read_only_names_the_blocking_pid_and_stops_at_the_cancel(world):
    async with blocking(world) as (pid, _):
        out = await cli(world.config_path, "run", "alert-db-connections", "--env", "sandbox",
                        "--read-only")
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"CRITICAL    blocking pid {pid} blocks 2 session(s): pid {pid} " \
        "(nightly-reconcile, idle in transaction" in out.stdout
    assert "cancel-backend" in out.stdout and "read-only mode" in out.stdout


async def test_terminating_the_blocker_ends_the_chain(world):
    async with blocking(world) as (pid, queued):
        driven = await drive(world, "alert-db-connections")
        statuses = driven.statuses
        text = driven.text()
        done = [await asyncio.wait_for(task, 5) for _, task in queued]
    assert statuses == {"postgres-pods": "ok", "connections": "ok", "blocking": "ok",
                        "cancel-backend": "ok", "terminate-backend": "ok",
                        "terminate-idle": "skipped", "rollout-restart": "skipped",
                        "after": "ok"}, text
    assert f"backend {pid} still blocks 2 session(s) — it is idle in transaction" in text
    assert f"pg_terminate_backend({pid}) -> True" in text
    assert "no blocking chain left" in text
    assert done == ["UPDATE 1", "UPDATE 1"]  # the waiters went through
    [note] = [r["data"] for r in driven.records("note") if "terminating" in r["data"]["text"]]
    assert note["pid"] == pid and note["application"] == "nightly-reconcile"


async def test_a_leaking_pool_is_found_and_its_idle_sessions_ended(world):
    world.set_thresholds(idle_session_seconds=0.5)
    dsn = world.pg.dsn(world.pg.production)
    leaked = [await asyncpg.connect(dsn, server_settings={"application_name": "mcp-worker-leaked"})
              for _ in range(12)]
    try:
        await asyncio.sleep(0.6)  # idle longer than thresholds.idle_session_seconds
        driven = await drive(world, "alert-db-connections",
                             {"remedy": "terminate-idle"})
        text = driven.text()
        assert "mcp-worker-leaked: 12 sessions idle ≥ 0.5 s" in text, text
        assert driven.statuses["terminate-idle"] == "ok", text
        assert "12 of 12 idle sessions of mcp-worker-leaked ended" in text
        assert [await _alive(c) for c in leaked] == [False] * 12
    finally:
        for conn in leaked:
            with contextlib.suppress(Exception):
                await conn.close()


async def _alive(conn) -> bool:
    try:
        await asyncio.wait_for(conn.fetchval("SELECT 1"), 2)
        return True
    except Exception:  # noqa: BLE001
        return False
