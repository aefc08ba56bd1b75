"""The guide's "verify application health" after a recovery, as one read step.

``./scripts/health-check.sh production`` after a restore asks: does the service answer
(``/health``, ``/health/database``, ``/health/dependencies``) and are its pods Ready? The
step judges those two components with the same collectors and thresholds as the dashboard
and the morning health check. A WARNING passes with its reasons shown (a pod still warming
up is not a failed recovery); CRITICAL or unreachable fails the step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput
from ..morning_health_check import COMPONENT_COMMANDS, check_component

COMPONENTS = ("service", "pods")


def plan_health(ctx: Any) -> Plan:
    commands = [Plan.command("./scripts/health-check.sh", ctx.env_name)]
    for name in COMPONENTS:
        commands += [Plan.command(*c) for c in COMPONENT_COMMANDS[name](ctx.env)]
    return Plan("Check the application: its health endpoints and its pods, judged with the "
                "environment's thresholds; CRITICAL or unreachable fails", tuple(commands))


async def run_health(ctx: Any) -> AsyncIterator[StepOutput]:
    from console.health.status import Status

    timeout = ctx.config.ui.source_timeout_seconds if ctx.config else 3.0
    bad = []
    for name in COMPONENTS:
        health = await check_component(ctx.env, name, timeout)
        yield f"{name}: {health.status.label}"
        for reason in health.reasons:
            yield f"  {reason}"
        if health.status >= Status.CRITICAL:
            bad.append(f"{name} {health.status.label}")
    if bad:
        raise StepFailed("the application is not healthy: " + ", ".join(bad))
    yield "application healthy"


def health_check_step(explanation: str) -> Step:
    return Step("health-check", "Verify application health", explanation, Risk.READ,
                plan_health, run_health, timeout=120)
