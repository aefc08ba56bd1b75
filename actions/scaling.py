"""The ``scaling`` wizard — the guide's "Scaling Operations".

Look at the deployment and its HPA; set the HPA's min/max and CPU target — first, so that
the new bounds admit the replica count (an HPA scales a deployment back into its bounds,
and towards its minimum while CPU is low); scale the MCP server (bounded by the config's
``max_replicas``) and follow the rollout, failing if something scales it away meanwhile;
optionally change the PostgreSQL replicas with helm (:mod:`.scaling_helm`), and check the
pods. Every default comes from the config or the live HPA, so it runs with no answers.

Two faults of the runbook's way are fixed here. ``kubectl patch hpa -p
'{"spec":{"metrics":[...cpu...]}}'`` *replaces* the HPA's whole ``metrics`` list (it is an
atomic list), silently dropping a memory or custom metric; the HPA step instead sends a
JSON patch of the CPU entry alone, guarded by a ``test`` of that entry's name. And when the
HPA cannot be read the step refuses to guess its settings instead of writing defaults.
What the HPA and scale steps change is kept in the session log first, so the run can be
undone (:mod:`.scaling_undo`: ``--set undo=SESSION``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from console.collectors.kube_model import HpaInfo
from console.config.model import Environment, KubernetesSettings
from console.execution.context import StepContext
from console.execution.inputs import IntInput
from console.execution.kube.ops import PatchObject, ScaleDeployment
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard

from .library.plan import commands
from .library.rollout import follow_rollout
from .scaling_helm import plan_replicas, release_lines, run_replicas
from .scaling_undo import UNDO, Previous, record, undo_of

HPA = "scaling.hpa"  # ctx.cache: the HPA as read (HpaInfo), or why it could not be (str)


def _k(ctx: StepContext) -> KubernetesSettings:
    return ctx.env.kubernetes


async def live_hpa(ctx: StepContext, *, fresh: bool = False) -> HpaInfo | str:
    """The HPA as it is now, or why it cannot be read (cached for the run's defaults and
    plans; ``fresh`` reads it again)."""
    if fresh or HPA not in ctx.cache:
        try:
            ctx.cache[HPA] = await (await ctx.kube()).hpa()
        except Exception as exc:  # noqa: BLE001 - absent, unreachable, no kubeconfig: unread
            ctx.cache[HPA] = f"{type(exc).__name__}: {exc}"
    found: HpaInfo | str = ctx.cache[HPA]
    return found


async def _live(ctx: StepContext) -> HpaInfo | None:
    hpa = await live_hpa(ctx)
    return hpa if isinstance(hpa, HpaInfo) else None


async def _default_min(ctx: StepContext) -> int | None:
    hpa = await _live(ctx)
    return hpa.min if hpa else None


async def _default_max(ctx: StepContext) -> int | None:
    hpa = await _live(ctx)
    return min(hpa.max, _k(ctx).max_replicas) if hpa and hpa.max else None


async def _default_cpu(ctx: StepContext) -> int | None:
    hpa = await _live(ctx)
    return hpa.cpu_target_pct if hpa else None


REPLICAS = IntInput("replicas", "Replicas of the MCP server", minimum=1,
                    maximum=lambda ctx: _k(ctx).max_replicas,
                    default=lambda ctx: _k(ctx).normal_replicas,
                    help="The guide scales to 10 for high traffic and back to 6; bounded by "
                         "kubernetes.max_replicas.")
HPA_MIN = IntInput("hpa_min", "HPA minimum replicas", minimum=1, required=False,
                   maximum=lambda ctx: _k(ctx).max_replicas, default=_default_min,
                   help="Default: the live HPA's (empty when it cannot be read: the HPA step "
                        "then refuses to guess).")
HPA_MAX = IntInput("hpa_max", "HPA maximum replicas", minimum=1, required=False,
                   maximum=lambda ctx: _k(ctx).max_replicas, default=_default_max,
                   help="The guide raises it to 20 for high-traffic periods.")
CPU_TARGET = IntInput("cpu_target", "HPA CPU target (% of requests)", minimum=10, maximum=95,
                      required=False, default=_default_cpu,
                      help="The guide lowers it to 50 to scale earlier; only the CPU metric "
                           "changes, other metrics are kept.")
READ_REPLICAS = IntInput("read_replicas", "PostgreSQL replicas, helm (empty: leave as is)",
                         minimum=0, maximum=10, required=False, default=None,
                         help="helm.read_replicas_key (postgresql.replicaCount: the chart's "
                              "PostgreSQL nodes, primary included).")


@dataclass(frozen=True)
class Targets:
    replicas: int | None
    hpa_min: int | None
    hpa_max: int | None
    cpu_target: int | None
    undo: Previous | None = None


def targets(values: Mapping[str, Any]) -> Targets:
    """What the steps set: the answers, or an undone session's recorded values."""
    undo = values.get("undo")
    if isinstance(undo, Previous):
        return Targets(undo.replicas, undo.hpa_min, undo.hpa_max, undo.cpu_target, undo)
    return Targets(values.get("replicas"), values.get("hpa_min"), values.get("hpa_max"),
                   values.get("cpu_target"))


