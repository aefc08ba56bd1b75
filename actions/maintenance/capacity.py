"""Extra replicas for the window, held against the HPA, and the way back to normal.

The runbook scales to 8 (``kubectl scale ... --replicas=8``) "for faster rollback" and back
to 6 afterwards. With ``mcp-server-hpa`` at minimum 6 that scale-up does not last: while CPU
is low the HPA scales the deployment back to its minimum after its 5-minute stabilisation
window, in the middle of the maintenance. Here the HPA's ``minReplicas`` is raised to the
maintenance count first (and ``maxReplicas`` if it is below), then the deployment is
scaled; afterwards the HPA's own values come back, then the normal count.

The previous values are kept twice: in the session log (a note) and **on the HPA itself**,
as the annotation ``mcp-ops/maintenance-previous`` — so a resumed run, another operator or
a second wizard run after a crash restores the real previous values, and ``kubectl
describe hpa`` shows why its minimum is 8. A retried scale-up keeps the first recorded
values (it never records its own 8 as "previous").
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from console.config.model import KubernetesSettings
from console.execution.context import StepContext
from console.execution.kube.ops import KubeOp, PatchObject, ScaleDeployment
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput

from ..library.plan import kube_plan
from ..library.rollout import follow_rollout

PREVIOUS_ANNOTATION = "mcp-ops/maintenance-previous"
STATE = "maintenance.state"  # ctx.cache: what the current-state step read


def _k(ctx: StepContext) -> KubernetesSettings:
    return ctx.env.kubernetes


async def hpa_object(ctx: StepContext) -> dict[str, Any]:
    k = _k(ctx)
    obj = await (await ctx.kube()).raw("HorizontalPodAutoscaler", k.hpa)
    if obj is None:
        raise StepFailed(f"hpa/{k.hpa} not found in {k.namespace}: the maintenance count "
                         "could not be held against it; nothing was changed")
    return obj


def recorded(hpa: dict[str, Any]) -> dict[str, int] | None:
    """The previous values a maintenance run left on the HPA, if any."""
    text = ((hpa.get("metadata") or {}).get("annotations") or {}).get(PREVIOUS_ANNOTATION)
    if not text:
        return None
    try:
        value = json.loads(text)
        return {k: int(value[k]) for k in ("minReplicas", "maxReplicas", "replicas")}
    except (ValueError, KeyError, TypeError):
        raise StepFailed(f"hpa annotation {PREVIOUS_ANNOTATION} is not readable: {text!r}; "
                         "restore the HPA by hand") from None


def _spec(hpa: dict[str, Any]) -> tuple[int, int]:
    spec = hpa.get("spec") or {}
    return int(spec.get("minReplicas") or 1), int(spec.get("maxReplicas") or 1)


# ---- current state (read) ---------------------------------------------------------------
def plan_state(ctx: StepContext) -> Plan:
    k = _k(ctx)
    return Plan(f"Look before changing: deployment/{k.deployment} (replicas, image), "
                f"hpa/{k.hpa} (bounds), the nodes",
                (Plan.command("kubectl", "get", f"deployment/{k.deployment}", "-n", k.namespace,
                              "-o", "wide"),
                 Plan.command("kubectl", "get", "hpa", k.hpa, "-n", k.namespace),
                 Plan.command("kubectl", "get", "nodes")))


async def run_state(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = _k(ctx)
    reader = await ctx.kube()
    deployment = await reader.deployment()
    hpa = await hpa_object(ctx)
    low, high = _spec(hpa)
    ctx.cache[STATE] = {"replicas": deployment.desired, "image": deployment.image,
                        "minReplicas": low, "maxReplicas": high, "recorded": recorded(hpa)}
    yield f"deployment/{k.deployment}: {deployment.rollout_text}; image {deployment.image}"
    yield f"hpa/{k.hpa}: min {low}, max {high}"
    if (left := recorded(hpa)) is not None:
        yield (f"hpa/{k.hpa} still holds the values of an earlier maintenance run: {left} — "
               "they are the ones restored at the end")
    for node in await reader.nodes():
        yield (f"node/{node.name}: {'Ready' if node.ready else 'NotReady'}"
               + (", SchedulingDisabled" if node.unschedulable else ""))
    yield (f"maintenance count {ctx.env.maintenance.scale_up_replicas}, normal count "
           f"{k.normal_replicas}")


# ---- scale up ---------------------------------------------------------------------------
def _up_ops(ctx: StepContext, low: int, high: int, previous: dict[str, int]) -> list[KubeOp]:
    k, target = _k(ctx), ctx.env.maintenance.scale_up_replicas
    spec: dict[str, int] = {"minReplicas": max(low, target)}
    if high < target:
        spec["maxReplicas"] = target
    patch = {"metadata": {"annotations": {PREVIOUS_ANNOTATION: json.dumps(
        previous, sort_keys=True)}}, "spec": spec}
    return [PatchObject("HorizontalPodAutoscaler", k.hpa, k.namespace, patch, "merge"),
            ScaleDeployment(k.deployment, k.namespace, target)]


def _cached_previous(ctx: StepContext) -> tuple[int, int, dict[str, int]] | None:
    state = ctx.cache.get(STATE)
    if not state:
        return None
    previous = state["recorded"] or {"minReplicas": state["minReplicas"],
                                     "maxReplicas": state["maxReplicas"],
                                     "replicas": state["replicas"]}
    return state["minReplicas"], state["maxReplicas"], previous


def plan_up(ctx: StepContext) -> Plan:
    k, target = _k(ctx), ctx.env.maintenance.scale_up_replicas
    summary = (f"Hold {target} replicas for the window: raise hpa/{k.hpa}'s minReplicas to "
               f"{target} (its previous bounds kept in the annotation {PREVIOUS_ANNOTATION} "
               f"and the session log), then scale deployment/{k.deployment} to {target} and "
               "follow the rollout")
    rollout = Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}", "-n",
                           k.namespace)
    cached = _cached_previous(ctx)
    if cached is None:
        return Plan(summary + " (the HPA's values as read when the step runs)",
                    (Plan.command("kubectl", "patch", "hpa", k.hpa, "-n", k.namespace,
                                  "--type", "merge", "-p", "<minReplicas and the annotation>"),
                     Plan.command("kubectl", "scale", f"deployment/{k.deployment}",
                                  f"--replicas={target}", "-n", k.namespace), rollout))
    return kube_plan(ctx, summary, _up_ops(ctx, *cached), rollout)


async def run_up(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k, target = _k(ctx), ctx.env.maintenance.scale_up_replicas
    hpa = await hpa_object(ctx)
    low, high = _spec(hpa)
    deployment = await (await ctx.kube()).deployment()
    previous = recorded(hpa)
    if previous is None:
        previous = {"minReplicas": low, "maxReplicas": high, "replicas": deployment.desired}
        yield (f"previous: hpa min {low}, max {high}; {deployment.desired} replicas (kept on "
               f"the HPA as {PREVIOUS_ANNOTATION} and in the session log)")
    else:
        yield f"previous values already recorded by an earlier attempt, kept: {previous}"
    ctx.note(f"maintenance: previous hpa/{k.hpa} min {previous['minReplicas']}, max "
             f"{previous['maxReplicas']}; {previous['replicas']} replicas",
             maintenance_previous=previous)
    ctx.cache["maintenance.previous"] = previous
    writer = await ctx.mutations.kube()
    for op in _up_ops(ctx, low, high, previous):
        yield await writer.apply(op)
    async for item in follow_rollout(ctx, replicas=target):
        yield item


async def verify_up(ctx: StepContext) -> str:
    target = ctx.env.maintenance.scale_up_replicas
    hpa = await (await ctx.kube()).hpa()
    deployment = await (await ctx.kube()).deployment()
    if hpa.min < target or deployment.desired != target or deployment.ready < target:
        raise StepFailed(f"not held at {target}: hpa min {hpa.min}; deployment "
                         f"{deployment.rollout_text}")
    return f"{deployment.ready}/{target} replicas ready, hpa min {hpa.min}, max {hpa.max}"


# ---- scale back -------------------------------------------------------------------------
def _normal(ctx: StepContext, previous: dict[str, int]) -> int:
    """The normal count, inside the HPA's restored bounds (else the HPA would move it)."""
    return min(max(_k(ctx).normal_replicas, previous["minReplicas"]), previous["maxReplicas"])


