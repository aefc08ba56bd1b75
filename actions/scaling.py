"""The ``scaling`` wizard — the guide's "Scaling Operations".

Look at the deployment and its HPA; set the HPA's min/max and CPU target with the same
strategic merge patch as the guide's ``kubectl patch hpa`` — first, so that the new bounds
admit the replica count (an HPA scales a deployment back into its bounds, and towards its
minimum while CPU is low); scale the MCP server (bounded by the config's ``max_replicas``)
and follow the rollout, failing if something scales it away meanwhile; optionally change the
number of PostgreSQL read replicas with ``helm upgrade --reuse-values``, and check the
pods. Every default comes from the config or the live HPA, so it runs with no answers.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from console.execution.inputs import IntInput
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from .rollout import follow_rollout, rollout_state


def _k(ctx: Any) -> Any:
    return ctx.env.kubernetes


def _cpu_target(hpa: dict[str, Any]) -> int | None:
    for metric in hpa.get("spec", {}).get("metrics") or []:
        resource = metric.get("resource") or {}
        if metric.get("type") == "Resource" and resource.get("name") == "cpu":
            return (resource.get("target") or {}).get("averageUtilization")
    return hpa.get("spec", {}).get("targetCPUUtilizationPercentage")


async def _live_hpa(ctx: Any) -> dict[str, Any] | None:
    """The HPA as it is now, or None when it cannot be read (the config's defaults apply)."""
    cache = getattr(ctx, "cache", None)
    if isinstance(cache, dict) and "scaling.hpa" in cache:
        return cache["scaling.hpa"]
    try:
        hpa = await (await ctx.kube()).hpa()
    except Exception:  # unreachable or absent: fall back to the config's numbers
        hpa = None
    if isinstance(cache, dict):
        cache["scaling.hpa"] = hpa
    return hpa


async def _default_min(ctx: Any) -> int:
    hpa = await _live_hpa(ctx)
    return (hpa or {}).get("spec", {}).get("minReplicas") or _k(ctx).normal_replicas


async def _default_max(ctx: Any) -> int:
    hpa = await _live_hpa(ctx)
    live = (hpa or {}).get("spec", {}).get("maxReplicas")
    return min(live, _k(ctx).max_replicas) if live else _k(ctx).max_replicas


async def _default_cpu(ctx: Any) -> int:
    return _cpu_target(await _live_hpa(ctx) or {}) or 70


REPLICAS = IntInput("replicas", "Replicas of the MCP server", minimum=1,
                    maximum=lambda ctx: _k(ctx).max_replicas,
                    default=lambda ctx: _k(ctx).normal_replicas,
                    help="The guide scales to 10 for high traffic and back to 6; bounded by "
                         "kubernetes.max_replicas.")
HPA_MIN = IntInput("hpa_min", "HPA minimum replicas", minimum=1,
                   maximum=lambda ctx: _k(ctx).max_replicas, default=_default_min)
HPA_MAX = IntInput("hpa_max", "HPA maximum replicas", minimum=1,
                   maximum=lambda ctx: _k(ctx).max_replicas, default=_default_max,
                   help="The guide raises it to 20 for high-traffic periods.")
CPU_TARGET = IntInput("cpu_target", "HPA CPU target (% of requests)", minimum=10, maximum=95,
                      default=_default_cpu, help="The guide lowers it to 50 to scale earlier.")
READ_REPLICAS = IntInput("read_replicas", "PostgreSQL read replicas (empty: leave as is)",
                         minimum=0, maximum=10, required=False, default=None)


# ---- 1. current state ------------------------------------------------------------------
def plan_state(ctx: Any) -> Plan:
    k = _k(ctx)
    return Plan(f"Show deployment/{k.deployment}, hpa/{k.hpa} and the pods in {k.namespace}",
                (Plan.command("kubectl", "get", f"deployment/{k.deployment}", "-n", k.namespace),
                 Plan.command("kubectl", "get", "hpa", "-n", k.namespace),
                 Plan.command("kubectl", "get", "pods", "-n", k.namespace, "-l", k.app_selector)))


async def run_state(ctx: Any) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    deployment = await reader.deployment()
    yield f"deployment/{_k(ctx).deployment}: {rollout_state(deployment)[3]}"
    hpa = await _live_hpa(ctx)
    if hpa:
        spec = hpa.get("spec", {})
        yield (f"hpa/{_k(ctx).hpa}: min {spec.get('minReplicas')}, max {spec.get('maxReplicas')}, "
               f"cpu target {_cpu_target(hpa)}%, current "
               f"{(hpa.get('status') or {}).get('currentReplicas')}")
    else:
        yield f"hpa/{_k(ctx).hpa}: not found"
    pods = await reader.pods()
    yield f"pods ({_k(ctx).app_selector}): {len(pods)}"


# ---- 2. scale --------------------------------------------------------------------------
def plan_scale(ctx: Any) -> Plan:
    k, n = _k(ctx), ctx.values["replicas"]
    low = ctx.values.get("hpa_min")
    note = (f"; the HPA may scale it back towards {low} while CPU is under target"
            if low is not None and n > low else "")
    return Plan(f"Scale deployment/{k.deployment} in {k.namespace} to {n} replicas and follow "
                f"the rollout until every replica is ready{note}",
                (Plan.command("kubectl", "scale", f"deployment/{k.deployment}",
                              f"--replicas={n}", "-n", k.namespace),
                 Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}",
                              "-n", k.namespace)))


