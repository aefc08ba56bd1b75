"""``performance-review`` on real parts: the real PostgreSQL (tests/servers.py) with the
missing-index scenario's table and its slow query running for real (the sandbox's own
query loop), the real Redis, the Kubernetes emulator, and a real Prometheus process
scraping the MCP-server simulator where the binary is installed.
"""

from __future__ import annotations

import asyncio
import shutil

import asyncpg
import httpx
import pytest
import servers
import yaml
from conftest import drive

from sandbox import scenario_perf
from sandbox.simulator import Simulator

pytestmark = pytest.mark.timeout(240)
NS = "mcp-production"
INDEX = "idx_tool_call_events_account_id"
NO_CHANGES = {"create-index": "skipped", "drop-invalid-indexes": "skipped",
              "analyze-table": "skipped", "resource-limits": "skipped",
              "hpa-cpu-target": "skipped"}


@pytest.fixture
async def slow(world):
    """The scenario's table in the world's database (200 accounts, as the sandbox seeds)
    and its slow query running again and again, as the simulator runs it."""
    dsn = world.pg.dsn(world.pg.production)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute("INSERT INTO accounts (name) SELECT 'account-' || g "
                           "FROM generate_series(21, 200) AS g")
    finally:
        await conn.close()
    await scenario_perf.seed(dsn)
    # The review samples pg_stat_activity every 0.25 s (no pg_stat_statements here): at a
    # 0.2 s threshold every run of the query is seen, whatever the machine's speed.
    world.set_thresholds(slow_query_seconds=0.2)
    assert world.config().environment("sandbox")[1].thresholds.slow_query_seconds == 0.2
    loop = scenario_perf.QueryLoop(dsn)
    loop.start()
    try:
        for _ in range(100):  # the first run has ended: the statement is seen
            if loop.runs:
                break
            await asyncio.sleep(0.1)
        assert loop.runs, loop.last_error
        yield dsn
    finally:
        await loop.stop()