# ---- 1. current state ------------------------------------------------------------------
def plan_state(ctx: StepContext) -> Plan:
    k = _k(ctx)
    return Plan(f"Show deployment/{k.deployment}, hpa/{k.hpa} and the pods in {k.namespace}",
                (Plan.command("kubectl", "get", f"deployment/{k.deployment}", "-n", k.namespace),
                 Plan.command("kubectl", "get", "hpa", "-n", k.namespace),
                 Plan.command("kubectl", "get", "pods", "-n", k.namespace, "-l", k.app_selector)))


async def run_state(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    deployment = await reader.deployment()
    yield f"deployment/{_k(ctx).deployment}: {deployment.rollout_text}"
    hpa = await live_hpa(ctx, fresh=True)
    if isinstance(hpa, HpaInfo):
        yield (f"hpa/{_k(ctx).hpa}: min {hpa.min}, max {hpa.max}, cpu target "
               f"{hpa.cpu_target_pct}%, current {hpa.current}; metrics "
               f"{', '.join(hpa.metrics) or 'none'}")
    else:
        yield f"hpa/{_k(ctx).hpa}: not readable ({hpa})"
    pods = await reader.pods()
    yield f"pods ({_k(ctx).app_selector}): {len(pods)}"
    if ctx.values.get("read_replicas") is not None:
        async for line in release_lines(ctx):
            yield line
    if (undo := undo_of(ctx)) is not None:
        yield f"undo of {undo.describe()}"


# ---- 2. HPA ----------------------------------------------------------------------------
CPU_METRIC = {"type": "Resource", "resource": {"name": "cpu", "target": {
    "type": "Utilization", "averageUtilization": 0}}}


def hpa_patch(hpa: HpaInfo | None, t: Targets) -> list[dict[str, Any]]:
    """A JSON patch setting min, max and the CPU metric's target, and nothing else: the
    CPU entry is addressed by its index, after a ``test`` that it is still the CPU entry
    (a list changed in between fails the patch instead of hitting another metric); an HPA
    without a CPU metric gets one added after the others."""
    target = {"type": "Utilization", "averageUtilization": t.cpu_target}
    ops: list[dict[str, Any]] = [{"op": "add", "path": "/spec/minReplicas", "value": t.hpa_min},
                                 {"op": "add", "path": "/spec/maxReplicas", "value": t.hpa_max}]
    index = hpa.cpu_metric_index if hpa else None
    if index is not None:
        ops += [{"op": "test", "path": f"/spec/metrics/{index}/resource/name", "value": "cpu"},
                {"op": "replace", "path": f"/spec/metrics/{index}/resource/target",
                 "value": target}]
    else:
        metric = {"type": "Resource", "resource": {"name": "cpu", "target": target}}
        ops += ([{"op": "add", "path": "/spec/metrics/-", "value": metric}] if hpa and hpa.metrics
                else [{"op": "add", "path": "/spec/metrics", "value": [metric]}])
    return ops


def _patch_op(ctx: StepContext, hpa: HpaInfo | None) -> PatchObject:
    k = _k(ctx)
    return PatchObject("HorizontalPodAutoscaler", k.hpa, k.namespace,
                       hpa_patch(hpa, targets(ctx.values)), "json")


def _missing(t: Targets) -> list[str]:
    return [name for name in ("hpa_min", "hpa_max", "cpu_target") if getattr(t, name) is None]


def plan_hpa(ctx: StepContext) -> Plan:
    k, t = _k(ctx), targets(ctx.values)
    hpa = ctx.cache.get(HPA)
    if _missing(t):
        return Plan(f"Set hpa/{k.hpa}: refused — {', '.join(_missing(t))} not known (the HPA "
                    f"could not be read: {hpa}); give them, nothing is guessed")
    summary = (f"Set hpa/{k.hpa}: min {t.hpa_min}, max {t.hpa_max} replicas, CPU target "
               f"{t.cpu_target}% (a JSON patch of the CPU metric only")
    undo = f" — undo of {t.undo.describe()}" if t.undo else ""
    if not isinstance(hpa, HpaInfo):  # not read in this process yet (a resumed run)
        return Plan(f"{summary}, at its index in the HPA as read when the step runs){undo}",
                    (Plan.command("kubectl", "patch", "hpa", k.hpa, "-n", k.namespace, "--type",
                                  "json", "-p", "<min, max, and the cpu metric's target>"),))
    kept = [m for m in hpa.metrics if m != "cpu"]
    return Plan(summary + (f"; {', '.join(kept)} kept" if kept else "") + ")" + undo,
                commands(ctx, [_patch_op(ctx, hpa)]))


async def run_hpa(ctx: StepContext) -> AsyncIterator[StepOutput]:
    t = targets(ctx.values)
    hpa = await live_hpa(ctx, fresh=True)
    if not isinstance(hpa, HpaInfo):
        raise StepFailed(f"hpa/{_k(ctx).hpa} cannot be read ({hpa}): refusing to guess its "
                         "settings; nothing was changed")
    if _missing(t):
        raise StepFailed(f"{', '.join(_missing(t))} not given and not known: refusing to "
                         "guess; nothing was changed")
    deployment = await (await ctx.kube()).deployment()  # before the new bounds move it
    record(ctx, f"hpa/{hpa.name} before: min {hpa.min}, max {hpa.max}, cpu "
                f"{hpa.cpu_target_pct}%; deployment/{deployment.name} {deployment.desired} "
                "replicas", hpa_min=hpa.min, hpa_max=hpa.max, cpu_target=hpa.cpu_target_pct,
           replicas=deployment.desired)
    yield (f"previous: min {hpa.min}, max {hpa.max}, cpu target {hpa.cpu_target_pct}%, "
           f"{deployment.desired} replicas (kept in the session log for an undo)")
    yield await (await ctx.mutations.kube()).apply(_patch_op(ctx, hpa))
    after = await live_hpa(ctx, fresh=True)
    if isinstance(after, HpaInfo):
        yield (f"hpa/{after.name}: min {after.min}, max {after.max}, cpu target "
               f"{after.cpu_target_pct}%; metrics {', '.join(after.metrics)}")
    ctx.cache["scaling.metrics_before"] = hpa.metrics


async def verify_hpa(ctx: StepContext) -> str:
    hpa, t = await (await ctx.kube()).hpa(), targets(ctx.values)
    got = (hpa.min, hpa.max, hpa.cpu_target_pct)
    if got != (t.hpa_min, t.hpa_max, t.cpu_target):
        raise StepFailed(f"HPA reads back min/max/cpu {got}, expected "
                         f"{(t.hpa_min, t.hpa_max, t.cpu_target)}")
    before = [m for m in ctx.cache.get("scaling.metrics_before", ()) if m != "cpu"]
    lost = [m for m in before if m not in hpa.metrics]
    if lost:
        raise StepFailed(f"the HPA lost its metrics {', '.join(lost)}")
    return f"HPA min {got[0]}, max {got[1]}, cpu {got[2]}%" + (
        f"; {', '.join(before)} kept" if before else "")


# ---- 3. scale --------------------------------------------------------------------------
def _scale_op(ctx: StepContext) -> ScaleDeployment:
    k = _k(ctx)
    return ScaleDeployment(k.deployment, k.namespace, int(targets(ctx.values).replicas or 0))


def plan_scale(ctx: StepContext) -> Plan:
    k, t = _k(ctx), targets(ctx.values)
    low = t.hpa_min
    note = (f"; the HPA may scale it back towards {low} while CPU is under target"
            if low is not None and t.replicas is not None and t.replicas > low else "")
    return Plan(f"Scale deployment/{k.deployment} in {k.namespace} to {t.replicas} replicas "
                f"and follow the rollout until every replica is ready{note}"
                + (f" — undo of {t.undo.describe()}" if t.undo else ""),
                (*commands(ctx, [_scale_op(ctx)]),
                 Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}",
                              "-n", k.namespace)))