async def run_scale(ctx: Any) -> AsyncIterator[StepOutput]:
    n = ctx.values["replicas"]
    writer = await ctx.mutations.kube()
    scale = await writer.scale_deployment(n)
    yield f"deployment/{_k(ctx).deployment} scaled: spec.replicas={scale.get('spec', {}).get('replicas')}"
    async for item in follow_rollout(ctx, timeout=int(ctx.env.kubernetes.request_timeout * 30),
                                     replicas=n):
        yield item


async def verify_scale(ctx: Any) -> str:
    settled, ready, desired, text = rollout_state(await (await ctx.kube()).deployment())
    if desired != ctx.values["replicas"] or ready < desired:
        raise StepFailed(f"deployment is not at {ctx.values['replicas']} ready replicas: {text}")
    return f"{ready}/{desired} replicas ready"


# ---- 3. HPA ----------------------------------------------------------------------------
def hpa_patch(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"spec": {"minReplicas": values["hpa_min"], "maxReplicas": values["hpa_max"],
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                         "type": "Utilization", "averageUtilization": values["cpu_target"]}}}]}}


def plan_hpa(ctx: Any) -> Plan:
    k, v = _k(ctx), ctx.values
    patch = json.dumps(hpa_patch(v), separators=(",", ":"))
    return Plan(f"Set hpa/{k.hpa}: min {v['hpa_min']}, max {v['hpa_max']} replicas, CPU target "
                f"{v['cpu_target']}% (strategic merge patch)",
                (Plan.command("kubectl", "patch", "hpa", k.hpa, "-n", k.namespace, "-p", patch),))


async def run_hpa(ctx: Any) -> AsyncIterator[StepOutput]:
    writer = await ctx.mutations.kube()
    result = await writer.patch_hpa(hpa_patch(ctx.values))
    spec = result.get("spec", {})
    yield (f"hpa/{_k(ctx).hpa} patched: min {spec.get('minReplicas')}, max "
           f"{spec.get('maxReplicas')}, cpu target {_cpu_target(result)}%")


async def verify_hpa(ctx: Any) -> str:
    hpa = await (await ctx.kube()).hpa()
    spec, v = hpa.get("spec", {}), ctx.values
    got = (spec.get("minReplicas"), spec.get("maxReplicas"), _cpu_target(hpa))
    if got != (v["hpa_min"], v["hpa_max"], v["cpu_target"]):
        raise StepFailed(f"HPA reads back min/max/cpu {got}, expected "
                         f"{(v['hpa_min'], v['hpa_max'], v['cpu_target'])}")
    return f"HPA min {got[0]}, max {got[1]}, cpu {got[2]}%"


