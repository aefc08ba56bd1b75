"""Wait for a rollout with progress, as ``kubectl rollout status`` does.

Shared by every wizard that scales, restarts, updates or undoes the MCP server: one watch
stream (no polling) of the Deployment, progress as ready replicas of the desired count, a
line whenever the picture changes, until the controller has observed the latest generation
and every desired replica is updated, ready and available with no old one left. A progress
deadline exceeded, a watch that ends first, or ``spec.replicas`` moved away from the count
asked for (an HPA, another operator) fails the step with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from console.execution.context import StepContext
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput


def rollout_timeout(ctx: StepContext) -> int:
    """How long a rollout may take: thirty request timeouts (5 min at the default 10 s)."""
    return int(ctx.env.kubernetes.request_timeout * 30)


async def follow_rollout(ctx: StepContext, *, timeout: int | None = None,
                         name: str | None = None,
                         replicas: int | None = None) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    last_text = None
    async for deployment in reader.follow_rollout(name, timeout=timeout or rollout_timeout(ctx),
                                                  replicas=replicas):
        yield Progress(deployment.ready, deployment.desired or 1, "ready replicas")
        if deployment.rollout_text != last_text:
            last_text = deployment.rollout_text
            yield f"rollout: {last_text}"
        if deployment.rollout_complete:
            yield f"rollout complete: {deployment.ready}/{deployment.desired} replicas ready"


async def rollout_settled(ctx: StepContext, name: str | None = None, *,
                          replicas: int | None = None) -> str:
    """A verify: the deployment is settled (at ``replicas``, if given); StepFailed else."""
    deployment = await (await ctx.kube()).deployment(name)
    if not deployment.rollout_complete or deployment.desired == 0 or (
            replicas is not None and (deployment.desired != replicas
                                      or deployment.ready < replicas)):
        want = f" at {replicas}" if replicas is not None else ""
        raise StepFailed(f"deployment is not settled{want}: {deployment.rollout_text}")
    return f"{deployment.ready}/{deployment.desired} replicas ready"


def wait_for_rollout_step(step_id: str = "wait-rollout", title: str = "Follow the rollout",
                          explanation: str = "kubectl rollout status: every replica of the "
                                             "new revision ready, no old one left.",
                          *, name: str | None = None, timeout: float = 600.0) -> Step:
    """A read step following the deployment (default: the environment's) to the end."""

    def plan(ctx: StepContext) -> Plan:
        k = ctx.env.kubernetes
        target = name or k.deployment
        return Plan(f"Follow deployment/{target} until its rollout is complete",
                    (Plan.command("kubectl", "rollout", "status", f"deployment/{target}",
                                  "-n", k.namespace),))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        async for item in follow_rollout(ctx, name=name, timeout=int(timeout) - 5):
            yield item

    return Step(step_id, title, explanation, Risk.READ, plan, run, timeout=timeout)
