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

from . import scenario_kube
from .kube.log_book import EVERYDAY, set_log_mix

if TYPE_CHECKING:
    from .platform import Sandbox

CONNECTIONS_TARGET = 0.90  # share of max_connections the exhaustion scenario holds
BLOCKED_ROW = 42


# ---- service ---------------------------------------------------------------------------
# A server misbehaves after a release, as it does in life: the scenario rolls the
# deployment out to a faulty version (an image that pulls and starts fine) and the
# simulator behaves badly for as long as the deployment runs it. Rolling back (or any
# rollout away from that image) heals the service — what the alert wizards rehearse.
FAULTY_TAGS = {"high-error-rate": "2.4.2", "slow-responses": "2.4.2-n1query"}
HEAL_POLL = 0.5  # seconds between looks at the deployment's image


def _healed(sandbox: Sandbox, faulty: str) -> bool:
    cluster = sandbox.clusters.production.cluster
    deployment = cluster.store.peek("deployments.apps", scenario_kube.NAMESPACE,
                                    scenario_kube.DEPLOYMENT)
    if deployment is None:
        return False
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"] != faulty


async def _release(sandbox: Sandbox, scenario: str, **knobs: float) -> None:
    cluster = sandbox.clusters.production.cluster
    deployment = cluster.store.get("deployments.apps", scenario_kube.NAMESPACE,
                                   scenario_kube.DEPLOYMENT)
    current = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    faulty = current.rsplit(":", 1)[0] + ":" + FAULTY_TAGS[scenario]
    scenario_kube._set_image(cluster, faulty, f"kubectl set image deployment/"
                             f"{scenario_kube.DEPLOYMENT} mcp-server={faulty}")
    sandbox.simulator.set_knobs(**knobs)  # the logs follow the scenario's own mix

    async def heal_when_rolled_back() -> None:
        while not _healed(sandbox, faulty):
            await asyncio.sleep(HEAL_POLL)
        await service_revert(sandbox, keep_image=True)

    watcher = asyncio.create_task(heal_when_rolled_back())
    sandbox.scenario_state["service"] = (current, faulty, watcher)


async def high_error_rate_apply(sandbox: Sandbox) -> None:
    await _release(sandbox, "high-error-rate", error_rate=0.12)


async def slow_responses_apply(sandbox: Sandbox) -> None:
    await _release(sandbox, "slow-responses", latency_median=1.4, latency_sigma=0.45)


async def service_revert(sandbox: Sandbox, *, keep_image: bool = False) -> None:
    """The service behaves again; unless ``keep_image`` (the operator already rolled
    back), the deployment goes back to the version it ran before the faulty release."""
    state = sandbox.scenario_state.pop("service", None)
    if state is not None and not keep_image:
        good, faulty, watcher = state
        watcher.cancel()
        if not _healed(sandbox, faulty):
            scenario_kube._set_image(sandbox.clusters.production.cluster, good,
                                     f"kubectl rollout undo deployment/{scenario_kube.DEPLOYMENT}")
    sandbox.simulator.set_knobs()
    # rolled back (or switched away): the pods log as on any day again
    set_log_mix(sandbox.clusters.production.cluster, EVERYDAY)


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


# ---- cache: a hot key pattern ----------------------------------------------------------
HOT_SHARE = 0.88  # of maxmemory: over the 80 % warning, under eviction
HOT_VALUE = 32 * 1024


def hot_pattern(sandbox: Sandbox) -> str:
    return f"{sandbox.cache.prefix}export:*"


async def redis_hot_keys_apply(sandbox: Sandbox) -> None:
    """A nightly export job cached every page it rendered under ``export:<job>:<page>``,
    with no TTL, and finished: the pages are never read again but fill the cache to
    ~88 % of maxmemory (no eviction yet; the next burst of traffic will evict the live
    working set). Deleting that one pattern is the fix; FLUSHDB would also drop the
    working set."""
    cache = sandbox.cache
    if not cache.private:
        raise RuntimeError("the hot-key scenario needs a private Redis, not a shared one")
    client = cache.client
    maxmemory = int((await client.config_get("maxmemory"))["maxmemory"])
    page = 0
    while int((await client.info("memory"))["used_memory"]) < HOT_SHARE * maxmemory:
        pipe = client.pipeline(transaction=False)
        for _ in range(20):
            pipe.set(f"{cache.prefix}export:20261206:{page}", b"p" * HOT_VALUE)
            page += 1
        await pipe.execute()
    sandbox.scenario_state["redis-hot-keys"] = page


async def redis_hot_keys_revert(sandbox: Sandbox) -> None:
    if sandbox.scenario_state.pop("redis-hot-keys", None) is None:
        return
    client = sandbox.cache.client
    batch = []
    async for key in client.scan_iter(hot_pattern(sandbox), count=1000):
        batch.append(key)
        if len(batch) >= 500:
            await client.unlink(*batch)
            batch = []
    if batch:
        await client.unlink(*batch)
