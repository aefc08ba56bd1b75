"""Health checks as steps: one component, or several, judged as the dashboard judges them.

Each component (``service``, ``pods``, ``database``, ``cache``, ``backups``) is collected
by the dashboard's own collector — only that one — and judged by the environment's
thresholds (``ctx.health``), so a wizard's verdict and reasons are the console's. The plan
shows the runbook's commands for the same look (``curl``, ``kubectl get pods``, ``psql``,
``redis-cli``, ``kubectl get backups``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from console.config.model import Environment
from console.execution.commands import psql
from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput
from console.health.evaluate import ComponentHealth
from console.health.status import Status

RESULTS = "health"  # ctx.cache key: component -> ComponentHealth of this run

Command = tuple[str, ...]
COMPONENT_COMMANDS: dict[str, Callable[[Environment], list[Command]]] = {
    "service": lambda env: [("curl", "-fsS", env.service.base_url + p) for p in (
        env.service.health_path, env.service.database_health_path,
        env.service.dependencies_health_path)],
    "pods": lambda env: [("kubectl", "get", "pods", "-n", env.kubernetes.namespace, "-l",
                          env.kubernetes.app_selector),
                         ("kubectl", "top", "pods", "-n", env.kubernetes.namespace)],
    # the guide's bare `psql -c` connects as root in the pod and fails: name the server,
    # role and database (the environment's DSN, never a password)
    "database": lambda env: [psql("SELECT count(*) FROM pg_stat_activity;", env=env)],
    "cache": lambda env: [("redis-cli", "info", "stats")],
    "backups": lambda env: [("kubectl", "get", "backups", "-n", env.kubernetes.velero_namespace,
                             "--sort-by=.metadata.creationTimestamp")],
}


def component_commands(ctx: StepContext, components: Sequence[str]) -> tuple[str, ...]:
    return tuple(Plan.command(*c) for name in components
                 for c in COMPONENT_COMMANDS[name](ctx.env))


def results(ctx: StepContext) -> dict[str, ComponentHealth]:
    """This run's verdicts so far, by component (what a summary step sums up)."""
    found: dict[str, ComponentHealth] = ctx.cache.setdefault(RESULTS, {})
    return found


def verdict_lines(health: ComponentHealth) -> list[str]:
    return [f"{health.name}: {health.status.label}", *(f"  {r}" for r in health.reasons)]


async def check(ctx: StepContext, components: Sequence[str], *,
                fail_at: Status | None) -> AsyncIterator[StepOutput]:
    """Judge each component, show its verdict and reasons; StepFailed naming those at
    ``fail_at`` or worse (UNKNOWN — unreachable — counts as worse than CRITICAL)."""
    bad = []
    for name in components:
        health = await ctx.health(name)
        results(ctx)[name] = health
        for line in verdict_lines(health):
            yield line
        if fail_at is not None and health.status >= fail_at:
            bad.append(f"{name} {health.status.label}")
    if bad:
        raise StepFailed("not healthy: " + ", ".join(bad))


def component_check_step(component: str, title: str, explanation: str, *,
                         fail_at: Status | None = None, timeout: float = 60.0) -> Step:
    """A read step judging one component. ``fail_at=None``: the verdict is shown and
    recorded (for a summary), never a failure — the point is to see everything."""

    def plan(ctx: StepContext) -> Plan:
        return Plan(f"Check the {component}: collect its figures once and judge them with "
                    "the environment's thresholds", component_commands(ctx, [component]))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        async for line in check(ctx, [component], fail_at=fail_at):
            yield line

    return Step(f"check-{component}", title, explanation, Risk.READ, plan, run,
                timeout=timeout)


def health_check_step(explanation: str, *, components: Sequence[str] = ("service", "pods"),
                      step_id: str = "health-check", title: str = "Verify application health",
                      script: str = "./scripts/health-check.sh",
                      fail_at: Status = Status.CRITICAL, timeout: float = 120.0) -> Step:
    """The runbook's ``health-check.sh`` after a change: each component judged; a WARNING
    passes with its reasons shown (a pod still warming up is not a failed recovery),
    ``fail_at`` or worse fails the step."""

    def plan(ctx: StepContext) -> Plan:
        return Plan(f"Check the application: {', '.join(components)}, judged with the "
                    f"environment's thresholds; {fail_at.label} or unreachable fails",
                    (Plan.command(script, ctx.env_name), *component_commands(ctx, components)))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        try:
            async for line in check(ctx, components, fail_at=fail_at):
                yield line
        except StepFailed as exc:
            raise StepFailed(f"the application is {exc}") from None
        yield "application healthy"

    return Step(step_id, title, explanation, Risk.READ, plan, run, timeout=timeout)


def summary_step(explanation: str, *, step_id: str = "summary", title: str = "Summary",
                 fail_at: Status = Status.CRITICAL, script: str | None = None) -> Step:
    """Sum up the verdicts this run recorded: the worst decides; ``fail_at`` or worse
    fails the step, naming the components."""

    def plan(ctx: StepContext) -> Plan:
        shown = (Plan.command(script, ctx.env_name, "report"),) if script else ()
        return Plan(f"Sum up: the worst component decides; {fail_at.label} or unreachable "
                    "fails the check", shown)

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        from console.health.status import worst

        found = results(ctx)
        for name, health in found.items():
            yield f"{name:<10} {health.status.label}"
        overall = worst(h.status for h in found.values()) if found else Status.UNKNOWN
        yield f"{ctx.env_name}: {overall.label}"
        if overall >= fail_at:
            bad = ", ".join(n for n, h in found.items() if h.status >= fail_at)
            raise StepFailed(f"{ctx.env_name} is {overall.label}: {bad or 'nothing checked'}")

    return Step(step_id, title, explanation, Risk.READ, plan, run)
