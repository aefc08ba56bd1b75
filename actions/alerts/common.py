"""What the alert wizards share: the remedy choice, the rollout remedies (undo, restart,
scale) followed to the end, and the health check after.

A remedy step ``applies`` only when the ``remedy`` input chose it, so a wizard lists every
remedy the runbook names and runs the one chosen — by default the one the live state
points at (:func:`remedy_input`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import ChoiceInput, IntInput
from console.execution.kube.ops import RolloutRestart, RolloutUndo, ScaleDeployment
from console.execution.model import Plan, Risk, Step, StepOutput

from ..library.health import health_check_step
from ..library.plan import commands
from ..library.rollout import follow_rollout, rollout_settled

NONE = "none"


def remedy_input(choices: Sequence[str], default: Callable[[StepContext], Awaitable[str]],
                 help: str) -> ChoiceInput:
    """``remedy``: one of ``choices`` or ``none``; the default is what the live state
    points at."""
    return ChoiceInput("remedy", "Remedy", help=help, default=default,
                       choices=(*choices, NONE))


def chosen(name: str) -> Callable[[Mapping[str, Any]], bool]:
    """A remedy step's ``applies``: the ``remedy`` input chose it."""
    return lambda values: values.get("remedy") == name


def remedied(values: Mapping[str, Any]) -> bool:
    return values.get("remedy") not in (None, NONE)


def rollout_status(ctx: StepContext) -> str:
    k = ctx.env.kubernetes
    return Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}", "-n",
                        k.namespace)


async def _followed(ctx: StepContext, replicas: int | None = None) -> AsyncIterator[StepOutput]:
    async for item in follow_rollout(ctx, replicas=replicas):
        yield item


def undo_step(explanation: str) -> Step:
    """``kubectl rollout undo``: back to the revision before the current one; the current
    revision and image are logged first (an undo of the undo is ``--to-revision``)."""

    def op(ctx: StepContext) -> RolloutUndo:
        k = ctx.env.kubernetes
        return RolloutUndo(k.deployment, k.namespace)

    def plan(ctx: StepContext) -> Plan:
        return Plan(f"Roll deployment/{ctx.env.kubernetes.deployment} back to the revision "
                    "before the current one and follow the rollout",
                    (*commands(ctx, [op(ctx)]), rollout_status(ctx)))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        deployment = await (await ctx.kube()).deployment()
        ctx.note(f"deployment/{deployment.name} before the undo: revision "
                 f"{deployment.revision}, image {deployment.image}",
                 previous_revision=deployment.revision, previous_image=deployment.image)
        yield (f"now: revision {deployment.revision}, image {deployment.image} (kept in the "
               "session log)")
        yield await (await ctx.mutations.kube()).apply(op(ctx))
        async for item in _followed(ctx):
            yield item

    async def verify(ctx: StepContext) -> str:
        return await rollout_settled(ctx)

    return Step("rollout-undo", "Roll back the last rollout", explanation, Risk.CHANGE, plan,
                run, verify=verify, applies=chosen("undo"), timeout=600)


def restart_step(explanation: str) -> Step:
    """``kubectl rollout restart``: every pod replaced, one surge at a time."""

    def op(ctx: StepContext) -> RolloutRestart:
        k = ctx.env.kubernetes
        return RolloutRestart(k.deployment, k.namespace)

    def plan(ctx: StepContext) -> Plan:
        return Plan(f"Restart deployment/{ctx.env.kubernetes.deployment} (every pod replaced) "
                    "and follow the rollout", (*commands(ctx, [op(ctx)]), rollout_status(ctx)))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        yield await (await ctx.mutations.kube()).apply(op(ctx))
        async for item in _followed(ctx):
            yield item

    async def verify(ctx: StepContext) -> str:
        return await rollout_settled(ctx)

    return Step("rollout-restart", "Restart the deployment", explanation, Risk.CHANGE, plan,
                run, verify=verify, applies=chosen("restart"), timeout=600)


REPLICAS = IntInput("replicas", "Replicas (the scale remedy)", minimum=1,
                    maximum=lambda ctx: ctx.env.kubernetes.max_replicas,
                    default=lambda ctx: ctx.env.kubernetes.normal_replicas,
                    help="Used by the scale remedy only; bounded by kubernetes.max_replicas.")


def scale_step(explanation: str) -> Step:
    """``kubectl scale``: the count logged first, then followed until every replica is
    ready (an HPA moving it away fails the step)."""

    def op(ctx: StepContext) -> ScaleDeployment:
        k = ctx.env.kubernetes
        return ScaleDeployment(k.deployment, k.namespace, int(ctx.values.get("replicas") or 1))

    def plan(ctx: StepContext) -> Plan:
        return Plan(f"Scale deployment/{ctx.env.kubernetes.deployment} to "
                    f"{ctx.values.get('replicas')} replicas and follow the rollout",
                    (*commands(ctx, [op(ctx)]), rollout_status(ctx)))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        before = await (await ctx.kube()).deployment()
        ctx.note(f"deployment/{before.name} before: {before.desired} replicas",
                 previous_replicas=before.desired)
        yield f"now: {before.desired} replicas (kept in the session log)"
        scale = op(ctx)
        yield await (await ctx.mutations.kube()).apply(scale)
        async for item in _followed(ctx, scale.replicas):
            yield item

    async def verify(ctx: StepContext) -> str:
        return await rollout_settled(ctx, replicas=int(ctx.values.get("replicas") or 1))

    return Step("scale", "Scale the deployment", explanation, Risk.CHANGE, plan, run,
                inputs=(REPLICAS,), verify=verify, applies=chosen("scale"), timeout=600)


def after_step(components: Sequence[str] = ("service", "pods")) -> Step:
    step = health_check_step("After the remedy: the service answers and every pod is Ready.",
                             components=components, step_id="after", title="Check after the "
                             "remedy")
    return replace(step, applies=remedied)
