"""The ``morning-health-check`` wizard — the guide's "Morning Health Checks" as steps.

The guide runs ``health-check.sh production report`` and expects every service HEALTHY,
responses under 500 ms, utilisation under 80 % and no critical alert. Here each component
(service endpoints, pods, database, cache, backups) is its own read step, judged by the
same collectors and rules as the dashboard and ``mcp-ops check`` (``console.health``), so
the operator sees each verdict with its reasons as it comes in. A component step never
fails the wizard — the point is to see everything — the summary step does: it fails when
the environment is CRITICAL or a component could not be reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard

COMPONENT_COMMANDS = {
    "service": lambda env: [("curl", "-fsS", env.service.base_url + p) for p in (
        env.service.health_path, env.service.database_health_path,
        env.service.dependencies_health_path)],
    "pods": lambda env: [("kubectl", "get", "pods", "-n", env.kubernetes.namespace, "-l",
                          env.kubernetes.app_selector),
                         ("kubectl", "top", "pods", "-n", env.kubernetes.namespace)],
    "database": lambda env: [("psql", "-c", "SELECT count(*) FROM pg_stat_activity;")],
    "cache": lambda env: [("redis-cli", "info", "stats")],
    "backups": lambda env: [("kubectl", "get", "backups", "-n", env.kubernetes.velero_namespace,
                             "--sort-by=.metadata.creationTimestamp")],
}


def _results(ctx: Any) -> dict[str, Any]:
    return ctx.cache.setdefault("health", {})


async def check_component(env: Any, name: str, timeout: float) -> Any:
    """Collect one component once and judge it with the environment's thresholds."""
    from console.collectors.registry import close_all, collect_bounded, collectors_for
    from console.health.evaluate import evaluate_component

    collectors = collectors_for(env, timeout=timeout, watch=False)
    try:
        snapshot = await collect_bounded(name, collectors[name], timeout)
    finally:
        await close_all(collectors)
    return evaluate_component(name, snapshot, env.thresholds)


def component_step(name: str, title: str, explanation: str) -> Step:
    def plan(ctx: Any) -> Plan:
        return Plan(f"Check the {name}: collect its figures once and judge them with the "
                    f"environment's thresholds",
                    tuple(Plan.command(*c) for c in COMPONENT_COMMANDS[name](ctx.env)))

    async def run(ctx: Any) -> AsyncIterator[StepOutput]:
        timeout = ctx.config.ui.source_timeout_seconds if ctx.config else 3.0
        health = await check_component(ctx.env, name, timeout)
        _results(ctx)[name] = health
        yield f"{name}: {health.status.label}"
        for reason in health.reasons:
            yield f"  {reason}"

    return Step(f"check-{name}", title, explanation, Risk.READ, plan, run, timeout=60)


def plan_summary(ctx: Any) -> Plan:
    return Plan("Sum up: the worst component decides; CRITICAL or unreachable fails the check",
                (Plan.command("./scripts/health-check.sh", ctx.env_name, "report"),))


async def run_summary(ctx: Any) -> AsyncIterator[StepOutput]:
    from console.health.status import Status, worst

    results = _results(ctx)
    for name, health in results.items():
        yield f"{name:<10} {health.status.label}"
    overall = worst(h.status for h in results.values()) if results else Status.UNKNOWN
    yield f"{ctx.env_name}: {overall.label}"
    if overall >= Status.CRITICAL:
        bad = ", ".join(n for n, h in results.items() if h.status >= Status.CRITICAL)
        raise StepFailed(f"{ctx.env_name} is {overall.label}: {bad or 'nothing checked'}")


WIZARD = Wizard(
    id="morning-health-check", title="Morning health check",
    section="Daily Operations › Morning Health Checks",
    when="Every morning, and after any change: is everything HEALTHY?",
    steps=(
        component_step("service", "Service endpoints", "/health, /health/database and "
                       "/health/dependencies answer 2xx in under 500 ms; error rate < 1 %, "
                       "P95 < 500 ms."),
        component_step("pods", "Pods and resources", "Every pod Ready, no restarts rising; "
                       "CPU < 70 %, memory < 80 % on average."),
        component_step("database", "Database", "Connections < 80 % of max, no query slower "
                       "than 1 s, minimal blocking, replication lag < 10 s."),
        component_step("cache", "Cache", "Redis memory < 80 %, hit rate > 95 %, minimal "
                       "evictions."),
        component_step("backups", "Backups", "The latest Velero backup Completed and less "
                       "than 26 h old."),
        Step("summary", "Summary", "All services should show HEALTHY and no critical alerts.",
             Risk.READ, plan_summary, run_summary),
    ),
)
