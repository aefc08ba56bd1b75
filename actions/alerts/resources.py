"""``alert-high-cpu-memory`` and ``troubleshoot-memory`` — the runbook's "High CPU/Memory
Usage" alert response and its "High Memory Usage" troubleshooting.

Look: each pod's CPU against its request and memory against its limit (the dashboard's
own collection, ``kubectl top pods``), judged by ``cpu_pct`` and ``memory_pct``; the HPA
(replicas, bounds, CPU against its target) and its recent scaling events; the containers
whose last run was OOMKilled. Remedies, by default the one the state points at:

- ``limits``: raise the memory (and optionally CPU) limit of the one container — a
  strategic-merge patch keyed by the container's name, so the other containers and the
  requests stay as they are; the previous values are logged first for an undo. The
  default memory limit is 1.5 x the current one. (A leak is not fixed by it: it buys time
  until the release that fixes it.)
- ``scale``: more replicas, each doing less;
- ``restart``: every pod replaced (memory back to its start, for a while).
"""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from console.collectors.kube_model import KubeSnapshot, PodInfo
from console.collectors.kube_parse import quantity
from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.kube.ops import PatchObject
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status

from ..library.diagnosis import diagnosis_step, judge
from ..library.plan import commands
from ..library.rollout import follow_rollout, rollout_settled
from .common import after_step, chosen, remedy_input, restart_step, scale_step

QUANTITY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|m|k|M|G)?$", re.ASCII)
GiB = 2**30
CACHE = "alerts.resources"


async def snapshot(ctx: StepContext, *, fresh: bool = False) -> KubeSnapshot:
    snap = await ctx.collect("pods", max_age=0.0 if fresh else 60.0)
    if not isinstance(snap, KubeSnapshot):
        raise StepFailed(f"no pod figures: {getattr(snap, 'error', snap)}")
    if snap.error:
        raise StepFailed(f"pods not readable: {snap.error}")
    return snap


def _mib(value: float | None) -> str:
    return "?" if value is None else f"{value / 2**20:.0f}Mi"


def _m(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}m"


def oom_killed(pod: PodInfo) -> bool:
    return pod.last_termination == "OOMKilled"


async def usage_findings(ctx: StepContext) -> list[Finding]:
    snap = await snapshot(ctx, fresh=True)
    t = ctx.env.thresholds
    out: list[Finding] = []
    if snap.metrics_error:
        out.append(Finding("pods", "metrics", Status.UNKNOWN,
                           f"metrics.k8s.io not readable: {snap.metrics_error}"))
    for pod in (p for p in snap.pods if not p.deleting):
        if pod.cpu_pct is not None:
            out.append(judge("pods", f"cpu.{pod.name}", f"{pod.name}: CPU {_m(pod.cpu_m)} "
                             f"of request {_m(pod.cpu_request_m)} (limit "
                             f"{_m(pod.cpu_limit_m)}) =", pod.cpu_pct, t.cpu_pct, unit="%"))
        if pod.memory_pct is not None:
            out.append(judge("pods", f"memory.{pod.name}", f"{pod.name}: memory "
                             f"{_mib(pod.memory_bytes)} of limit "
                             f"{_mib(pod.memory_limit_bytes)} =", pod.memory_pct,
                             t.memory_pct, unit="%"))
    for name, value, band in (("CPU", snap.avg_cpu_pct, t.cpu_pct),
                              ("memory", snap.avg_memory_pct, t.memory_pct)):
        if value is not None:
            out.append(judge("pods", f"avg.{name}", f"average {name}", value, band, unit="%"))
    return out


async def oom_findings(ctx: StepContext) -> list[Finding]:
    snap = await snapshot(ctx)
    killed = [p for p in snap.pods if oom_killed(p) and not p.deleting]
    if not killed:
        return [Finding("pods", "oom", Status.HEALTHY, "no container's last run was OOMKilled")]
    return [Finding("pods", f"oom.{p.name}", Status.CRITICAL,
                    f"pod {p.name}: last terminated OOMKilled, {p.restarts} restarts, now "
                    f"{p.waiting_reason or p.phase}; memory limit {_mib(p.memory_limit_bytes)}",
                    float(p.restarts)) for p in killed]