def _back_ops(ctx: StepContext, previous: dict[str, int]) -> list[KubeOp]:
    k = _k(ctx)
    patch = {"metadata": {"annotations": {PREVIOUS_ANNOTATION: None}},
             "spec": {"minReplicas": previous["minReplicas"],
                      "maxReplicas": previous["maxReplicas"]}}
    return [PatchObject("HorizontalPodAutoscaler", k.hpa, k.namespace, patch, "merge"),
            ScaleDeployment(k.deployment, k.namespace, _normal(ctx, previous))]


def plan_back(ctx: StepContext) -> Plan:
    k = _k(ctx)
    previous = ctx.cache.get("maintenance.previous") or (
        (ctx.cache.get(STATE) or {}).get("recorded"))
    rollout = Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}", "-n",
                           k.namespace)
    summary = (f"Give hpa/{k.hpa} its previous bounds back (from {PREVIOUS_ANNOTATION}), "
               f"then scale deployment/{k.deployment} to the normal count "
               f"{k.normal_replicas} (kubernetes.normal_replicas) and follow the rollout")
    if not previous:
        return Plan(summary + " (values as recorded on the HPA when the step runs)",
                    (Plan.command("kubectl", "patch", "hpa", k.hpa, "-n", k.namespace,
                                  "--type", "merge", "-p", "<previous min/max>"),
                     Plan.command("kubectl", "scale", f"deployment/{k.deployment}",
                                  f"--replicas={k.normal_replicas}", "-n", k.namespace),
                     rollout))
    return kube_plan(ctx, summary, _back_ops(ctx, previous), rollout)