# ---- 4. read replicas (helm) -------------------------------------------------------------
def helm_argv(ctx: Any) -> list[str]:
    k, helm = _k(ctx), ctx.env.helm
    argv = ["helm", "upgrade", helm.postgres_release, helm.postgres_chart,
            "--namespace", k.namespace, "--reuse-values",
            "--set", f"readReplicas.replicaCount={ctx.values['read_replicas']}"]
    if k.context:
        argv += ["--kube-context", k.context]
    if k.kubeconfig:
        argv += ["--kubeconfig", k.kubeconfig]
    return argv


def plan_replicas(ctx: Any) -> Plan:
    return Plan(f"Set {ctx.env.helm.postgres_release} to {ctx.values['read_replicas']} read "
                "replicas with helm, keeping every other value", (Plan.command(*helm_argv(ctx)),))


async def run_replicas(ctx: Any) -> AsyncIterator[StepOutput]:
    process = ctx.mutations.process(helm_argv(ctx))
    async for line in process:
        yield f"helm: {line.text}"
    if not process.result.ok:
        raise StepFailed(f"helm upgrade failed: {process.result.describe()}")


# ---- 5. verify pods --------------------------------------------------------------------
def plan_pods(ctx: Any) -> Plan:
    k = _k(ctx)
    return Plan("Check that every MCP server pod is Ready",
                (Plan.command("kubectl", "get", "pods", "-n", k.namespace, "-l", k.app_selector),))


def _ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


async def run_pods(ctx: Any) -> AsyncIterator[StepOutput]:
    pods = await (await ctx.kube()).pods()
    for pod in pods:
        status = pod.get("status") or {}
        yield (f"{pod['metadata']['name']}: {status.get('phase')}"
               f"{' Ready' if _ready(pod) else ' not ready'}")
    ready = sum(_ready(p) for p in pods)
    if ready < ctx.values["replicas"]:
        raise StepFailed(f"only {ready} of {ctx.values['replicas']} pods are Ready")
    yield f"{ready} pods Ready"


def check(values: Mapping[str, Any], env: Any) -> list[str]:
    problems = []
    if values.get("hpa_min") is not None and values.get("hpa_max") is not None:
        if values["hpa_min"] > values["hpa_max"]:
            problems.append(f"hpa_min {values['hpa_min']} is above hpa_max {values['hpa_max']}")
        elif values.get("replicas") is not None and not (
                values["hpa_min"] <= values["replicas"] <= values["hpa_max"]):
            problems.append(f"replicas {values['replicas']} is outside the HPA's bounds "
                            f"{values['hpa_min']}..{values['hpa_max']}: the HPA would undo it")
    return problems


WIZARD = Wizard(
    id="scaling", title="Scale the MCP server", section="Scaling Operations",
    when="Traffic rises or falls: change replicas, HPA bounds and target, read replicas.",
    check=check,
    steps=(
        Step("current-state", "Current state", "Look before changing: desired and ready "
             "replicas, the HPA's bounds and target, the pods.", Risk.READ, plan_state,
             run_state),
        Step("hpa-settings", "Auto-scaling (HPA) settings", "Lower the CPU threshold to scale "
             "earlier; raise max replicas for high-traffic periods.", Risk.CHANGE, plan_hpa,
             run_hpa, inputs=(HPA_MIN, HPA_MAX, CPU_TARGET), verify=verify_hpa),
        Step("scale-deployment", "Scale the deployment", "Scale up during high traffic, down "
             "during low traffic; the rollout is followed until every replica is ready.",
             Risk.CHANGE, plan_scale, run_scale, inputs=(REPLICAS,), verify=verify_scale,
             timeout=600),
        Step("read-replicas", "PostgreSQL read replicas", "Scale the database's read replicas "
             "with helm, reusing every other value of the release.", Risk.CHANGE,
             plan_replicas, run_replicas, inputs=(READ_REPLICAS,),
             applies=lambda v: v.get("read_replicas") is not None, timeout=900),
        Step("verify-pods", "Verify the pods", "The guide's check after scaling: the pods "
             "with the app label, all Ready.", Risk.READ, plan_pods, run_pods),
    ),
)
