"""``alert-high-error-rate`` and ``alert-slow-response`` — the runbook's "High Error Rate"
and "Slow Response Times" alert responses.

Both read the server's own ``/metrics`` (``http_requests_total`` by status and path, the
``http_request_duration_seconds`` histogram by path: counters since the server started,
i.e. since its last restart or release) and judge them by ``error_rate_pct`` and
``p95_ms``; the health endpoints as the dashboard probes them; then:

- error rate: the 5xx by status and by endpoint, and the error lines of the last five
  minutes from **every** pod (``kubectl logs deployment/...`` reads one);
- slow responses: P95 by endpoint, the health endpoints' timings, and the slowest
  statements of ``pg_stat_statements`` (or the running ones when it is not installed).

Remedies: ``undo`` when a recent release brought it (by default then), ``restart``, and
for slow responses ``scale``; beyond that the performance review.
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status
from console.sources.prometheus import Sample, parse_text

from ..library.diagnosis import diagnosis_step, judge
from ..library.health import component_check_step
from .common import after_step, remedy_input, restart_step, scale_step, undo_step
from .release import release_step, remedy_default

ERROR_LINE = re.compile(r"\b(ERROR|FATAL|CRITICAL|Exception|Traceback|5\d\d)\b")
LOG_WINDOW = 300  # seconds of log read from every pod
SAMPLES = 3
CACHE = "alerts.metrics"


@dataclass(frozen=True)
class Traffic:
    by_path_status: dict[tuple[str, str], float]
    buckets: dict[str, dict[float, float]]  # path -> le -> cumulative count

    @property
    def total(self) -> float:
        return sum(self.by_path_status.values())

    @property
    def errors(self) -> float:
        return sum(v for (_, s), v in self.by_path_status.items() if s.startswith("5"))

    @property
    def error_pct(self) -> float | None:
        return 100.0 * self.errors / self.total if self.total else None

    def p95_ms(self, path: str | None = None) -> float | None:
        merged: dict[float, float] = {}
        for p, buckets in self.buckets.items():
            if path is None or p == path:
                for le, count in buckets.items():
                    merged[le] = merged.get(le, 0.0) + count
        return quantile_ms(merged, 0.95)


def quantile_ms(buckets: dict[float, float], q: float) -> float | None:
    """``histogram_quantile`` over cumulative buckets: linear inside the bucket."""
    edges = sorted(buckets)
    if not edges or not buckets[edges[-1]]:
        return None
    rank = q * buckets[edges[-1]]
    lower, below = 0.0, 0.0
    for le in edges:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower * 1000.0
            inside = count - below
            share = (rank - below) / inside if inside else 1.0
            return (lower + (le - lower) * share) * 1000.0
        lower, below = le, count
    return None


def traffic_of(samples: list[Sample]) -> Traffic:
    by: dict[tuple[str, str], float] = {}
    buckets: dict[str, dict[float, float]] = {}
    for s in samples:
        if s.name == "http_requests_total":
            key = (f"{s.label('method')} {s.label('path')}".strip(), s.label("status"))
            by[key] = by.get(key, 0.0) + s.value
        elif s.name == "http_request_duration_seconds_bucket":
            path = f"{s.label('method')} {s.label('path')}".strip()
            le = float(s.label("le", "+Inf").replace("+Inf", "inf"))
            buckets.setdefault(path, {})[le] = buckets.setdefault(path, {}).get(le, 0.0) + s.value
    return Traffic(by, buckets)


async def traffic(ctx: StepContext, *, fresh: bool = False) -> Traffic:
    """One scrape of the server's ``/metrics`` (a GET: a read)."""
    if fresh or CACHE not in ctx.cache:
        service = ctx.env.service
        async with httpx.AsyncClient(timeout=service.timeout) as http:
            response = await http.get(service.base_url.rstrip("/") + service.metrics_path)
        if response.status_code != 200:
            raise StepFailed(f"{service.metrics_path} answered {response.status_code}")
        ctx.cache[CACHE] = traffic_of(parse_text(response.text))
    found: Traffic = ctx.cache[CACHE]
    return found


