"""Example: "are the MCP server's pods all right after a change?" — library steps only.

The wizard of ``actions/README.md``: it imports the kernel's public surface (the model and
the step context) and the step library, nothing else of ``console.execution``.
"""

from __future__ import annotations

from actions.library import diagnosis_step, health_check_step, manual_step, wait_for_rollout_step
from console.execution.context import StepContext
from console.execution.model import Wizard
from console.health.status import Finding, Status


async def pod_findings(ctx: StepContext) -> list[Finding]:
    """One finding per pod: Ready, not Ready, or crash-looping (the culprit named).

    A crash-looping container is Running for a few seconds between back-offs; not Ready
    with a crash as its last exit is the same culprit, whichever moment it is looked at."""
    found = []
    for pod in await (await ctx.kube()).pods():
        if pod.is_ready:
            status, state = Status.HEALTHY, "Ready"
        elif pod.waiting_reason == "CrashLoopBackOff":
            status, state = Status.CRITICAL, "crash-looping (CrashLoopBackOff)"
        elif pod.restarts and pod.last_termination:
            status, state = Status.CRITICAL, f"crash-looping (restarted after {pod.last_termination})"
        else:
            status, state = Status.WARNING, f"{pod.phase} {pod.waiting_reason}".strip()
        found.append(Finding("pods", f"ready.{pod.name}", status,
                             f"{pod.name} on {pod.node or '?'}: {state}, {pod.restarts} restarts"))
    return found


WIZARD = Wizard(
    id="example-pods-ready", title="Are the pods all right?", section="(example)",
    when="After a change: the rollout settled, every pod Ready, the team told.",
    steps=(
        wait_for_rollout_step(),
        diagnosis_step("pods", "Each pod", "Ready, not Ready or crash-looping, by pod.",
                       diagnose=pod_findings, fail_at=Status.CRITICAL,
                       commands=lambda ctx: ("kubectl get pods -n "
                                             f"{ctx.env.kubernetes.namespace} -o wide",)),
        health_check_step("The service answers and its pods are Ready."),
        manual_step("tell-the-team", "Tell the team", "A human says it is done.",
                    ["Post in #ops that the change is live", "Close the change ticket"]),
    ),
)