async def run_scale(ctx: StepContext) -> AsyncIterator[StepOutput]:
    op = _scale_op(ctx)
    before = await (await ctx.kube()).deployment()
    record(ctx, f"deployment/{before.name} before: {before.desired} replicas",
           replicas=before.desired)  # an undo keeps the HPA step's count if it recorded one
    yield f"now: {before.desired} replicas"
    yield await (await ctx.mutations.kube()).apply(op)
    async for item in follow_rollout(ctx, replicas=op.replicas):
        yield item


async def verify_scale(ctx: StepContext) -> str:
    deployment = await (await ctx.kube()).deployment()
    wanted = targets(ctx.values).replicas
    if deployment.desired != wanted or deployment.ready < deployment.desired:
        raise StepFailed(f"deployment is not at {wanted} ready replicas: "
                         f"{deployment.rollout_text}")
    return f"{deployment.ready}/{deployment.desired} replicas ready"


# ---- 5. verify pods --------------------------------------------------------------------
def plan_pods(ctx: StepContext) -> Plan:
    k = _k(ctx)
    return Plan("Check that every MCP server pod is Ready",
                (Plan.command("kubectl", "get", "pods", "-n", k.namespace, "-l", k.app_selector),))


async def run_pods(ctx: StepContext) -> AsyncIterator[StepOutput]:
    pods = await (await ctx.kube()).pods()
    for pod in pods:
        state = "Terminating" if pod.deleting else pod.phase
        yield f"{pod.name}: {state}{' Ready' if pod.is_ready else ' not ready'}"
    # a pod being deleted (scaled away) is on its way out: it does not count
    ready = sum(p.is_ready and not p.deleting for p in pods)
    wanted = targets(ctx.values).replicas or 0
    if ready < wanted:
        raise StepFailed(f"only {ready} of {wanted} pods are Ready")
    yield f"{ready} pods Ready"