def metrics_commands(ctx: StepContext) -> list[str]:
    return [Plan.command("curl", "-s", ctx.env.service.base_url.rstrip("/")
                         + ctx.env.service.metrics_path)]


# ---- error rate -------------------------------------------------------------------------
async def error_findings(ctx: StepContext) -> list[Finding]:
    found = await traffic(ctx, fresh=True)
    if found.error_pct is None:
        return [Finding("service", "error_rate", Status.UNKNOWN, "no request counted yet")]
    out = [judge("service", "error_rate", f"error rate (5xx) {found.errors:.0f} of "
                 f"{found.total:.0f} requests =", found.error_pct,
                 ctx.env.thresholds.error_rate_pct, unit="%")]
    statuses: dict[str, float] = {}
    for (_, status), n in found.by_path_status.items():
        statuses[status] = statuses.get(status, 0.0) + n
    out.append(Finding("service", "by_status", Status.HEALTHY, "by status: " + ", ".join(
        f"{s} {n:.0f}" for s, n in sorted(statuses.items(), key=lambda kv: -kv[1]))))
    paths = sorted({p for p, _ in found.by_path_status})
    for path in paths:
        total = sum(v for (p, _), v in found.by_path_status.items() if p == path)
        errors = sum(v for (p, s), v in found.by_path_status.items()
                     if p == path and s.startswith("5"))
        if total:
            out.append(judge("service", f"error_rate.{path}", f"{path}: {errors:.0f} 5xx of "
                             f"{total:.0f} =", 100.0 * errors / total,
                             ctx.env.thresholds.error_rate_pct, unit="%"))
    return out


async def error_alarming(ctx: StepContext) -> bool:
    pct = (await traffic(ctx)).error_pct
    return pct is not None and pct >= ctx.env.thresholds.error_rate_pct.warning


