"""The ``performance-review`` wizard — the guide's weekly "Regular Performance Reviews".

Look first, each finding judged by the environment's thresholds: the request rate over the
last 24 h and the busiest hours of the last 7 days (Prometheus range queries, drawn as
text charts), the slow statements (``pg_stat_statements``, the runbook's query with
``mean_exec_time`` — ``mean_time`` was renamed in PostgreSQL 13), tables read whole by
sequential scans, invalid indexes, and the Redis keyspace hit ratio. Then the guide's
tuning actions, each off unless asked for (:mod:`.performance_tuning`), and the report as
a Markdown file for the weekly notes (:mod:`.performance_report`).

Where the guide is vague or wrong:

- ``./scripts/performance-analysis.sh`` does not exist; its figures come from Prometheus.
  Without ``service.prometheus_url`` the traffic step says so and the rest runs: a
  service's own ``/metrics`` has only counters since its start, not a week of history.
- ``pg_stat_statements`` needs ``shared_preload_libraries`` and a restart; where it is
  missing, the step says how to enable it and looks at what it can without it: statements
  running longer than the threshold now (sampled for a few seconds) and tables read whole
  by sequential scans — where a missing index shows.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import httpx

from console.execution.context import StepContext
from console.execution.inputs import IntInput
from console.execution.model import Plan, Risk, Step, StepOutput, Wizard
from console.health.status import Finding, Status, fmt_num
from console.sources import prometheus

from .library.diagnosis import judge
from .performance_chart import hourly_profile, peak_chart, peak_hours, rate_chart
from .performance_report import REPORT_PATH, label, plan_report, run_report
from .performance_state import INVALID, Section, sections
from .performance_tuning import TUNING_STEPS, check_tuning

DAY, WEEK = 24 * 3600.0, 7 * 24 * 3600.0
SEQ_SCAN_MIN_ROWS = 10_000  # a table smaller than this is cheap to read whole


Look = Callable[[StepContext, Section], Awaitable[None]]


def review_step(step_id: str, title: str, explanation: str, *, look: Look,
                plan: Callable[[StepContext], Plan], inputs: tuple[Any, ...] = (),
                timeout: float = 120.0) -> Step:
    """A read step that fills a :class:`Section`, shows its lines then its findings worst
    first, and never fails the wizard: a review that finds a problem has done its job."""

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        section = Section(title)
        sections(ctx)[step_id] = section
        await look(ctx, section)
        for line in section.lines:
            yield line
        for finding in sorted(section.findings, key=lambda f: -f.status):
            yield f"{label(finding.status):<11} {finding.reason}"

    return Step(step_id, title, explanation, Risk.READ, plan, run, inputs=inputs,
                timeout=timeout)


# ---- 1. traffic (Prometheus) -------------------------------------------------------------
def _selector(ctx: StepContext, extra: str = "") -> str:
    return f'{{job="{ctx.env.service.prometheus_job}"{extra}}}'


def promql(ctx: StepContext) -> dict[str, str]:
    """The queries the traffic step sends (also shown in its plan)."""
    s, s5 = _selector(ctx), _selector(ctx, ',status=~"5.."')
    return {
        "rate_24h": f"sum(rate(http_requests_total{s}[24m]))",
        "hourly_7d": f"sum(rate(http_requests_total{s}[1h]))",
        "errors_24h": f"sum(rate(http_requests_total{s5}[24h])) / "
                      f"sum(rate(http_requests_total{s}[24h])) * 100",
        "p95_24h": "histogram_quantile(0.95, sum by (le) "
                   f"(rate(http_request_duration_seconds_bucket{s}[24h])))",
    }


def plan_traffic(ctx: StepContext) -> Plan:
    url = ctx.env.service.prometheus_url
    if not url:
        return Plan("Request rate and peak hours need Prometheus, and service.prometheus_url "
                    "is not set: this step will only say so")
    q = promql(ctx)
    return Plan(f"Range queries to {url}: the request rate over 24 h (every 24 min) and by "
                "hour over 7 days; the 24 h error rate and P95, judged by the thresholds",
                (Plan.command("promtool", "query", "range", "--start=-24h", "--step=24m", url,
                              q["rate_24h"]),
                 Plan.command("promtool", "query", "range", "--start=-7d", "--step=1h", url,
                              q["hourly_7d"]),
                 Plan.command("promtool", "query", "instant", url, q["errors_24h"]),
                 Plan.command("promtool", "query", "instant", url, q["p95_24h"])))


async def look_traffic(ctx: StepContext, section: Section) -> None:
    url = ctx.env.service.prometheus_url
    if not url:
        section.lines.append("Prometheus is not configured (service.prometheus_url is not set): "
                             "no request-rate chart or peak hours; the service's /metrics has "
                             "only counters since it started, not a week of history.")
        section.findings.append(Finding("service", "prometheus", Status.UNKNOWN,
                                        "request rate and peak hours not reviewed: no "
                                        "Prometheus configured"))
        return
    q = promql(ctx)
    now = time.time()
    end = now  # not rounded down: a young Prometheus has only the last seconds
    hour_end = now - now % 3600 + 3600
    try:
        async with httpx.AsyncClient(timeout=ctx.env.service.timeout + 10) as client:
            day, week, errors, p95 = await asyncio.gather(
                prometheus.query_range(client, url, q["rate_24h"], start=end - DAY, end=end,
                                       step=DAY / 60),
                prometheus.query_range(client, url, q["hourly_7d"], start=hour_end - WEEK,
                                       end=hour_end, step=3600),
                prometheus.query(client, url, q["errors_24h"]),
                prometheus.query(client, url, q["p95_24h"]))
    except (httpx.HTTPError, prometheus.PrometheusError) as exc:
        section.lines.append(f"Prometheus at {url} did not answer: {type(exc).__name__}: {exc}")
        section.findings.append(Finding("service", "prometheus", Status.UNKNOWN,
                                        f"request rate not reviewed: Prometheus error {exc}"))
        return
    points = day[0].points if day else ()
    if not points:
        section.lines.append(f"Prometheus at {url} has no http_requests_total for job "
                             f"{ctx.env.service.prometheus_job} in the last 24 h.")
        section.findings.append(Finding("service", "request_rate", Status.UNKNOWN,
                                        "no request-rate data in the last 24 h"))
        return
    covered = (points[-1][0] - points[0][0]) / 3600
    section.lines.append(f"Request rate, last 24 h (data for {fmt_num(covered)} h):")
    section.lines += rate_chart(points, start=end - DAY, end=end)
    average = sum(v for _, v in points) / len(points)
    peak_t, peak_v = max(points, key=lambda p: p[1])
    section.findings.append(Finding(
        "service", "request_rate", Status.HEALTHY,
        f"request rate over 24 h: average {fmt_num(average)} req/s, highest "
        f"{fmt_num(peak_v)} req/s at {time.strftime('%H:%M', time.gmtime(peak_t))} UTC",
        average))
    profile = hourly_profile(week[0].points if week else ())
    if profile:
        section.lines.append("Average request rate by hour of day (UTC), last 7 days:")
        section.lines += peak_chart(profile)
        peaks = ", ".join(f"{h:02d}:00" for h in peak_hours(profile))
        section.findings.append(Finding("service", "peak_hours", Status.HEALTHY,
                                        f"peak hours over 7 days (UTC): {peaks}"))
    t = ctx.env.thresholds
    error_pct = prometheus.scalar(errors)
    if error_pct is None:  # no 5xx series at all: no errors
        error_pct = 0.0
    section.findings.append(judge("service", "error_rate_24h", "error rate over 24 h",
                                  error_pct, t.error_rate_pct, unit="%"))
    p95_s = prometheus.scalar(p95)
    if p95_s is not None:
        section.findings.append(judge("service", "p95_24h", "P95 response time over 24 h",
                                      round(p95_s * 1000), t.p95_ms, unit=" ms",
                                      inclusive_critical=True))


# ---- 2. the database -------------------------------------------------------------------
SLOW_STATEMENTS_SQL = """
SELECT query, mean_exec_time, calls FROM pg_stat_statements
WHERE mean_exec_time > $1
  AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC LIMIT 10
