"""The SQL writer against the real PostgreSQL of tests/servers.py (database ``test``).

Every test works in a schema of its own, dropped in a finally, so nothing depends on what
the shared server holds. Statistics (``last_vacuum``, ``last_analyze``) reach
``pg_stat_user_tables`` asynchronously, so they are waited for, never slept for.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
import servers
from waiting import until

from console.execution.writers import (
    IndexProgress,
    SqlWriter,
    VacuumProgress,
    WriterRefused,
    quote_ident,
    validate_identifier,
)

pytestmark = pytest.mark.timeout(120)

DSN = f"postgresql://postgres@{servers.PG_HOSTPORT}/test"
BAD_NAMES = ["o'brien", 'say"hi', "t; DROP TABLE x", "two words", "", "x" * 64, "1st",
             "a.b.c", "tab\tle", "ünïcode", "a-b"]


async def connect(**settings: str) -> asyncpg.Connection:
    return await asyncpg.connect(DSN, timeout=10, server_settings={
        "application_name": "mcp-ops-test-writers", **settings})


@pytest.fixture
async def conns():
    """(primary, monitor): a writable connection with the console's short statement_timeout,
    and a second one for progress and for looking."""
    primary = await connect(statement_timeout="2000")
    monitor = await connect()
    try:
        yield primary, monitor
    finally:
        await primary.close()
        await monitor.close()


@pytest.fixture
async def schema(conns):
    _primary, monitor = conns
    name = f"wtest_{uuid.uuid4().hex[:12]}"
    await monitor.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        await monitor.execute(f"DROP SCHEMA {name} CASCADE")


def writer_for(conns, **kwargs) -> SqlWriter:
    primary, monitor = conns

    async def writable() -> asyncpg.Connection:
        return primary

    async def looking() -> asyncpg.Connection:
        return monitor

    return SqlWriter(writable, monitor=looking, **kwargs)


async def stat(monitor: asyncpg.Connection, schema: str, table: str, column: str):
    return await monitor.fetchval(
        f"SELECT {column} FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2",
        schema, table)


# ---- identifiers ---------------------------------------------------------------------------

def test_valid_identifiers_are_quoted():
    assert quote_ident("orders") == '"orders"'
    assert quote_ident("public.orders") == '"public"."orders"'
    assert quote_ident("Mixed_Case$1") == '"Mixed_Case$1"'
    assert quote_ident("_" + "x" * 62) == '"_' + "x" * 62 + '"'  # 63 characters: the limit
    assert validate_identifier("app.idx_orders_created") == "app.idx_orders_created"


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_identifiers_are_refused_with_a_reason(name):
    with pytest.raises(ValueError) as caught:
        validate_identifier(name)
    message = str(caught.value)
    assert message.startswith(("identifier", "identifier is empty"))
    if name == "x" * 64:
        assert "64 characters, PostgreSQL allows 63" in message
    if name == "two words":
        assert "space" in message
    if name.startswith("t;"):
        assert "';'" in message
    with pytest.raises(ValueError):
        quote_ident(name)


def test_index_and_column_names_cannot_be_qualified():
    with pytest.raises(ValueError, match="bare name"):
        SqlWriter.create_index_sql("public.idx", "public.t", ["a"])
    with pytest.raises(ValueError, match="bare name"):
        SqlWriter.create_index_sql("idx", "t", ["t.a"])
    with pytest.raises(ValueError, match="non-empty list"):
        SqlWriter.create_index_sql("idx", "t", "a")


async def test_bad_identifiers_are_refused_before_anything_is_sent():
    asked = []

    async def never() -> asyncpg.Connection:
        asked.append("connect")
        raise AssertionError("a connection was asked for")

    writer = SqlWriter(never, monitor=never)
    for name in BAD_NAMES:
        if not name:
            continue  # an empty table means "every table" for VACUUM/ANALYZE
        with pytest.raises(ValueError):
            await writer.vacuum(name)
        with pytest.raises(ValueError):
            await writer.analyze(name)
        with pytest.raises(ValueError):
            await writer.create_index_concurrently(name, "t", ["a"])
        with pytest.raises(ValueError):
            await writer.create_index_concurrently("idx", name, ["a"])
        with pytest.raises(ValueError):
            await writer.create_index_concurrently("idx", "t", [name])
        with pytest.raises(ValueError):
            await writer.drop_index_concurrently(name)
    for pid in (0, -1, True):
        with pytest.raises(ValueError):
            await writer.cancel_backend(pid)
    assert asked == []


def test_statement_twins_are_the_exact_text():
    assert SqlWriter.vacuum_sql() == "VACUUM (ANALYZE)"
    assert SqlWriter.vacuum_sql("app.orders", analyze=False) == 'VACUUM "app"."orders"'
    assert SqlWriter.analyze_sql() == "ANALYZE"
    assert SqlWriter.analyze_sql("orders") == 'ANALYZE "orders"'
    assert SqlWriter.create_index_sql("idx_o", "app.orders", ["customer", "created"],
                                      unique=True) == (
        'CREATE UNIQUE INDEX CONCURRENTLY "idx_o" ON "app"."orders" ("customer", "created")')
    assert SqlWriter.drop_index_sql("app.idx_o") == 'DROP INDEX CONCURRENTLY "app"."idx_o"'
    assert SqlWriter.cancel_backend_sql(4242) == "SELECT pg_cancel_backend(4242)"
    assert SqlWriter.terminate_backend_sql(4242) == "SELECT pg_terminate_backend(4242)"


# ---- VACUUM, ANALYZE -----------------------------------------------------------------------

async def test_vacuum_and_analyze_update_the_statistics(conns, schema):
    primary, monitor = conns
    await monitor.execute(f"CREATE TABLE {schema}.orders AS SELECT g AS id FROM generate_series(1, 2000) g")
    await monitor.execute(f"CREATE TABLE {schema}.items AS SELECT g AS id FROM generate_series(1, 100) g")
    writer = writer_for(conns)
    assert await writer.vacuum(f"{schema}.orders", analyze=False) == "VACUUM"
    assert await writer.analyze(f"{schema}.items") == "ANALYZE"
    await until(lambda: stat(monitor, schema, "orders", "last_vacuum"), what="last_vacuum")
    await until(lambda: stat(monitor, schema, "items", "last_analyze"), what="last_analyze")
    assert await stat(monitor, schema, "orders", "last_analyze") is None  # analyze=False
    assert await stat(monitor, schema, "items", "last_vacuum") is None
    # the console's short statement_timeout is back on the connection afterwards
    assert await primary.fetchval("SHOW statement_timeout") == "2s"


async def test_vacuum_reports_progress_and_outlives_the_short_statement_timeout(conns, schema):
    primary, monitor = conns
    await monitor.execute(f"CREATE TABLE {schema}.big AS SELECT g AS id, repeat('x', 200) AS pad"
                          " FROM generate_series(1, 1200) g")
    # cost-based delay makes this VACUUM take about a second: longer than the connection's
    # statement_timeout (300 ms here), and long enough to be watched
    await primary.execute("SET statement_timeout = '300ms'; SET vacuum_cost_delay = '10ms';"
                          " SET vacuum_cost_limit = 1")
    seen: list[VacuumProgress] = []
    writer = writer_for(conns, progress_interval=0.05)
    status = await writer.vacuum(f"{schema}.big", progress=seen.append)
    assert status == "VACUUM"
    assert seen, "no pg_stat_progress_vacuum row was reported"
    assert {p.pid for p in seen} == {primary.get_server_pid()}
    assert all(p.relation == f"{schema}.big" for p in seen)
    assert any(p.phase == "scanning heap" and p.heap_blks_total > 0 for p in seen)
    assert all(0 <= (p.fraction or 0) <= 1 for p in seen)
    await until(lambda: stat(monitor, schema, "big", "last_vacuum"), what="last_vacuum")
    await until(lambda: stat(monitor, schema, "big", "last_analyze"), what="last_analyze")
    assert await primary.fetchval("SHOW statement_timeout") == "300ms"


async def test_vacuum_timeout_is_a_server_side_limit(conns, schema):
    primary, monitor = conns
    await monitor.execute(f"CREATE TABLE {schema}.big AS SELECT g AS id, repeat('x', 200) AS pad"
                          " FROM generate_series(1, 1200) g")
    await primary.execute("SET vacuum_cost_delay = '10ms'; SET vacuum_cost_limit = 1")
    with pytest.raises(asyncpg.QueryCanceledError, match="statement timeout"):
        await writer_for(conns).vacuum(f"{schema}.big", timeout=0.2)
    assert await primary.fetchval("SHOW statement_timeout") == "2s"


async def test_maintenance_refuses_a_connection_inside_a_transaction(conns, schema):
    primary, monitor = conns
    await monitor.execute(f"CREATE TABLE {schema}.t (a int)")
    writer = writer_for(conns)
    async with primary.transaction():
        with pytest.raises(WriterRefused, match="VACUUM cannot run inside a transaction"):
            await writer.vacuum(f"{schema}.t")
        with pytest.raises(WriterRefused, match="CREATE cannot run inside a transaction"):
            await writer.create_index_concurrently("idx_a", f"{schema}.t", ["a"])


async def test_progress_needs_a_monitor(conns):
    primary, _monitor = conns

    async def writable() -> asyncpg.Connection:
        return primary

    with pytest.raises(ValueError, match="monitor"):
        await SqlWriter(writable).vacuum(progress=print)


# ---- CREATE / DROP INDEX CONCURRENTLY ------------------------------------------------------

async def index_state(monitor: asyncpg.Connection, schema: str, index: str):
    return await monitor.fetchval(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
        schema, index)


async def test_create_index_concurrently_waits_for_writers_and_reports_it(conns, schema):
    _primary, monitor = conns
    table = f"{schema}.orders"
    await monitor.execute(f"CREATE TABLE {table} AS SELECT g AS id, g % 7 AS customer"
                          " FROM generate_series(1, 5000) g")
    blocker = await connect()
    try:
        # an open transaction that wrote to the table: the build must wait for it first
        writing = blocker.transaction()
        await writing.start()
        await blocker.execute(f"INSERT INTO {table} VALUES (0, 0)")
        seen: list[IndexProgress] = []
        writer = writer_for(conns, progress_interval=0.05)
        build = asyncio.create_task(writer.create_index_concurrently(
            "idx_orders_customer", table, ["customer", "id"], progress=seen.append))
        await until(lambda: any(p.phase.startswith("waiting for writers") for p in seen),
                    what="the build waiting for the writing transaction")
        assert not build.done()
        await writing.commit()
        assert await build == "CREATE INDEX"
    finally:
        await blocker.close()
    assert await index_state(monitor, schema, "idx_orders_customer") is True
    waiting = next(p for p in seen if p.phase.startswith("waiting for writers"))
    assert waiting.relation == table and waiting.lockers_total >= 1
    assert waiting.index in (f"{schema}.idx_orders_customer", None)

    assert await writer.drop_index_concurrently(f"{schema}.idx_orders_customer") == "DROP INDEX"
    assert await index_state(monitor, schema, "idx_orders_customer") is None


async def test_failed_unique_build_leaves_no_invalid_index(conns, schema):
    primary, monitor = conns
    table = f"{schema}.accounts"
    await monitor.execute(f"CREATE TABLE {table} (email text)")
    await monitor.execute(f"INSERT INTO {table} VALUES ('a@x'), ('b@x'), ('a@x')")
    writer = writer_for(conns)
    with pytest.raises(asyncpg.UniqueViolationError) as caught:
        await writer.create_index_concurrently("idx_accounts_email", table, ["email"],
                                               unique=True)
    assert any("was dropped" in note for note in getattr(caught.value, "__notes__", []))
    assert await index_state(monitor, schema, "idx_accounts_email") is None
    assert await primary.fetchval("SHOW statement_timeout") == "2s"


async def test_an_existing_index_is_refused_and_left_alone(conns, schema):
    _primary, monitor = conns
    table = f"{schema}.t"
    await monitor.execute(f"CREATE TABLE {table} (a int)")
    await monitor.execute(f"CREATE INDEX idx_a ON {table} (a)")
    writer = writer_for(conns)
    with pytest.raises(WriterRefused, match="exists already"):
        await writer.create_index_concurrently("idx_a", table, ["a"])
    assert await index_state(monitor, schema, "idx_a") is True


# ---- cancel / terminate --------------------------------------------------------------------

SLEEPING = ("SELECT coalesce(state = 'active' AND wait_event = 'PgSleep', false) "
            "FROM pg_stat_activity WHERE pid = $1")


async def test_cancel_and_terminate_another_backend_but_never_our_own(conns):
    primary, _monitor = conns
    writer = writer_for(conns)
    sleeper = await connect()
    victim = await connect()
    try:
        sleeping = asyncio.create_task(sleeper.fetchval("SELECT pg_sleep(60)"))
        pid = sleeper.get_server_pid()
        # in pg_sleep itself: 'active' alone is also true while the statement is being
        # prepared, and a cancel that lands between prepare and execute is lost
        await until(lambda: primary.fetchval(SLEEPING, pid), what="the sleeping query")
        assert await writer.cancel_backend(pid) is True
        with pytest.raises(asyncpg.QueryCanceledError):
            await sleeping
        assert await sleeper.fetchval("SELECT 1") == 1  # cancelled, not disconnected

        held = asyncio.create_task(victim.fetchval("SELECT pg_sleep(60)"))
        other = victim.get_server_pid()
        await until(lambda: primary.fetchval(SLEEPING, other), what="the second sleeping query")
        assert await writer.terminate_backend(other) is True
        with pytest.raises((asyncpg.AdminShutdownError, asyncpg.ConnectionDoesNotExistError)):
            await held
        await until(lambda: primary.fetchval(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $1", other),
            what="the terminated backend gone")

        own = primary.get_server_pid()
        with pytest.raises(WriterRefused, match="own connection"):
            await writer.cancel_backend(own)
        with pytest.raises(WriterRefused, match="own connection"):
            await writer.terminate_backend(own)
        assert await primary.fetchval("SELECT 1") == 1
    finally:
        await sleeper.close()
        if not victim.is_closed():
            victim.terminate()


async def test_execute_returns_the_status(conns, schema):
    writer = writer_for(conns)
    await writer.execute(f"CREATE TABLE {schema}.t (a int)")
    assert await writer.execute(f"INSERT INTO {schema}.t SELECT generate_series(1, $1::int)",
                                3) == "INSERT 0 3"