def plan_logs(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan(f"The error lines of the last {LOG_WINDOW // 60} minutes from every pod of "
                f"{k.app_selector}, counted per pod, {SAMPLES} samples each",
                (Plan.command("kubectl", "logs", "-n", k.namespace, "-l", k.app_selector,
                              "-c", k.container, f"--since={LOG_WINDOW}s", "--tail=-1",
                              "--prefix"),))


async def run_logs(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    k = ctx.env.kubernetes
    total = 0
    for pod in await reader.pods():
        if pod.deleting:
            continue
        count, samples = 0, list[str]()
        try:
            async for line in reader.stream_log(pod.name, k.container,
                                                since_seconds=LOG_WINDOW):
                if ERROR_LINE.search(line):
                    count += 1
                    if len(samples) < SAMPLES:
                        samples.append(line.strip()[:200])
        except Exception as exc:  # noqa: BLE001 - one pod's log unreadable: say so, go on
            yield f"{pod.name}: log not readable ({exc})"
            continue
        total += count
        yield f"{pod.name}: {count} error lines"
        for sample in samples:
            yield f"    {sample}"
    yield f"{total} error lines in the last {LOG_WINDOW // 60} minutes across the pods"


ERROR_REMEDY = remedy_input(("undo", "restart"), remedy_default(error_alarming),
                            "Default: undo when the error rate is over its band and a release "
                            "went out in the last 24 h; restart when there was none.")

HIGH_ERROR_RATE = Wizard(
    id="alert-high-error-rate", title="Alert: high error rate (> 5 %)",
    section="Monitoring and Alerting › Alert Response › High Error Rate",
    when="The error-rate alert fired: errors by status and endpoint, the database and "
         "dependencies, every pod's error lines; undo the release or restart.",
    steps=(
        diagnosis_step("errors", "Errors by status and endpoint", "The runbook's rate of "
                       "5xx over all requests, by endpoint.", diagnose=error_findings,
                       commands=metrics_commands),
        component_check_step("service", "Health endpoints", "/health, /health/database and "
                             "/health/dependencies: is a dependency the cause?"),
        Step("error-logs", "Error lines from every pod", "kubectl logs -l: every pod, not one "
             "and not 10 lines.", Risk.READ, plan_logs, run_logs, timeout=180),
        release_step(ERROR_REMEDY),
        undo_step("kubectl rollout undo: the release that brought the errors."),
        restart_step("kubectl rollout restart: when no release is to blame."),
        after_step(("service", "pods")),
    ),
)


# ---- slow responses -------------------------------------------------------------------
async def latency_findings(ctx: StepContext) -> list[Finding]:
    found = await traffic(ctx, fresh=True)
    band = ctx.env.thresholds.p95_ms
    p95 = found.p95_ms()
    if p95 is None:
        return [Finding("service", "p95", Status.UNKNOWN, "no request timed yet")]
    out = [judge("service", "p95", "P95 response time", p95, band, unit=" ms")]
    for path in sorted(found.buckets):
        value = found.p95_ms(path)
        if value is not None:
            out.append(judge("service", f"p95.{path}", f"{path}: P95", value, band,
                             unit=" ms"))
    return out


async def slow_alarming(ctx: StepContext) -> bool:
    p95 = (await traffic(ctx)).p95_ms()
    return p95 is not None and p95 >= ctx.env.thresholds.p95_ms.warning


STATEMENTS_SQL = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query, calls,
       mean_exec_time AS mean_ms, total_exec_time AS total_ms
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC LIMIT 5
"""
RUNNING_SQL = """
SELECT pid, coalesce(application_name, '') AS app,
       extract(epoch FROM now() - query_start)::float8 AS seconds,
       left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'
ORDER BY query_start LIMIT 5
"""


async def statement_findings(ctx: StepContext) -> list[Finding]:
    pg = await ctx.postgres()
    out = []
    has = await pg.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension "
                            "WHERE extname = 'pg_stat_statements')")
    slow_ms = ctx.env.thresholds.slow_query_seconds * 1000
    if has:
        for row in await pg.fetch(STATEMENTS_SQL):
            status = Status.WARNING if row["mean_ms"] >= slow_ms else Status.HEALTHY
            out.append(Finding("database", "statement", status,
                               f"mean {row['mean_ms']:.1f} ms x {row['calls']} calls: "
                               f"{row['query']}", float(row["mean_ms"])))
    else:
        out.append(Finding("database", "pg_stat_statements", Status.HEALTHY,
                           "pg_stat_statements is not installed: the running statements "
                           "instead"))
    for row in await pg.fetch(RUNNING_SQL):
        seconds = row["seconds"] or 0.0
        out.append(Finding("database", f"running.{row['pid']}",
                           Status.WARNING if seconds * 1000 >= slow_ms else Status.HEALTHY,
                           f"running {seconds:.1f} s, pid {row['pid']} ({row['app']}): "
                           f"{row['query']}", seconds))
    return out


SLOW_REMEDY = remedy_input(("undo", "restart", "scale"), remedy_default(slow_alarming, "scale"),
                           "Default: undo when P95 is over its band and a release went out "
                           "in the last 24 h; scale when there was none. Indexes and query "
                           "tuning: the performance review.")

SLOW_RESPONSE = Wizard(
    id="alert-slow-response", title="Alert: slow response times",
    section="Monitoring and Alerting › Alert Response › Slow Response Times",
    when="The latency alert fired: P95 by endpoint, the health endpoints' timing, the "
         "slowest statements; undo the release, restart or scale.",
    steps=(
        diagnosis_step("latency", "P95 by endpoint", "histogram_quantile(0.95) of the "
                       "request durations, by endpoint.", diagnose=latency_findings,
                       commands=metrics_commands),
        component_check_step("service", "Health endpoints' timing", "curl -w of /health, "
                             "/health/database and /health/dependencies: which part is slow?"),
        diagnosis_step("statements", "The slowest statements", "pg_stat_statements by mean "
                       "time, and what runs now.", diagnose=statement_findings,
                       commands=lambda ctx: [Plan.command(
                           "psql", "-c", "SELECT query, calls, mean_exec_time FROM "
                           "pg_stat_statements ORDER BY mean_exec_time DESC LIMIT 5;")]),
        release_step(SLOW_REMEDY),
        undo_step("kubectl rollout undo: the release that made it slow."),
        restart_step("kubectl rollout restart."),
        scale_step("kubectl scale: more replicas while the performance review finds the "
                   "cause."),
        after_step(("service", "pods")),
    ),
)
