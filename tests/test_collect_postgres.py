"""The PostgreSQL collector against the real PostgreSQL of tests/servers.py (db ``test``)."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg
import pytest
import servers
from health_support import PG_DSN, hung_server
from waiting import DEFAULT_TIMEOUT
from waiting import until as wait_until

from console.collectors.postgres import PostgresCollector
from console.collectors.postgres_model import PostgresSnapshot
from console.collectors.registry import collect_bounded
from console.config.model import PostgresSettings

pytestmark = pytest.mark.timeout(60)


def settings(dsn: str = PG_DSN, **kw) -> PostgresSettings:
    return PostgresSettings(dsn=dsn, **kw)


@pytest.fixture
async def collector():
    c = PostgresCollector(settings(), slow_refresh_seconds=0)
    yield c
    await c.close()


@pytest.fixture
async def table():
    """A one-row table of this test's own, dropped afterwards."""
    name = f"mcp_ops_lock_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(PG_DSN)
    await conn.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v int)")
    await conn.execute(f"INSERT INTO {name} VALUES (1, 0)")
    yield name
    await conn.execute(f"DROP TABLE IF EXISTS {name}")
    await conn.close()


async def until(collector: PostgresCollector, predicate,
                seconds: float = DEFAULT_TIMEOUT) -> PostgresSnapshot:
    """Collect until ``predicate(snapshot)`` holds; fails the test past ``seconds``."""
    last: list[PostgresSnapshot] = []

    async def probe() -> PostgresSnapshot | None:
        snap = await collector.collect()
        assert snap.error is None, snap.error
        last[:] = [snap]
        return snap if predicate(snap) else None

    return await wait_until(probe, seconds, interval=0.1,
                            what=lambda: f"condition on the snapshot (last: {last})")


async def test_row_lock_shows_a_blocking_chain_with_both_pids_and_queries(collector, table):
    holder = await asyncpg.connect(PG_DSN)
    waiter = await asyncpg.connect(PG_DSN)
    try:
        holder_pid, waiter_pid = holder.get_server_pid(), waiter.get_server_pid()
        tx = holder.transaction()
        await tx.start()
        await holder.execute(f"UPDATE {table} SET v = 1 WHERE id = 1")
        blocked = asyncio.create_task(waiter.execute(f"UPDATE {table} SET v = 2 WHERE id = 1"))
        snap = await until(collector, lambda s: any(e.blocked_pid == waiter_pid for e in s.blocking))
        edge = next(e for e in snap.blocking if e.blocked_pid == waiter_pid)
        assert edge.blocking_pid == holder_pid
        assert f"UPDATE {table} SET v = 2" in edge.blocked_query
        assert f"UPDATE {table} SET v = 1" in edge.blocking_query
        assert edge.blocking_state == "idle in transaction"
        assert edge.blocked_seconds is not None and edge.blocked_seconds >= 0
        assert holder_pid in snap.blocking_pids
        await tx.rollback()
        await asyncio.wait_for(blocked, 5)
        snap = await collector.collect()
        assert not any(e.blocked_pid == waiter_pid for e in snap.blocking)
    finally:
        await holder.close()
        await waiter.close()


async def test_pg_sleep_appears_as_a_slow_query(collector):
    """A query sleeps far longer than any wait here, so a loaded machine cannot make it end
    before it is seen; it is cancelled afterwards (also on failure: a backend left sleeping
    would show up as a slow query in other tests)."""
    conn = await asyncpg.connect(PG_DSN)
    admin = await asyncpg.connect(PG_DSN)
    pid = conn.get_server_pid()
    sleeping = asyncio.create_task(conn.execute("SELECT pg_sleep(60) /* mcp-ops slow test */"))
    try:
        snap = await until(collector, lambda s: pid in {x.pid for x in s.slow})
        slow = next(s for s in snap.slow if s.pid == pid)
        assert "pg_sleep(60)" in slow.query
        assert slow.query_seconds > collector.slow_after_seconds
    finally:
        await admin.fetchval("SELECT pg_cancel_backend($1)", pid)
        (ended,) = await asyncio.gather(asyncio.wait_for(sleeping, 10), return_exceptions=True)
        await admin.close()
        await conn.close()
    assert isinstance(ended, asyncpg.QueryCanceledError), ended  # still running when seen