"""
STATEMENTS_STATE_SQL = """
SELECT current_setting('shared_preload_libraries') AS preload,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS installed,
       EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')
           AS available
"""
RUNNING_SQL = """
SELECT pid, left(query, 300) AS query,
       extract(epoch FROM now() - query_start)::float8 AS seconds
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
  AND datname = current_database() AND now() - query_start > make_interval(secs => $1)
"""
# running longer than the threshold now, with no completed run above it counted yet: a
# statement's first run, or one so slow it has not finished since the statistics began
UNCOUNTED_SQL = RUNNING_SQL + """\
  AND NOT EXISTS (SELECT 1 FROM pg_stat_statements s
                  WHERE s.queryid = pg_stat_activity.query_id AND s.mean_exec_time > $1 * 1000)
"""
SEQ_SCANS_SQL = """
SELECT s.schemaname || '.' || s.relname AS table, s.seq_scan, s.seq_tup_read,
       coalesce(s.idx_scan, 0) AS idx_scan,
       greatest(c.reltuples, 0)::bigint AS n_live_tup  -- as of the last VACUUM/ANALYZE
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
WHERE s.seq_scan > 0 AND c.reltuples >= $1
ORDER BY s.seq_tup_read DESC LIMIT 5
"""
INVALID_INDEXES_SQL = """
SELECT n.nspname || '.' || c.relname AS index, t.relname AS table
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid ORDER BY 1
"""
ENABLE_STATEMENTS = ("to enable it: add pg_stat_statements to shared_preload_libraries "
                     "(postgresql.conf, or the chart's postgresql.sharedPreloadLibraries), "
                     "restart PostgreSQL, then CREATE EXTENSION pg_stat_statements;")

SAMPLE = IntInput("sample_seconds", "Seconds to watch running statements without "
                  "pg_stat_statements", minimum=0, maximum=120, default=6, required=False,
                  help="Only used where pg_stat_statements is not available: statements "
                       "running longer than the slow-query threshold, sampled this long.")


def _one_line(query: str, width: int = 120) -> str:
    text = " ".join(query.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def plan_database(ctx: StepContext) -> Plan:
    limit_ms = ctx.env.thresholds.slow_query_seconds * 1000
    runbook = (f"SELECT query, mean_exec_time, calls FROM pg_stat_statements WHERE "
               f"mean_exec_time > {fmt_num(limit_ms)} ORDER BY mean_exec_time DESC LIMIT 10;")
    k = ctx.env.kubernetes
    return Plan("Read pg_stat_statements for statements slower than "
                f"{fmt_num(ctx.env.thresholds.slow_query_seconds)} s on average, tables read "
                "whole by sequential scans, and invalid indexes (read-only)",
                (Plan.command("kubectl", "exec", "-n", k.namespace,
                              f"deployment/{k.database_workload}", "--", "psql", "-c", runbook),))


async def _statements_state(ctx: StepContext) -> tuple[bool, str]:
    pg = await ctx.postgres()
    state = await pg.fetchrow(STATEMENTS_STATE_SQL)
    preloaded = "pg_stat_statements" in (state["preload"] or "")
    if state["installed"] and preloaded:
        return True, ""
    if not state["available"]:
        why = "the pg_stat_statements extension is not shipped with this server"
    elif not preloaded:
        why = ("pg_stat_statements is not in shared_preload_libraries "
               f"({state['preload'] or 'empty'})")
    else:
        why = "the extension is loaded but not created in this database"
    return False, why


async def look_database(ctx: StepContext, section: Section) -> None:
    t = ctx.env.thresholds
    limit = t.slow_query_seconds
    pg = await ctx.postgres()
    available, why = await _statements_state(ctx)
    if available:
        try:
            rows = await pg.fetch(SLOW_STATEMENTS_SQL, limit * 1000)
        except Exception as exc:  # noqa: BLE001 - e.g. loaded after the extension was made
            available, why = False, f"pg_stat_statements could not be read: {exc}"
        else:
            section.lines.append(f"pg_stat_statements: {len(rows)} statement(s) with a mean "
                                 f"above {fmt_num(limit)} s")
            for r in rows:
                mean_s = r["mean_exec_time"] / 1000
                section.findings.append(Finding(
                    "database", "slow_statement", Status.WARNING,
                    f"slow statement: mean {fmt_num(mean_s, 2)} s > {fmt_num(limit)} s, "
                    f"{r['calls']} calls: {_one_line(r['query'])}", mean_s))
            running = await pg.fetch(UNCOUNTED_SQL, limit)
            if running:
                section.lines.append(f"running now longer than {fmt_num(limit)} s, with no "
                                     f"completed run counted yet: {len(running)}")
            for r in running:
                section.findings.append(_running_finding(_one_line(r["query"]), r["seconds"],
                                                         limit))
            if not rows and not running:
                section.findings.append(Finding(
                    "database", "slow_statement", Status.HEALTHY,
                    f"no statement with a mean above {fmt_num(limit)} s"))
    if not available:
        section.lines.append(f"pg_stat_statements is not available: {why}; {ENABLE_STATEMENTS}")
        section.findings.append(Finding("database", "pg_stat_statements", Status.UNKNOWN,
                                        f"slow statements by mean time not available ({why})"))
        await _running_now(ctx, section, limit)
    await _seq_scans(ctx, section)
    invalid = ctx.cache.setdefault(INVALID, [])
    for r in await pg.fetch(INVALID_INDEXES_SQL):
        invalid.append(r["index"])
        section.findings.append(Finding(
            "database", "invalid_index", Status.WARNING,
            f"invalid index {r['index']} on {r['table']} (pg_index.indisvalid false: left by a "
            "failed concurrent build; it costs every write and serves no query) — drop it "
            "with drop_invalid=yes"))


async def _running_now(ctx: StepContext, section: Section, limit: float) -> None:
    """Statements running longer than ``limit`` now, sampled every 0.25 s for
    ``sample_seconds``; the longest sighting of each statement kept."""
    pg = await ctx.postgres()
    seconds = ctx.values.get("sample_seconds")
    seconds = 6 if seconds is None else int(seconds)
    seen: dict[str, float] = {}
    deadline = time.monotonic() + seconds
    while True:
        for r in await pg.fetch(RUNNING_SQL, limit):
            query = _one_line(r["query"])
            seen[query] = max(seen.get(query, 0.0), r["seconds"])
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.25)
    section.lines.append(f"watched running statements for {seconds} s instead: {len(seen)} "
                         f"ran longer than {fmt_num(limit)} s")
    for query, secs in sorted(seen.items(), key=lambda qs: -qs[1]):
        section.findings.append(_running_finding(query, secs, limit))


def _running_finding(query: str, seconds: float, limit: float) -> Finding:
    return Finding("database", "slow_statement", Status.WARNING,
                   f"slow statement: running {fmt_num(seconds, 2)} s > {fmt_num(limit)} s: "
                   f"{query}", seconds)


async def _seq_scans(ctx: StepContext, section: Section) -> None:
    pg = await ctx.postgres()
    for r in await pg.fetch(SEQ_SCANS_SQL, SEQ_SCAN_MIN_ROWS):
        per_scan = r["seq_tup_read"] / r["seq_scan"]
        whole = r["n_live_tup"] and per_scan >= 0.5 * r["n_live_tup"]
        status = Status.WARNING if whole and r["seq_scan"] >= 10 else Status.HEALTHY
        section.findings.append(Finding(
            "database", f"seq_scan.{r['table']}", status,
            f"table {r['table']} ({r['n_live_tup']} rows): {r['seq_scan']} sequential scans "
            f"of {fmt_num(per_scan, 0)} rows each, {r['idx_scan']} index scans"
            + (" — an index may be missing" if status is Status.WARNING else ""),
            float(r["seq_scan"])))


# ---- 3. the cache ----------------------------------------------------------------------
def plan_cache(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan("Read Redis INFO stats: keyspace hits and misses, evictions; the hit ratio "
                "judged by the thresholds",
                (Plan.command("kubectl", "exec", "-n", k.namespace,
                              "deployment/redis-production-master", "--", "redis-cli", "info",
                              "stats"),))


async def look_cache(ctx: StepContext, section: Section) -> None:
    stats = await ctx.redis().info("stats")
    hits, misses = int(stats.get("keyspace_hits", 0)), int(stats.get("keyspace_misses", 0))
    evicted = int(stats.get("evicted_keys", 0))
    section.lines.append(f"keyspace_hits {hits}, keyspace_misses {misses}, evicted_keys "
                         f"{evicted} (since the server started)")
    if hits + misses == 0:
        section.findings.append(Finding("cache", "hit_rate", Status.UNKNOWN,
                                        "no keyspace lookups yet: no hit ratio"))
    else:
        section.findings.append(judge("cache", "hit_rate", "Redis keyspace hit ratio",
                                      round(100 * hits / (hits + misses), 1),
                                      ctx.env.thresholds.redis_hit_rate_pct, unit="%",
                                      low_is_worse=True))
    section.findings.append(Finding(
        "cache", "evictions", Status.WARNING if evicted else Status.HEALTHY,
        f"{evicted} keys evicted since the server started", float(evicted)))


REVIEW_STEPS: tuple[Step, ...] = (
    review_step("traffic", "Traffic: request rate and peak hours",
                "The guide's weekly analysis: the request rate over the last day and when the "
                "week's peaks come, from Prometheus range queries; the day's error rate and "
                "P95 judged by the thresholds. Without Prometheus this step says so.",
                look=look_traffic, plan=plan_traffic, timeout=60),
    review_step("slow-statements", "Database: slow statements and indexes",
                "The guide's slow-query check, with mean_exec_time (PostgreSQL 13 renamed "
                "mean_time). Tables read whole by sequential scans show where an index is "
                "missing; an invalid index left by a failed concurrent build is named.",
                look=look_database, plan=plan_database, inputs=(SAMPLE,), timeout=180),
    review_step("cache-efficiency", "Cache efficiency",
                "The guide's keyspace_hits / keyspace_misses, as a hit ratio judged by the "
                "thresholds (> 95 % healthy, < 80 % critical).",
                look=look_cache, plan=plan_cache, timeout=30),
)


def report_step() -> Step:
    return Step("report", "Write the report", "The review and the changes made, as a "
                "Markdown file to attach to the weekly notes; nothing on the platform changes.",
                Risk.READ, plan_report, run_report, inputs=(REPORT_PATH,), timeout=30)


def steps() -> Sequence[Step]:
    return (*REVIEW_STEPS, *TUNING_STEPS, report_step())


WIZARD = Wizard(
    id="performance-review", title="Weekly performance review",
    section="Performance Optimization › Regular Performance Reviews",
    when="Weekly: traffic, slow queries, cache efficiency; tune indexes, limits and HPA.",
    check=check_tuning,
    steps=tuple(steps()),
)
