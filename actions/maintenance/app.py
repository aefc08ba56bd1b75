"""The application update: a validated image, the rollout followed, undone if it fails.

The runbook runs ``kubectl set image`` and ``kubectl rollout status`` and stops there: a
rollout that never becomes available (an image that cannot be pulled, a crash at start)
leaves the operator reading ``error: deployment exceeded its progress deadline`` at 4 a.m.
with the old pods half gone. Here the image reference is validated before anything runs;
the rollout is followed; a ``ProgressDeadlineExceeded`` or a failing health check after it
is recorded, and the next step — a confirmed change whose plan names the failure and the
image it goes back to — runs ``kubectl rollout undo`` and then checks that every pod runs
the previous image again. When the rollout was healthy, that step changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import ImageInput
from console.execution.kube.ops import RolloutUndo, SetImage
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, StepSkipped
from console.health.status import Status

from ..library.plan import kube_plan
from ..library.rollout import follow_rollout

FAILED = "maintenance.rollout_failed"  # ctx.cache: why the new image's rollout failed
PREVIOUS_IMAGE = "maintenance.previous_image"

IMAGE = ImageInput("image", "New MCP server image (empty: no application update)",
                   required=False, default=None,
                   help="registry/name:tag or name@sha256:digest, e.g. "
                        "pratiko/mcp-server:v1.2.0; checked before anything runs")


def _applies(values: Mapping[str, Any]) -> bool:
    return bool(values.get("image"))


def _set_op(ctx: StepContext) -> SetImage:
    k = ctx.env.kubernetes
    return SetImage(k.deployment, k.namespace, k.container, str(ctx.values["image"]))


def _undo_op(ctx: StepContext) -> RolloutUndo:
    k = ctx.env.kubernetes
    return RolloutUndo(k.deployment, k.namespace)


def _status_cmd(ctx: StepContext) -> str:
    k = ctx.env.kubernetes
    return Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}", "-n",
                        k.namespace)


def plan_set(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return kube_plan(ctx, f"Set {k.container} of deployment/{k.deployment} to "
                          f"{ctx.values['image']}, follow the rollout, then check the "
                          "service; a failure is recorded for the undo step (nothing is "
                          "left half-done silently)", [_set_op(ctx)], _status_cmd(ctx))


async def _health_problem(ctx: StepContext) -> str | None:
    for component in ("service", "pods"):
        health = await ctx.health(component)
        if health.status >= Status.CRITICAL:
            return f"{component} {health.status.label}: {'; '.join(health.reasons[:3])}"
    return None


async def run_set(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    before = await reader.deployment()
    image = str(ctx.values["image"])
    ctx.cache[PREVIOUS_IMAGE] = before.image
    ctx.cache.pop(FAILED, None)
    ctx.note(f"maintenance: image before the update {before.image}",
             previous_image=before.image, new_image=image)
    yield f"current image {before.image}"
    if before.image == image:
        yield f"{image} already set: the rollout below is the one in place"
    else:
        yield await (await ctx.mutations.kube()).apply(_set_op(ctx))
    try:
        async for item in follow_rollout(ctx):
            yield item
    except StepFailed as exc:
        ctx.cache[FAILED] = f"rollout failed: {exc}"
    else:
        if (problem := await _health_problem(ctx)) is not None:
            ctx.cache[FAILED] = f"health check failed after the rollout: {problem}"
    if FAILED in ctx.cache:
        ctx.note(f"maintenance: update to {image} failed: {ctx.cache[FAILED]}",
                 rollout_failed=ctx.cache[FAILED])
        yield f"FAILED — {ctx.cache[FAILED]}"
        yield f"the next step rolls deployment back to {before.image} (rollout undo)"
    else:
        yield f"{image} rolled out and healthy"


def plan_undo(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    failed = ctx.cache.get(FAILED)
    previous = ctx.cache.get(PREVIOUS_IMAGE, "the previous revision's image")
    if failed:
        summary = (f"The update to {ctx.values['image']} failed ({failed}). Roll "
                   f"deployment/{k.deployment} back to the previous revision ({previous}), "
                   "follow the rollout and check that every pod runs it again")
    else:
        summary = (f"Only if the update to {ctx.values['image']} failed (decided from the "
                   "deployment's state when this step runs): roll back to the previous "
                   f"revision ({previous}); after a healthy rollout nothing is changed")
    return kube_plan(ctx, summary, [_undo_op(ctx)], _status_cmd(ctx))


async def _previous_image(ctx: StepContext) -> str:
    """The image before the update: this run's record, else the revision before the
    current one (a resumed run)."""
    if ctx.cache.get(PREVIOUS_IMAGE):
        return str(ctx.cache[PREVIOUS_IMAGE])
    reader = await ctx.kube()
    history = await reader.rollout_history()
    current = [r for r in history if r.images and ctx.values["image"] in r.images]
    older = [r for r in history if not current or r.number < current[-1].number]
    if not older or not older[-1].images:
        raise StepFailed("the image before the update is not known (no earlier revision)")
    return older[-1].images[0]


async def run_undo(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    deployment = await reader.deployment()
    failed = ctx.cache.get(FAILED)
    if failed is None and deployment.image == ctx.values["image"]:
        if deployment.rollout == "ProgressDeadlineExceeded":
            failed = f"rollout failed: {deployment.rollout_message or deployment.rollout}"
        elif not deployment.rollout_complete:
            failed = f"rollout not complete: {deployment.rollout_text}"
        elif (problem := await _health_problem(ctx)) is not None:
            failed = f"health check failed: {problem}"
    if failed is None and deployment.image != ctx.values["image"]:
        raise StepSkipped(f"the deployment runs {deployment.image}, not this run's "
                          f"{ctx.values['image']}: nothing of this run to undo")
    if failed is None:
        raise StepSkipped(f"the update to {ctx.values['image']} is healthy "
                          f"({deployment.rollout_text}): nothing to undo")
    previous = await _previous_image(ctx)
    yield f"undoing: {failed}"
    yield await (await ctx.mutations.kube()).apply(_undo_op(ctx))
    ctx.note(f"maintenance: rolled back to {previous}", rolled_back_to=previous)
    ctx.cache["maintenance.rolled_back"] = previous
    async for item in follow_rollout(ctx):
        yield item
    after = await reader.deployment()
    if after.image != previous:
        raise StepFailed(f"after the undo the deployment runs {after.image}, not {previous}")
    pods = [p for p in await reader.pods() if not p.deleting]
    wrong = [f"{p.name} ({', '.join(p.images)})" for p in pods if previous not in p.images]
    not_ready = [p.name for p in pods if not p.is_ready]
    if wrong or not_ready:
        raise StepFailed("after the undo: " + "; ".join(
            ([f"pods not on {previous}: {', '.join(wrong)}"] if wrong else [])
            + ([f"not ready: {', '.join(not_ready)}"] if not_ready else [])))
    yield (f"rolled back: all {len(pods)} pods run {previous} and are Ready; the update to "
           f"{ctx.values['image']} is NOT live")


def set_image_step() -> Step:
    return Step(
        "set-image", "Update the MCP server image",
        "Application updates: kubectl set image, then kubectl rollout status. The image "
        "reference is checked before anything runs; a rollout that exceeds its progress "
        "deadline or leaves the service unhealthy is not left as it is (next step).",
        Risk.CHANGE, plan_set, run_set, inputs=(IMAGE,), applies=_applies, timeout=900)


def rollout_undo_step() -> Step:
    return Step(
        "rollout-undo", "Roll back a failed update",
        "kubectl rollout undo, offered when the update's rollout failed "
        "(ProgressDeadlineExceeded) or the service is unhealthy after it — something the "
        "runbook leaves to the operator — then every pod is checked on the previous image.",
        Risk.CHANGE, plan_undo, run_undo, applies=_applies, timeout=900)
