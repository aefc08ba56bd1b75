"""Scenarios acting on the service, the database and the cache — for real.

Connections, locks and evictions are not simulated: the connection-exhaustion scenario
holds real PostgreSQL sessions, the blocking one a real open transaction with real
waiters, the memory one real Redis writes. Their handles live in
``sandbox.scenario_state`` so ``revert`` can let go of exactly what ``apply`` took.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from typing import TYPE_CHECKING

import asyncpg

from .kube.log_book import set_error_rate

if TYPE_CHECKING:
    from .platform import Sandbox

CONNECTIONS_TARGET = 0.90  # share of max_connections the exhaustion scenario holds
BLOCKED_ROW = 42
BASELINE_LOG_ERROR_RATE = 0.01


# ---- service ---------------------------------------------------------------------------
async def high_error_rate_apply(sandbox: Sandbox) -> None:
    sandbox.simulator.set_knobs(error_rate=0.12)
    set_error_rate(sandbox.clusters.production.cluster, 0.2)


async def slow_responses_apply(sandbox: Sandbox) -> None:
    sandbox.simulator.set_knobs(latency_median=1.4, latency_sigma=0.45)


async def service_revert(sandbox: Sandbox) -> None:
    sandbox.simulator.set_knobs()
    set_error_rate(sandbox.clusters.production.cluster, BASELINE_LOG_ERROR_RATE)


# ---- database: connections -------------------------------------------------------------
async def _client_backends(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()"))


async def connections_apply(sandbox: Sandbox) -> None:
    """Open sessions until 90 % of max_connections are in use (counting the probe that
    asks, as the console's own collector is left out of its count)."""
    db = sandbox.db
    probe = await db.connect()
    try:
        in_use = await _client_backends(probe)
    finally:
        await probe.close()
    wanted = max(0, math.ceil(CONNECTIONS_TARGET * db.max_connections) - in_use)
    held: list[asyncpg.Connection] = sandbox.scenario_state.setdefault("connections", [])
    for batch in range(0, wanted, 10):
        held += await asyncio.gather(*(
            asyncpg.connect(db.dsn(), timeout=10,
                            server_settings={"application_name": "mcp-worker-leaked"})
            for _ in range(min(10, wanted - batch))))


async def connections_revert(sandbox: Sandbox) -> None:
    held = sandbox.scenario_state.pop("connections", [])
    await asyncio.gather(*(_close(c) for c in held))


async def _close(conn: asyncpg.Connection) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(conn.close(), 5)


# ---- database: blocking ----------------------------------------------------------------
async def blocking_apply(sandbox: Sandbox) -> None:
    """A batch job updates a row of critical_table and leaves its transaction open; two
    application requests updating the same row (each in its own transaction, committed
    once it has the lock) wait behind it."""
    db = sandbox.db
    holder = await asyncpg.connect(db.dsn(), timeout=10,
                                   server_settings={"application_name": "nightly-reconcile"})
    await holder.execute("BEGIN")
    await holder.execute("UPDATE critical_table SET amount = amount WHERE id = $1", BLOCKED_ROW)
    waiters = []
    for _ in range(2):
        conn = await asyncpg.connect(db.dsn(), timeout=10,
                                     server_settings={"application_name": "mcp-server"})
        # a request's own transaction: it commits as soon as it gets the lock, so ending
        # the blocker ends the chain (as it would for the application)
        task = asyncio.create_task(_request_update(conn))
        waiters.append((conn, task))
    sandbox.scenario_state["blocking"] = (holder, waiters)

    async def everyone_waits() -> bool:
        rows = await holder.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")
        return rows >= len(waiters)

    for _ in range(100):
        if await everyone_waits():
            return
        await asyncio.sleep(0.05)


async def _request_update(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("UPDATE critical_table SET amount = amount + 0.01 WHERE id = $1",
                           BLOCKED_ROW)


async def blocking_revert(sandbox: Sandbox) -> None:
    state = sandbox.scenario_state.pop("blocking", None)
    if state is None:
        return
    holder, waiters = state
    with contextlib.suppress(Exception):
        await asyncio.wait_for(holder.execute("ROLLBACK"), 5)
    await _close(holder)
    for conn, task in waiters:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)  # its own transaction commits or rolls back
        await _close(conn)


# ---- cache -----------------------------------------------------------------------------
async def redis_pressure_apply(sandbox: Sandbox) -> None:
    await sandbox.cache.fill_to_maxmemory()


async def redis_pressure_revert(sandbox: Sandbox) -> None:
    await sandbox.cache.relieve()