def check(values: Mapping[str, Any], env: Environment) -> list[str]:
    t = targets(values)
    problems = []
    if t.hpa_min is not None and t.hpa_max is not None:
        if t.hpa_min > t.hpa_max:
            problems.append(f"hpa_min {t.hpa_min} is above hpa_max {t.hpa_max}")
        elif t.replicas is not None and not t.hpa_min <= t.replicas <= t.hpa_max:
            problems.append(f"replicas {t.replicas} is outside the HPA's bounds "
                            f"{t.hpa_min}..{t.hpa_max}: the HPA would undo it")
    return problems


def _hpa_applies(values: Mapping[str, Any]) -> bool:
    undo = values.get("undo")
    return not isinstance(undo, Previous) or undo.hpa


def _scale_applies(values: Mapping[str, Any]) -> bool:
    undo = values.get("undo")
    return not isinstance(undo, Previous) or undo.replicas is not None


WIZARD = Wizard(
    id="scaling", title="Scale the MCP server", section="Scaling Operations",
    when="Traffic rises or falls: change replicas, HPA bounds and target, read replicas.",
    check=check,
    steps=(
        Step("current-state", "Current state", "Look before changing: desired and ready "
             "replicas, the HPA's bounds, target and metrics, the pods.", Risk.READ,
             plan_state, run_state, inputs=(UNDO,)),
        Step("hpa-settings", "Auto-scaling (HPA) settings", "Lower the CPU threshold to scale "
             "earlier; raise max replicas for high-traffic periods. Only the CPU metric is "
             "changed (the runbook's patch would drop the others); the previous values are "
             "kept in the session log for an undo.", Risk.CHANGE, plan_hpa, run_hpa,
             inputs=(HPA_MIN, HPA_MAX, CPU_TARGET), verify=verify_hpa, applies=_hpa_applies),
        Step("scale-deployment", "Scale the deployment", "Scale up during high traffic, down "
             "during low traffic; the rollout is followed until every replica is ready.",
             Risk.CHANGE, plan_scale, run_scale, inputs=(REPLICAS,), verify=verify_scale,
             applies=_scale_applies, timeout=600),
        Step("read-replicas", "PostgreSQL read replicas", "Scale the database's replicas "
             "with helm, reusing every other value of the release and its chart version; "
             "the key is postgresql.replicaCount (the runbook's readReplicas.replicaCount is "
             "not a value of postgresql-ha and would be ignored). The StatefulSet is checked "
             "after.", Risk.CHANGE, plan_replicas, run_replicas, inputs=(READ_REPLICAS,),
             applies=lambda v: v.get("read_replicas") is not None and v.get("undo") is None,
             timeout=900),
        Step("verify-pods", "Verify the pods", "The guide's check after scaling: the pods "
             "with the app label, all Ready.", Risk.READ, plan_pods, run_pods),
    ),
)