async def test_connections_use_the_servers_max_connections_and_exclude_our_own(collector):
    app = f"pytest-{uuid.uuid4().hex[:6]}"
    extra = [await asyncpg.connect(PG_DSN, server_settings={"application_name": app})
             for _ in range(3)]
    try:
        snap = await collector.collect()
        probe = await asyncpg.connect(PG_DSN)
        real_max = int(await probe.fetchval("SHOW max_connections"))
        await probe.close()
        assert snap.max_connections == real_max
        group = [g for g in snap.groups if g.application == app]
        assert sum(g.count for g in group) == 3
        assert snap.connections == len(snap.sessions)
        assert snap.connections_pct == pytest.approx(100 * snap.connections / real_max)
        own = collector._conn.get_server_pid()
        assert own not in {s.pid for s in snap.sessions}
        assert "mcp-ops" not in {s.application for s in snap.sessions if s.pid == own}
    finally:
        for c in extra:
            await c.close()


async def test_idle_in_transaction_cache_hit_ratio_and_size(collector):
    conn = await asyncpg.connect(PG_DSN)
    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1")
        snap = await collector.collect()
        assert conn.get_server_pid() in {s.pid for s in snap.idle_in_transaction}
        assert snap.cache_hit_ratio_pct is not None and 0 <= snap.cache_hit_ratio_pct <= 100
        assert snap.database_size_bytes and snap.database_size_bytes > 1_000_000
        assert snap.database == "test"
        await tx.rollback()
    finally:
        await conn.close()


async def test_session_durations_follow_the_servers_clock(collector):
    """A session idle in a transaction: its transaction is older than its last query, which
    is older than its state, and all three grow between polls by at least the time waited."""
    conn = await asyncpg.connect(PG_DSN)
    pid = conn.get_server_pid()

    async def mine():
        snap = await collector.collect()
        assert snap.error is None, snap.error
        return next(s for s in snap.sessions if s.pid == pid)

    try:
        tx = conn.transaction()
        await tx.start()
        await conn.execute("SELECT 1")
        first = await mine()
        await asyncio.sleep(0.5)
        later = await mine()
        await tx.rollback()
    finally:
        await conn.close()
    assert first.state == "idle in transaction" and first.query == "SELECT 1"
    assert first.xact_seconds >= first.query_seconds >= first.state_seconds >= 0
    for before, after in ((first.xact_seconds, later.xact_seconds),
                          (first.query_seconds, later.query_seconds),
                          (first.state_seconds, later.state_seconds)):
        assert after - before >= 0.45


async def test_slow_figures_are_carried_over_and_asked_again_on_a_new_connection():
    """Version, max_connections and size come with the first snapshot, are carried between
    slow refreshes, and are asked again when the connection is lost and re-made."""
    c = PostgresCollector(settings(), slow_refresh_seconds=3600)
    admin = await asyncpg.connect(PG_DSN)
    try:
        first = await c.collect()
        assert first.error is None, first.error
        assert first.server_version and first.max_connections and first.database_size_bytes
        again = await c.collect()
        assert again.database_size_bytes == first.database_size_bytes
        old_pid = c._conn.get_server_pid()
        await admin.fetchval("SELECT pg_terminate_backend($1)", old_pid)
        snap = await c.collect()
        if snap.error:  # the lost connection is one error snapshot, then a new connection
            snap = await c.collect()
        assert snap.error is None, snap.error
        assert c._conn.get_server_pid() != old_pid
        assert (snap.server_version, snap.max_connections, snap.database) == \
            (first.server_version, first.max_connections, first.database)
        assert snap.database_size_bytes
    finally:
        await admin.close()
        await c.close()