async def run_back(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = _k(ctx)
    hpa = await hpa_object(ctx)
    previous = recorded(hpa)
    if previous is None:
        low, high = _spec(hpa)
        raise StepFailed(f"hpa/{k.hpa} holds no {PREVIOUS_ANNOTATION} (min {low}, max {high} "
                         "now): the scale-up did not run or someone restored it; nothing was "
                         "changed — check the HPA by hand")
    ctx.cache["maintenance.previous"] = previous
    target = _normal(ctx, previous)
    if target != k.normal_replicas:
        yield (f"normal count {k.normal_replicas} is outside the HPA's bounds "
               f"{previous['minReplicas']}..{previous['maxReplicas']}: scaling to {target}, "
               "which the HPA keeps")
    writer = await ctx.mutations.kube()
    for op in _back_ops(ctx, previous):
        yield await writer.apply(op)
    async for item in follow_rollout(ctx, replicas=target):
        yield item


async def verify_back(ctx: StepContext) -> str:
    previous = ctx.cache["maintenance.previous"]
    hpa_json = await hpa_object(ctx)
    low, high = _spec(hpa_json)
    deployment = await (await ctx.kube()).deployment()
    target = _normal(ctx, previous)
    if (low, high) != (previous["minReplicas"], previous["maxReplicas"]) or recorded(hpa_json):
        raise StepFailed(f"hpa reads back min {low}, max {high} (expected "
                         f"{previous['minReplicas']}, {previous['maxReplicas']}, annotation "
                         "removed)")
    if deployment.desired != target or deployment.ready < target:
        raise StepFailed(f"deployment not back at {target}: {deployment.rollout_text}")
    return f"hpa min {low}, max {high}; {deployment.ready}/{target} replicas ready"


def state_step() -> Step:
    return Step("current-state", "Current state", "Look before changing: replicas, image, "
                "the HPA's bounds and the nodes; the values restored at the end come from "
                "here.", Risk.READ, plan_state, run_state, timeout=60)


def scale_up_step() -> Step:
    return Step(
        "scale-up", "Scale up for the window",
        "2. Scale up replicas for faster rollback if needed. The runbook's bare `kubectl "
        "scale --replicas=8` is undone by the HPA (minimum 6) within minutes while CPU is "
        "low; the HPA's minimum is raised for the window and its previous bounds are kept "
        "on the HPA and in the session log, so the end of the window restores them.",
        Risk.CHANGE, plan_up, run_up, verify=verify_up, timeout=600)


def scale_back_step() -> Step:
    return Step(
        "scale-back", "Scale back to normal",
        "3. Scale back to normal replica count. The HPA's own bounds come back first (the "
        "runbook forgets the HPA, which would otherwise keep 8), then the normal count.",
        Risk.CHANGE, plan_back, run_back, verify=verify_back, timeout=600)
