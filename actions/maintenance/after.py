"""After the work: Prometheus ``up`` through PromQL, and the maintenance log.

The runbook's ``kubectl exec -n monitoring deployment/prometheus-server -- promtool query
instant 'up{job="mcp-server-production"}'`` has no server URL — ``promtool query instant``
needs one as its first argument, so the command fails as written. Here the query goes to
the Prometheus HTTP API at ``service.prometheus_url``; when none is configured the step says
so and the result is UNKNOWN — it does not pass for a check that was made.

``echo "Maintenance completed $(date)" >> docs/maintenance-log.md`` writes wherever the
operator's shell happens to be. The log path comes from ``maintenance.log_path`` (relative:
to the current directory, shown as an absolute path in the plan), the line says when in
UTC, where, and by whom, and it is written with an fsync.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, StepSkipped
from console.sources.prometheus import PrometheusError, query

PROM_RESULT = "maintenance.prometheus"  # ctx.cache: "up", "UNKNOWN (...)"


def _promql(ctx: StepContext) -> str:
    return f'up{{job="{ctx.env.service.prometheus_job}"}}'


def plan_prometheus(ctx: StepContext) -> Plan:
    url = ctx.env.service.prometheus_url
    promql = _promql(ctx)
    if not url:
        return Plan(f"No service.prometheus_url for {ctx.env_name}: {promql} cannot be asked; "
                    "the result will be UNKNOWN (not checked), not a pass",
                    (Plan.command("promtool", "query", "instant", "<prometheus-url>", promql),))
    return Plan(f"Ask Prometheus at {url}: {promql}; every target must be up (1)",
                (Plan.command("promtool", "query", "instant", url, promql),
                 Plan.command("curl", "-fsS", f"{url}/api/v1/query", "--data-urlencode",
                              f"query={promql}")))


async def run_prometheus(ctx: StepContext) -> AsyncIterator[StepOutput]:
    url = ctx.env.service.prometheus_url
    promql = _promql(ctx)
    if not url:
        ctx.cache[PROM_RESULT] = "UNKNOWN (no service.prometheus_url)"
        ctx.note("maintenance: Prometheus up not checked: no service.prometheus_url",
                 prometheus="unknown")
        raise StepSkipped(f"UNKNOWN — not checked: no service.prometheus_url is configured "
                          f"for {ctx.env_name}, so {promql} cannot be asked (set it to the "
                          "Prometheus server's URL); this is not a pass")
    try:
        async with httpx.AsyncClient(timeout=ctx.env.service.timeout * 3) as client:
            samples = await query(client, url, promql)
    except (httpx.HTTPError, PrometheusError) as err:
        raise StepFailed(f"Prometheus at {url} did not answer {promql}: "
                         f"{type(err).__name__}: {err}") from None
    if not samples:
        raise StepFailed(f"{promql}: no series — Prometheus does not scrape job "
                         f"{ctx.env.service.prometheus_job!r}")
    down = []
    for sample in samples:
        instance = sample.label("instance", "?")
        yield f"up{{instance={instance!r}}} = {sample.value:g}"
        if sample.value < 1:
            down.append(instance)
    if down:
        raise StepFailed(f"targets down: {', '.join(down)}")
    ctx.cache[PROM_RESULT] = f"{len(samples)} targets up"
    yield f"all {len(samples)} targets of job {ctx.env.service.prometheus_job} up"


def log_path(ctx: StepContext) -> Path:
    return Path(ctx.env.maintenance.log_path).expanduser().absolute()


def log_line(ctx: StepContext, at: datetime) -> str:
    details = [ctx.env_name, f"by {ctx.operator.user}"]
    nodes = ctx.values.get("nodes")
    if isinstance(nodes, tuple) and nodes:
        details.append(f"nodes {','.join(nodes)}")
    if ctx.values.get("image"):
        rolled_back = ctx.cache.get("maintenance.rolled_back")
        details.append(f"image {ctx.values['image']}" + (
            f" rolled back to {rolled_back}" if rolled_back else ""))
    if ctx.cache.get(PROM_RESULT):
        details.append(f"prometheus {ctx.cache[PROM_RESULT]}")
    return f"Maintenance completed {at:%Y-%m-%d %H:%M:%S} UTC ({'; '.join(details)})"


def plan_log(ctx: StepContext) -> Plan:
    path = log_path(ctx)
    return Plan(f"Append 'Maintenance completed <date>' to {path} "
                "(maintenance.log_path), with the environment, who, and what was done; "
                "the line goes on tee's standard input",
                (Plan.command("tee", "-a", str(path)),))


async def run_log(ctx: StepContext) -> AsyncIterator[StepOutput]:
    path = log_path(ctx)
    line = log_line(ctx, datetime.now(UTC))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as err:
        raise StepFailed(f"cannot append to {path}: {err}") from None
    yield f"{path}: {line}"


def prometheus_step() -> Step:
    return Step("prometheus-up", "Verify performance metrics (Prometheus up)",
                "2. Verify performance metrics: up{job=...} through PromQL at the configured "
                "Prometheus (the runbook's promtool query instant lacks the server URL). "
                "Without a configured URL the result is UNKNOWN, said so, not a pass.",
                Risk.READ, plan_prometheus, run_prometheus, timeout=60)


def log_step() -> Step:
    return Step("maintenance-log", "Update documentation",
                "4. Update documentation: 'Maintenance completed <date>' appended to the "
                "maintenance log, in UTC, with the environment and the operator.",
                Risk.CHANGE, plan_log, run_log, timeout=30)