async def test_statements_say_clearly_when_pg_stat_statements_is_missing(collector):
    probe = await asyncpg.connect(PG_DSN)
    installed = await probe.fetchval(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'")
    await probe.close()
    snap = await collector.collect()
    if installed:
        assert snap.statements or snap.statements_note
    else:
        assert snap.statements == ()
        assert "not installed" in snap.statements_note


async def test_every_query_carries_the_statement_timeout():
    c = PostgresCollector(settings(statement_timeout_ms=250))
    try:
        assert (await c.collect()).error is None
        with pytest.raises(asyncpg.QueryCanceledError):
            await c._conn.execute("SELECT pg_sleep(1)")
        assert await c._conn.fetchval("SHOW application_name") == "mcp-ops"
    finally:
        await c.close()


async def test_a_refused_connection_is_an_error_snapshot():
    c = PostgresCollector(settings("postgresql://postgres@127.0.0.1:1/test"))
    snap = await c.collect()
    assert snap.error and snap.max_connections == 0
    await c.close()


async def test_a_hung_server_is_cut_off_by_the_source_timeout():
    async with hung_server() as port:
        c = PostgresCollector(settings(f"postgresql://postgres@127.0.0.1:{port}/test"),
                              connect_timeout=30)
        started = time.monotonic()
        snap = await collect_bounded("database", c, 0.5)
        print(f"hung PostgreSQL cut off after {time.monotonic() - started:.2f} s")
        # the text only the bound's own timeout writes: the 30 s connect timeout did not act
        assert snap.error == "timed out after 0.5 s"
        await c.close()


async def test_configured_replica_is_asked_for_its_lag(collector):
    c = PostgresCollector(settings(replica_dsns=[PG_DSN, "postgresql://postgres@127.0.0.1:1/x"]))
    try:
        snap = await c.collect()
        names = {r.name: r for r in snap.replication}
        assert names[f"{servers.PG_HOSTPORT}/test"].state.startswith("not in recovery")
        assert names["127.0.0.1:1/x"].error
    finally:
        await c.close()


async def test_a_hung_replica_is_its_own_error_not_a_timed_out_snapshot():
    """The poll's bound is 1.5 s; the replica gets a third of it and is reported as
    unreachable while the primary's figures arrive."""
    async with hung_server() as port:
        c = PostgresCollector(settings(replica_dsns=[f"postgresql://postgres@127.0.0.1:{port}/x"]),
                              connect_timeout=1.5, replica_timeout=0.5)
        try:
            started = time.monotonic()
            snap = await collect_bounded("database", c, 1.5)
            print(f"snapshot with a hung replica in {time.monotonic() - started:.2f} s")
        finally:
            await c.close()
    assert snap.error is None, snap.error
    assert snap.max_connections > 0
    [replica] = snap.replication
    assert replica.name == f"127.0.0.1:{port}/x"
    assert replica.error == "no answer within 0.5 s"


async def test_registry_bounds_replica_probes_below_the_poll_timeout():
    from console.collectors.registry import collectors_for
    from console.config.model import Environment

    env = Environment.model_validate({"postgres": {"dsn": PG_DSN},
                                      "service": {"base_url": "http://127.0.0.1:1"}})
    c = collectors_for(env, timeout=3.0, watch=False)["database"]
    assert c.replica_timeout == pytest.approx(1.0)


async def _replica_backends() -> set[int]:
    conn = await asyncpg.connect(PG_DSN)
    try:
        rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = 'postgres' "
                                "AND application_name = 'mcp-ops'")
    finally:
        await conn.close()
    return {r["pid"] for r in rows}


async def test_replica_connection_is_kept_between_polls_and_closed_with_the_collector():
    replica = PG_DSN.rsplit("/", 1)[0] + "/postgres"  # the same server, told apart by database
    c = PostgresCollector(settings(replica_dsns=[replica]))
    try:
        polls = []
        for _ in range(3):
            snap = await c.collect()
            assert snap.error is None and snap.replication[0].error is None
            polls.append(await _replica_backends())
        assert len(polls[0]) == 1, polls
        assert polls == [polls[0]] * 3, "a new replica connection was opened for a poll"
    finally:
        await c.close()

    async def gone():
        return not await _replica_backends() or None

    await wait_until(gone, DEFAULT_TIMEOUT, interval=0.1, what="the replica connection closed")
