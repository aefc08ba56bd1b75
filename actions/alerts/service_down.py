"""``alert-service-down`` — the runbook's "Service Down" alert response.

Look first: the pods and their last state (CrashLoopBackOff, ImagePullBackOff, OOMKilled,
restarts), the rollout history (is the newest revision the one failing, while the one
before still serves?), the namespace's Warning events, and the failing pod's previous log
(``kubectl logs --previous``: the run that crashed, not the one starting now). Then one
remedy, by default the one the state points at: ``undo`` when the last rollout is the
cause (its new pods fail, the rollout never completed), ``restart`` when pods of a good
revision are failing, ``scale`` when asked; and the health check after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from console.collectors.kube_model import DeploymentInfo, PodInfo
from console.execution.context import StepContext
from console.execution.kube.reader import Revision
from console.execution.model import Plan, Risk, Step, StepOutput, Wizard
from console.health.status import Finding, Status
from console.sources.kube import KubeError

from ..library.diagnosis import diagnosis_step
from .common import after_step, remedy_input, restart_step, scale_step, undo_step

BAD_WAITING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerError",
               "CreateContainerConfigError", "RunContainerError", "InvalidImageName")
CACHE = "alert-service-down.assessment"
LOG_TAIL = 30


@dataclass(frozen=True)
class Assessment:
    deployment: DeploymentInfo
    pods: tuple[PodInfo, ...]
    failing: tuple[PodInfo, ...]
    history: tuple[Revision, ...]
    rollout_cause: bool  # the newest revision's pods fail and its rollout never completed

    @property
    def remedy(self) -> str:
        if self.rollout_cause:
            return "undo"
        return "restart" if self.failing else "none"

    def why(self) -> str:
        if self.rollout_cause:
            newest = self.history[-1]
            return (f"the last rollout (revision {newest.number}, "
                    f"{', '.join(newest.images)}) is the cause: its pods fail and it never "
                    "completed; the revision before still serves")
        if self.failing:
            return (f"{len(self.failing)} pod(s) of the current revision failing; the rollout "
                    "itself completed, so a restart replaces them")
        return "every pod is Ready: nothing to remedy"


def failing(pod: PodInfo) -> bool:
    return not pod.deleting and (pod.waiting_reason in BAD_WAITING or not pod.is_ready)


def crash_looping(pod: PodInfo) -> bool:
    """Restarting after crashes: CrashLoopBackOff while it waits, Running (not Ready)
    between two crashes — the same loop either way."""
    return pod.waiting_reason == "CrashLoopBackOff" or (
        not pod.is_ready and pod.restarts > 0 and pod.last_termination not in ("", "Completed"))


def pod_state(pod: PodInfo) -> str:
    state = pod.waiting_reason or ("Terminating" if pod.deleting else pod.phase)
    if crash_looping(pod) and state != "CrashLoopBackOff":
        state = f"CrashLoopBackOff ({state} between crashes)"
    last = f", last terminated {pod.last_termination}" if pod.last_termination else ""
    return (f"pod {pod.name}: {state}, {pod.ready}/{pod.containers} ready, {pod.restarts} "
            f"restarts{last}")


async def assess(ctx: StepContext, *, fresh: bool = False) -> Assessment:
    """The pods, the deployment and its history, read once per run (``fresh``: again)."""
    if fresh or CACHE not in ctx.cache:
        reader = await ctx.kube()
        deployment = await reader.deployment()
        pods = tuple(p for p in await reader.pods() if not p.deleting)
        history = tuple(await reader.rollout_history())
        bad = tuple(p for p in pods if failing(p))
        newest = history[-1].replica_set if history else ""
        in_progress = (deployment.updated < deployment.desired
                       or deployment.current > deployment.desired
                       or deployment.rollout == "ProgressDeadlineExceeded")
        cause = bool(bad) and len(history) > 1 and in_progress and all(
            p.owner_name == newest for p in bad)
        ctx.cache[CACHE] = Assessment(deployment, pods, bad, history, cause)
    found: Assessment = ctx.cache[CACHE]
    return found


async def default_remedy(ctx: StepContext) -> str:
    try:
        return (await assess(ctx)).remedy
    except Exception:  # noqa: BLE001 - unreadable: the diagnosis says why; no remedy guessed
        return "none"


# ---- diagnosis ------------------------------------------------------------------------
async def pod_findings(ctx: StepContext) -> list[Finding]:
    found = await assess(ctx, fresh=True)
    d = found.deployment
    out = [Finding("pods", f"pod.{p.name}",
                   Status.CRITICAL if failing(p) else Status.HEALTHY, pod_state(p))
           for p in found.pods]
    ready = sum(p.is_ready for p in found.pods)
    out.append(Finding("pods", "ready", Status.HEALTHY if ready >= d.desired and d.desired
                       else Status.CRITICAL if ready == 0 else Status.WARNING,
                       f"deployment/{d.name}: {d.rollout_text}; {ready} pods Ready",
                       float(ready)))
    return out


def pods_commands(ctx: StepContext) -> list[str]:
    k = ctx.env.kubernetes
    return [Plan.command("kubectl", "get", "pods", "-n", k.namespace, "-l", k.app_selector,
                         "-o", "wide"),
            Plan.command("kubectl", "describe", "pods", "-n", k.namespace, "-l",
                         k.app_selector)]


def plan_history(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan(f"List the revisions of deployment/{k.deployment}: image, change cause, "
                "pods; is the newest the one failing?",
                (Plan.command("kubectl", "rollout", "history", f"deployment/{k.deployment}",
                              "-n", k.namespace),))


async def run_history(ctx: StepContext) -> AsyncIterator[StepOutput]:
    found = await assess(ctx)
    by_rs: dict[str, list[PodInfo]] = {}
    for pod in found.pods:
        by_rs.setdefault(pod.owner_name, []).append(pod)
    for revision in found.history:
        pods = by_rs.get(revision.replica_set, [])
        bad = sum(failing(p) for p in pods)
        yield (f"revision {revision.number}: {', '.join(revision.images)}"
               f"{' — ' + revision.change_cause if revision.change_cause else ''}; "
               f"{len(pods)} pods, {bad} failing")
    yield f"deployment/{found.deployment.name}: {found.deployment.rollout_text}"
    yield found.why()
    yield f"remedy the state points at: {found.remedy}"


def plan_events(ctx: StepContext) -> Plan:
    return Plan("The namespace's Warning events, newest first",
                (Plan.command("kubectl", "get", "events", "-n", ctx.env.kubernetes.namespace,
                              "--field-selector", "type=Warning",
                              "--sort-by=.lastTimestamp"),))


async def run_events(ctx: StepContext) -> AsyncIterator[StepOutput]:
    events = await (await ctx.kube()).events(warnings_only=True)
    for event in events[:15]:
        yield (f"{event.age_seconds:>6.0f}s ago  {event.object}  {event.reason} "
               f"(x{event.count}): {event.message}")
    yield f"{len(events)} Warning events" + (" (newest 15 shown)" if len(events) > 15 else "")


def plan_logs(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan("The failing pod's previous log (the run that ended), else its current one",
                (Plan.command("kubectl", "logs", "<failing pod>", "-n", k.namespace, "-c",
                              k.container, "--previous", f"--tail={LOG_TAIL}"),))


async def run_logs(ctx: StepContext) -> AsyncIterator[StepOutput]:
    found = await assess(ctx)
    if not found.failing:
        yield "no failing pod: no log to read"
        return
    reader = await ctx.kube()
    pod = found.failing[0]
    yield f"{pod_state(pod)}"
    for previous in (True, False):
        try:
            text = await reader.pod_log(pod.name, ctx.env.kubernetes.container,
                                        previous=previous, tail=LOG_TAIL)
        except KubeError as exc:
            yield f"{'previous' if previous else 'current'} log not available: {exc}"
            continue
        yield f"--- {pod.name} {'previous' if previous else 'current'} log, last {LOG_TAIL} lines"
        for line in text.splitlines()[-LOG_TAIL:]:
            yield line
        return


REMEDY = remedy_input(("undo", "restart", "scale"), default_remedy,
                      "Default: undo when the last rollout is the cause, restart when pods "
                      "of a good revision fail, none when every pod is Ready.")

WIZARD = Wizard(
    id="alert-service-down", title="Alert: service down",
    section="Monitoring and Alerting › Alert Response › Service Down",
    when="The service-down alert fired: pods, recent rollouts, logs; undo, restart or scale.",
    steps=(
        diagnosis_step("pods", "Pods and their last state", "kubectl get pods / describe: "
                       "which pods are not Ready, why (CrashLoopBackOff, ImagePullBackOff, "
                       "OOMKilled), how often they restarted.", diagnose=pod_findings,
                       commands=pods_commands),
        Step("rollout-history", "Recent rollouts", "kubectl rollout history: a failing "
             "newest revision whose rollout never completed is undone, not restarted.",
             Risk.READ, plan_history, run_history, inputs=(REMEDY,)),
        Step("events", "Warning events", "kubectl get events: failed pulls, back-offs, "
             "failed probes, evictions.", Risk.READ, plan_events, run_events),
        Step("previous-logs", "The failing pod's previous log", "kubectl logs --previous: "
             "why the last run ended.", Risk.READ, plan_logs, run_logs),
        undo_step("kubectl rollout undo: the revision before the current one, when the last "
                  "rollout is the cause."),
        restart_step("kubectl rollout restart: every pod replaced, when pods of a good "
                     "revision are stuck."),
        scale_step("kubectl scale: more replicas while the cause is found."),
        after_step(),
    ),
)