def plan_hpa(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan("The HPA: replicas, bounds, CPU against its target; its recent scaling",
                (Plan.command("kubectl", "get", "hpa", k.hpa, "-n", k.namespace),
                 Plan.command("kubectl", "describe", "hpa", k.hpa, "-n", k.namespace)))


async def run_hpa(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    k = ctx.env.kubernetes
    try:
        hpa = await reader.hpa()
    except Exception as exc:  # noqa: BLE001 - no HPA: said, not a failure
        yield f"hpa/{k.hpa} not readable: {exc}"
        return
    yield (f"hpa/{hpa.name}: {hpa.current} replicas (desired {hpa.desired}, min {hpa.min}, "
           f"max {hpa.max}); CPU {hpa.cpu_current_pct}% of target {hpa.cpu_target_pct}%")
    if hpa.current >= hpa.max:
        yield "at its maximum: it cannot add replicas (raise max with the scaling wizard)"
    events = await reader.events(hpa.name)
    for event in events[:10]:
        yield f"{event.age_seconds:>6.0f}s ago  {event.reason}: {event.message}"
    yield f"{len(events)} events of hpa/{hpa.name}"


# ---- inputs ---------------------------------------------------------------------------
async def _current_limits(ctx: StepContext) -> dict[str, str]:
    if CACHE not in ctx.cache:
        deployment = await (await ctx.kube()).deployment_json()
        containers = deployment["spec"]["template"]["spec"].get("containers") or []
        mine = next((c for c in containers if c.get("name") == ctx.env.kubernetes.container),
                    None)
        if mine is None:
            raise StepFailed(f"deployment has no container {ctx.env.kubernetes.container}")
        ctx.cache[CACHE] = dict((mine.get("resources") or {}).get("limits") or {})
    found: dict[str, str] = ctx.cache[CACHE]
    return found


async def default_memory(ctx: StepContext) -> str | None:
    try:
        current = quantity((await _current_limits(ctx)).get("memory"))
    except Exception:  # noqa: BLE001 - not readable: no default, the step refuses to guess
        return None
    if not current:
        return None
    return f"{math.ceil(current * 1.5 / GiB)}Gi" if current >= GiB else \
        f"{math.ceil(current * 1.5 / 2**20)}Mi"


async def default_remedy(ctx: StepContext) -> str:
    try:
        snap = await snapshot(ctx)
    except Exception:  # noqa: BLE001
        return "none"
    t = ctx.env.thresholds
    if any(oom_killed(p) for p in snap.pods if not p.deleting):
        return "limits"
    mem, cpu = snap.avg_memory_pct, snap.avg_cpu_pct
    if mem is not None and mem >= t.memory_pct.warning:
        return "limits"
    if cpu is not None and cpu >= t.cpu_pct.warning:
        return "scale"
    return "none"


class QuantityInput(Input):
    """A Kubernetes resource quantity: ``6Gi``, ``1536Mi``, ``2000m``, ``2``."""

    async def convert(self, text: str, ctx: StepContext) -> str:
        if not QUANTITY.match(text):
            raise InputError(f"{text!r} is not a resource quantity (e.g. 6Gi, 1536Mi, 2000m)")
        return text


MEMORY_LIMIT = QuantityInput("memory_limit", "New memory limit of the container",
                             default=default_memory, required=False,
                             help="Default: 1.5 x the current limit. Used by the limits "
                                  "remedy only.")
CPU_LIMIT = QuantityInput("cpu_limit", "New CPU limit (empty: unchanged)", required=False,
                          help="Used by the limits remedy only.")


# ---- the limits patch -----------------------------------------------------------------
def _limits(ctx: StepContext) -> dict[str, str]:
    wanted = {"memory": ctx.values.get("memory_limit"), "cpu": ctx.values.get("cpu_limit")}
    return {k: str(v) for k, v in wanted.items() if v}


def _patch(ctx: StepContext, limits: dict[str, Any]) -> PatchObject:
    k = ctx.env.kubernetes
    return PatchObject("Deployment", k.deployment, k.namespace, {"spec": {"template": {
        "spec": {"containers": [{"name": k.container, "resources": {"limits": limits}}]}}}})


def plan_limits(ctx: StepContext) -> Plan:
    limits = _limits(ctx)
    k = ctx.env.kubernetes
    shown = ", ".join(f"{name} {value}" for name, value in limits.items()) or "nothing given"
    return Plan(f"Set the limits of container {k.container} of deployment/{k.deployment}: "
                f"{shown} (a patch of that container alone; the previous values logged), "
                "then follow the rollout",
                (*commands(ctx, [_patch(ctx, limits)]),
                 Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}",
                              "-n", k.namespace)))


