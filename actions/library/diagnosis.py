"""A diagnosis step: findings judged by the environment's thresholds, the culprit named.

``diagnose(ctx)`` looks (through the read views, the collectors, queries) and returns
:class:`~console.health.status.Finding` records — each a figure judged against one band of
``env.thresholds`` (:func:`judge`), or a fact with a status. The step shows them worst
first, keeps them for the remedies that follow (``findings(ctx, step_id)``), and fails only
when asked to (``fail_at``): a diagnosis that finds a problem has done its job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from console.config.model import Band
from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput
from console.health.status import Finding, Status, fmt_num, high_is_bad, low_is_bad, worst

Diagnose = Callable[[StepContext], Awaitable[Sequence[Finding]]]
FINDINGS = "findings"  # ctx.cache key: step id -> its findings


def judge(component: str, check: str, what: str, value: float, band: Band, *,
          unit: str = "", low_is_worse: bool = False,
          inclusive_critical: bool = False) -> Finding:
    """One figure against one band: ``judge("pods", "cpu", "CPU of mcp-server-x", 93,
    env.thresholds.cpu_pct, unit="%")`` -> CRITICAL "CPU of mcp-server-x 93% > 90"."""
    rule = low_is_bad if low_is_worse else high_is_bad
    status, comparison = rule(value, band, inclusive_critical=inclusive_critical)
    return Finding(component, check, status, f"{what} {fmt_num(value)}{unit} {comparison}",
                   value)


def findings(ctx: StepContext, step_id: str) -> list[Finding]:
    """What the diagnosis step ``step_id`` found in this run (empty before it ran)."""
    found: dict[str, list[Finding]] = ctx.cache.setdefault(FINDINGS, {})
    return found.get(step_id, [])


def diagnosis_step(step_id: str, title: str, explanation: str, *, diagnose: Diagnose,
                   commands: Callable[[StepContext], Sequence[str]] = lambda ctx: (),
                   summary: str = "Look and judge each finding by the environment's "
                                  "thresholds",
                   fail_at: Status | None = None, timeout: float = 60.0) -> Step:
    def plan(ctx: StepContext) -> Plan:
        return Plan(summary, tuple(commands(ctx)))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        found = sorted(await diagnose(ctx), key=lambda f: -f.status)
        ctx.cache.setdefault(FINDINGS, {})[step_id] = found
        for finding in found:
            yield f"{finding.status.label:<11} {finding.reason}"
        overall = worst(f.status for f in found)
        yield f"{len(found)} findings; worst {overall.label}"
        if fail_at is not None and overall >= fail_at:
            raise StepFailed("; ".join(f.reason for f in found if f.status >= fail_at))

    return Step(step_id, title, explanation, Risk.READ, plan, run, timeout=timeout)