async def index_validity(dsn: str, name: str) -> bool | None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return await conn.fetchval(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = $1", name)
    finally:
        await conn.close()


async def query_plan(dsn: str) -> str:
    """The planner's plan for the scenario's slow query (EXPLAIN, not a stopwatch: how the
    table is read is what the index changes; the seconds depend on the machine's load)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch("EXPLAIN " + scenario_perf.SLOW_QUERY)
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


async def keyspace_lookups() -> None:
    """A hit and a miss on the world's Redis, so its hit ratio exists whatever ran before
    (a fresh server has none, and the review says so instead of judging it)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(servers.redis_url())
    try:
        await client.set("perf-review:warm", "1")
        await client.get("perf-review:warm")
        await client.get("perf-review:absent")
    finally:
        await client.delete("perf-review:warm")
        await client.aclose()


async def test_review_finds_the_slow_query_and_a_concurrent_index_fixes_it(world, slow, tmp_path):
    report = tmp_path / "notes" / "review.md"
    await keyspace_lookups()
    assert "Seq Scan on tool_call_events" in await query_plan(slow)  # before: the whole table
    driven = await drive(world, "performance-review", {
        "index_table": "tool_call_events", "index_columns": "account_id",
        "report_path": str(report)})
    assert driven.problems == []
    assert driven.statuses == {"traffic": "ok", "slow-statements": "ok",
                               "cache-efficiency": "ok", **NO_CHANGES, "create-index": "ok",
                               "report": "ok"}, driven.text()
    text = driven.text()
    # no Prometheus in this world: said plainly, and the rest ran
    assert "Prometheus is not configured (service.prometheus_url is not set)" in text
    slow_lines = [line for line in driven.lines if line.startswith("WARNING")
                  and "slow statement" in line and "tool_call_events" in line]
    assert slow_lines, text
    assert any(f"table public.tool_call_events ({scenario_perf.EVENT_ROWS} rows)" in line
               and "an index may be missing" in line for line in driven.lines), text
    assert any(line.startswith(("HEALTHY", "WARNING", "CRITICAL"))
               and "Redis keyspace hit ratio" in line for line in driven.lines), text
    # the plan showed the statement, quoted; the index is valid and the query fast
    [plan] = [r["data"] for r in driven.records("step_plan") if r["data"]["id"] == "create-index"]
    assert plan["commands"] == [f'CREATE INDEX CONCURRENTLY "{INDEX}" ON "tool_call_events" '
                                '("account_id");']
    assert await index_validity(slow, INDEX) is True
    assert f"index {INDEX} valid (pg_index.indisvalid = true)" in text
    plan = await query_plan(slow)  # each account's subquery reads the index, not the table
    assert INDEX in plan and "Seq Scan on tool_call_events" not in plan, plan
    body = report.read_text()
    assert body.startswith("# Weekly performance review — sandbox")
    for heading in ("## Traffic: request rate and peak hours",
                    "## Database: slow statements and indexes", "## Cache efficiency",
                    "## Tuning changes"):
        assert heading in body
    assert "slow statement" in body and f"index {INDEX} on tool_call_events" in body


@pytest.mark.parametrize("answers, bad", [
    ({"index_table": 'tool_call_events"; DROP TABLE accounts; --',
      "index_columns": "account_id"}, "index_table"),
    ({"index_table": "tool_call_events", "index_columns": "account_id; DROP TABLE accounts"},
     "index_columns"),
    ({"index_table": "tool_call_events", "index_columns": "account_id",
      "index_name": "x';--"}, "index_name"),
    ({"analyze_table": "accounts;"}, "analyze_table"),
])
async def test_a_bad_identifier_is_refused_before_anything_runs(world, answers, bad):
    driven = await drive(world, "performance-review", answers)
    assert [p.name for p in driven.problems] == [bad]
    assert "not allowed" in driven.problems[0].message
    assert driven.outcomes == {}  # not even the read steps ran
    assert await world.pg.count(world.pg.production, "accounts") == 20


async def test_a_failed_concurrent_build_leaves_no_invalid_index(world, slow, tmp_path):
    # a unique index over account_id, which repeats: the build fails half-way
    driven = await drive(world, "performance-review", {
        "index_table": "tool_call_events", "index_columns": "account_id",
        "index_name": "idx_events_unique", "index_unique": "yes", "sample_seconds": "0",
        "report_path": str(tmp_path / "r.md")})
    assert driven.statuses["create-index"] == "failed", driven.text()
    error = driven.outcomes["create-index"].error
    assert "could not create unique index" in error
    assert "the invalid index public.idx_events_unique it left was dropped" in error
    assert "report" not in driven.statuses  # a failed step stops the wizard
    assert await index_validity(slow, "idx_events_unique") is None


async def test_an_invalid_index_left_earlier_is_found_and_dropped(world, slow, tmp_path):
    conn = await asyncpg.connect(slow, timeout=5)
    try:  # a failed build outside the console leaves its invalid index behind
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("CREATE UNIQUE INDEX CONCURRENTLY left_behind "
                               "ON tool_call_events (account_id)")
    finally:
        await conn.close()
    assert await index_validity(slow, "left_behind") is False
    driven = await drive(world, "performance-review", {"drop_invalid": "yes",
                                                       "sample_seconds": "0"})
    assert driven.statuses["drop-invalid-indexes"] == "ok", driven.text()
    # no path given: the report goes beside the session logs
    [report] = (world.config_path.parent / "reports").glob("performance-review-sandbox-*.md")
    assert "invalid index public.left_behind on tool_call_events dropped" in report.read_text()
    assert any(line.startswith("WARNING") and "invalid index public.left_behind on "
               "tool_call_events" in line for line in driven.lines), driven.text()
    assert "dropped public.left_behind (invalid, on tool_call_events)" in driven.text()
    assert await index_validity(slow, "left_behind") is None
    [plan] = [r["data"] for r in driven.records("step_plan")
              if r["data"]["id"] == "drop-invalid-indexes"]
    assert plan["commands"] == ['DROP INDEX CONCURRENTLY "public"."left_behind";']


async def test_analyze_limits_and_hpa_target_keep_what_they_do_not_change(world, tmp_path):
    memory = {"type": "Resource", "resource": {"name": "memory", "target": {
        "type": "Utilization", "averageUtilization": 75}}}
    world.store.mutate("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa",
                       lambda h: h["spec"].update(metrics=[memory, *h["spec"]["metrics"]]))
    before = world.deployment()["spec"]["template"]["spec"]["containers"][0]
    driven = await drive(world, "performance-review", {
        "analyze_table": "critical_table", "cpu_request": "1000m", "memory_limit": "8Gi",
        "hpa_cpu_target": "60", "sample_seconds": "0", "report_path": str(tmp_path / "r.md")})
    assert driven.statuses["analyze-table"] == "ok", driven.text()
    assert driven.statuses["resource-limits"] == "ok", driven.text()
    assert driven.statuses["hpa-cpu-target"] == "ok", driven.text()
    conn = await asyncpg.connect(world.pg.dsn(world.pg.production), timeout=5)
    try:
        assert await conn.fetchval("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                                   "WHERE relname = 'critical_table'")
    finally:
        await conn.close()
    [container] = [c for c in world.deployment()["spec"]["template"]["spec"]["containers"]
                   if c["name"] == "mcp-server"]
    old = before.get("resources", {})
    assert container["resources"]["requests"]["cpu"] == "1000m"
    assert container["resources"]["limits"]["memory"] == "8Gi"
    # what was not given is kept
    if "memory" in old.get("requests", {}):
        assert container["resources"]["requests"]["memory"] == old["requests"]["memory"]
    notes = [r["data"] for r in driven.records("note")]
    assert any(n.get("previous") == old for n in notes)  # for an undo
    spec = world.store.peek("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")["spec"]
    assert spec["metrics"][0] == memory
    assert spec["metrics"][1]["resource"]["target"]["averageUtilization"] == 60
    [plan] = [r["data"] for r in driven.records("step_plan")
              if r["data"]["id"] == "resource-limits"]
    assert plan["commands"][0].startswith("kubectl patch deployment mcp-server-production")
    assert '"requests":{"cpu":"1000m"}' in plan["commands"][0]


@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="prometheus binary not installed (apt-get install prometheus)")
async def test_traffic_chart_and_peak_hours_from_a_real_prometheus(world, tmp_path):
    from sandbox.prometheus import start_prometheus

    simulator = Simulator(database_dsn=world.pg.dsn(world.pg.production),
                          redis_url=f"redis://{servers.REDIS_HOSTPORT}/0", seed=7)
    await simulator.start()
    prom = await start_prometheus(tmp_path / "prom", {"mcp-server-production":
                                                      simulator.base_url})
    try:
        config = yaml.safe_load(world.config_path.read_text())
        config["environments"]["sandbox"]["service"]["prometheus_url"] = prom.url
        world.config_path.write_text(yaml.safe_dump(config))
        async with httpx.AsyncClient() as client:  # two scrapes at least: a rate exists
            for _ in range(60):
                body = (await client.get(f"{prom.url}/api/v1/query", params={
                    "query": 'count_over_time(up{job="mcp-server-production"}[1m])'})).json()
                result = body["data"]["result"]
                if result and float(result[0]["value"][1]) >= 3:
                    break
                await asyncio.sleep(0.5)
        driven = await drive(world, "performance-review", {
            "sample_seconds": "0", "report_path": str(tmp_path / "r.md")})
    finally:
        await prom.stop()
        await simulator.stop()
    assert driven.statuses["traffic"] == "ok", driven.text()
    text = driven.text()
    assert "Request rate, last 24 h" in text and "Prometheus is not configured" not in text
    chart = [line for line in driven.lines if "┤" in line or "└" in line]
    assert len(chart) >= 6 and all(len(line) <= 80 for line in chart)
    assert any("peak hours over 7 days (UTC)" in line for line in driven.lines), text
    assert any(line.startswith("HEALTHY") and "error rate over 24 h" in line
               for line in driven.lines), text
    assert any("P95 response time over 24 h" in line for line in driven.lines), text
    assert "req/s, UTC" in (tmp_path / "r.md").read_text()


def system_postgres_with_statements():
    """The bin directory of an installed PostgreSQL that ships pg_stat_statements."""
    from pathlib import Path

    from sandbox.embedded_postgres import has_library

    for bin_dir in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (bin_dir / "postgres").exists() and has_library(bin_dir, "pg_stat_statements"):
            return bin_dir
    return None


@pytest.mark.skipif(system_postgres_with_statements() is None,
                    reason="no installed PostgreSQL ships pg_stat_statements")
async def test_slow_statement_found_by_mean_time_in_pg_stat_statements(world, tmp_path):
    """A private server of the machine's PostgreSQL, started as the sandbox starts its
    embedded one but preloading pg_stat_statements (the shared server on 5432 does not):
    the review reads the scenario's query by its mean time, the runbook's way."""
    from sandbox.embedded_postgres import start_embedded

    (tmp_path / "pg").mkdir()
    server = await start_embedded(tmp_path / "pg", max_connections=20,
                                  preload=("pg_stat_statements",),
                                  bin_dir=system_postgres_with_statements())
    loop = None
    try:
        dsn = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute("CREATE EXTENSION pg_stat_statements")
            await conn.execute("CREATE TABLE accounts (id serial PRIMARY KEY, name text); "
                               "INSERT INTO accounts (name) SELECT 'a' || g "
                               "FROM generate_series(1, 200) AS g")
        finally:
            await conn.close()
        await scenario_perf.seed(dsn)
        # the seed's INSERT of 500,000 rows can itself take over 1 s on a loaded machine:
        # only what runs from here on is the review's to find
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            await conn.execute("SELECT pg_stat_statements_reset()")
        finally:
            await conn.close()
        loop = scenario_perf.QueryLoop(dsn, pause=0.2)
        loop.start()
        for _ in range(200):
            if loop.runs >= 2:
                break
            await asyncio.sleep(0.1)
        assert loop.runs >= 2, loop.last_error
        config = yaml.safe_load(world.config_path.read_text())
        config["environments"]["sandbox"]["postgres"]["dsn"] = dsn
        world.config_path.write_text(yaml.safe_dump(config))
        driven = await drive(world, "performance-review", {
            "sample_seconds": "0", "report_path": str(tmp_path / "r.md")})
    finally:
        if loop is not None:
            await loop.stop()
        await server.process.stop(grace=10)
        if server.own_dir is not None:
            shutil.rmtree(server.own_dir, ignore_errors=True)
    assert driven.statuses["slow-statements"] == "ok", driven.text()
    text = driven.text()
    assert "pg_stat_statements: 1 statement(s) with a mean above 1 s" in text, text
    assert "pg_stat_statements is not available" not in text
    [line] = [line for line in driven.lines if "slow statement: mean" in line]
    assert line.startswith("WARNING") and "tool_call_events" in line
    calls = int(line.split(" calls: ")[0].rsplit(", ", 1)[1])
    assert calls >= 2


def test_the_charts_fit_80_columns_and_show_the_peaks():
    from actions.performance_chart import hourly_profile, peak_chart, peak_hours, rate_chart

    end = 20_429 * 86_400.0  # midnight, UTC
    day = [(end - 86_400 + i * 600, 10.0 + (50.0 if 60 <= i < 66 else 0.0)) for i in range(145)]
    chart = rate_chart(day, start=end - 86_400, end=end)
    assert all(len(line) <= 80 for line in chart)
    top = chart[0]
    assert top.split("┤")[0].strip() == "60"  # the highest value labels the axis
    columns = top.split("┤")[1]
    assert columns.strip() and columns.index("█") in range(25, 28)  # 10 h into the day
    week = [(end - 7 * 86_400 + h * 3600, 100.0 if h % 24 in (9, 14) else 5.0 + h % 24 / 10)
            for h in range(1, 7 * 24 + 1)]
    profile = hourly_profile(week)
    assert peak_hours(profile)[:2] in ([8, 13], [13, 8])  # the hour each point closes
    lines = peak_chart(profile)
    assert len(lines) == 24 and all(len(line) <= 80 for line in lines)
    assert lines[8].endswith("← peak") and lines[13].endswith("← peak")


async def test_index_table_without_columns_is_refused(world):
    driven = await drive(world, "performance-review", {"index_table": "tool_call_events"})
    assert [p.name for p in driven.problems] == ["(inputs)"]
    assert "index_table and index_columns go together" in driven.problems[0].message
    assert driven.outcomes == {}


async def test_read_only_reviews_but_builds_nothing(world, slow, tmp_path):
    driven = await drive(world, "performance-review", {
        "index_table": "tool_call_events", "index_columns": "account_id", "sample_seconds": "0",
        "report_path": str(tmp_path / "r.md")}, read_only=True)
    assert driven.statuses["slow-statements"] == "ok"
    assert driven.statuses["create-index"] == "refused", driven.text()
    assert await index_validity(slow, INDEX) is None