async def run_limits(ctx: StepContext) -> AsyncIterator[StepOutput]:
    limits = _limits(ctx)
    if not limits:
        raise StepFailed("no limit given and none could be worked out: give --set "
                         "memory_limit=6Gi (or cpu_limit)")
    ctx.cache.pop(CACHE, None)
    before = await _current_limits(ctx)
    ctx.note(f"container {ctx.env.kubernetes.container} limits before: "
             + (", ".join(f"{k} {v}" for k, v in before.items()) or "none"),
             previous_limits=before)
    for name, value in limits.items():
        old = quantity(before.get(name))
        if old and (quantity(value) or 0) < old:
            yield f"note: {name} {value} is below the current {before.get(name)}"
    yield (f"before: {', '.join(f'{k} {v}' for k, v in before.items()) or 'no limits'} "
           "(kept in the session log for an undo)")
    yield await (await ctx.mutations.kube()).apply(_patch(ctx, limits))
    async for item in follow_rollout(ctx):
        yield item


async def verify_limits(ctx: StepContext) -> str:
    ctx.cache.pop(CACHE, None)
    now = await _current_limits(ctx)
    wrong = {k: v for k, v in _limits(ctx).items() if quantity(now.get(k)) != quantity(v)}
    if wrong:
        raise StepFailed(f"limits read back {now}, expected {wrong}")
    return f"{await rollout_settled(ctx)}; limits {', '.join(f'{k} {v}' for k, v in now.items())}"


def limits_step() -> Step:
    return Step("raise-limits", "Raise the container's limits", "kubectl patch of the one "
                "container's resources.limits; the previous values logged for an undo.",
                Risk.CHANGE, plan_limits, run_limits, inputs=(MEMORY_LIMIT, CPU_LIMIT),
                verify=verify_limits, applies=chosen("limits"), timeout=600)


def _usage_step() -> Step:
    return diagnosis_step("usage", "Usage against requests and limits", "kubectl top pods: "
                          "CPU against the request (what the HPA uses), memory against the "
                          "limit (what gets a pod OOMKilled).", diagnose=usage_findings,
                          commands=lambda ctx: [Plan.command(
                              "kubectl", "top", "pods", "-n", ctx.env.kubernetes.namespace,
                              "-l", ctx.env.kubernetes.app_selector, "--sort-by=memory")])


def _oom_step(remedy: Input) -> Step:
    step = diagnosis_step("oom-killed", "OOMKilled containers", "kubectl describe pods: "
                          "Last State Terminated, Reason OOMKilled.", diagnose=oom_findings,
                          commands=lambda ctx: [Plan.command(
                              "kubectl", "get", "pods", "-n", ctx.env.kubernetes.namespace,
                              "-l", ctx.env.kubernetes.app_selector, "-o",
                              "jsonpath={range .items[*]}{.metadata.name} {.status."
                              "containerStatuses[0].lastState.terminated.reason}{'\\n'}{end}")])
    return replace(step, inputs=(remedy,))


HIGH_CPU_MEMORY = Wizard(
    id="alert-high-cpu-memory", title="Alert: high CPU / memory",
    section="Monitoring and Alerting › Alert Response › High CPU/Memory Usage",
    when="Resource alert: usage per pod against requests and limits, the HPA, OOMKilled "
         "containers; scale or raise the limits.",
    steps=(
        _usage_step(),
        Step("hpa", "Auto-scaling", "kubectl get/describe hpa: is it scaling, is it at its "
             "maximum?", Risk.READ, plan_hpa, run_hpa),
        _oom_step(remedy_input(("limits", "scale"), default_remedy,
                               "Default: limits when a container was OOMKilled or memory is "
                               "over its band, scale when CPU is, else none.")),
        limits_step(),
        scale_step("kubectl scale: more replicas share the load."),
        after_step(("pods",)),
    ),
)

TROUBLESHOOT_MEMORY = Wizard(
    id="troubleshoot-memory", title="Troubleshoot high memory usage",
    section="Troubleshooting › High Memory Usage",
    when="Pods OOMKilled or slow: memory per pod against its limit, the OOM kills; raise "
         "the limit or restart.",
    steps=(
        _usage_step(),
        _oom_step(remedy_input(("limits", "restart"), default_remedy,
                               "Default: limits when a container was OOMKilled or memory is "
                               "over its band, else none. restart clears memory for a while "
                               "only.")),
        limits_step(),
        restart_step("kubectl rollout restart: memory back to its start, until it grows "
                     "again."),
        after_step(("pods",)),
    ),
)
