"""The container state machine the kubelet runs for each pod.

One call computes a pod's next ``status`` from its current one and the clock:

    ContainerCreating --pull--> running (not ready) --readiness delay--> running, ready
          |                          |
          v (image marked bad)       v (chaos: crash)            (chaos: OOM once)
    ErrImagePull <-> ImagePullBackOff    CrashLoopBackOff --back-off--> running again

Back-off doubles from 10 s to 300 s as the kubelet's does. All times are emulated; the
function returns after how long to look again, and the events to record if the new status
is written. It has no side effects other than consuming a one-shot OOM fault.
"""

from __future__ import annotations

import copy
import hashlib

from ..clock import Clock
from ..store import Obj
from .base import parse_time, set_condition
from .chaos import ChaosState

PULL_SECONDS = 1.5
CRASH_AFTER = 3.0  # seconds a crashing container runs before it exits
PULL_BACKOFF = 10.0


def restart_backoff(restarts: int) -> float:
    return min(10.0 * 2 ** max(0, restarts - 1), 300.0)


def ready_delay(container: Obj) -> float:
    probe = container.get("readinessProbe") or {}
    return min(max(float(probe.get("initialDelaySeconds", 0)), 1.0), 15.0) + 1.0


def image_id(image: str) -> str:
    repo = image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image
    if "/" not in repo:
        repo = f"library/{repo}"
    if repo.count("/") < 2 and "." not in repo.split("/")[0]:
        repo = f"docker.io/{repo}"
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def container_id(pod: Obj, name: str, restarts: int) -> str:
    seed = f"{pod['metadata'].get('uid')}/{name}/{restarts}".encode()
    return f"containerd://{hashlib.sha256(seed).hexdigest()}"


class _Step:
    """Working state of one advance: the clock, the events to record, the next wake-up."""

    def __init__(self, pod: Obj, clock: Clock, node: Obj | None = None):
        self.pod = pod
        self.node = node
        self.now = clock.now()
        self.ts = clock.timestamp()
        self.events: list[tuple] = []
        self.recheck: float | None = None

    def wake_in(self, seconds: float) -> None:
        seconds = max(0.05, seconds)
        self.recheck = seconds if self.recheck is None else min(self.recheck, seconds)

    def event(self, type_: str, reason: str, message: str, container: str | None = None,
              obj: Obj | None = None) -> None:
        extra = {"field_path": f"spec.containers{{{container}}}"} if container else {}
        self.events.append((obj, type_, reason, message, extra))


def _start(step: _Step, spec_c: Obj, cs: Obj, *, restarted: bool) -> None:
    name, image = spec_c["name"], spec_c.get("image", "")
    cs["state"] = {"running": {"startedAt": step.ts}}
    cs["started"] = True
    cs["ready"] = False
    cs["imageID"] = image_id(image)
    cs["containerID"] = container_id(step.pod, name, cs.get("restartCount", 0))
    if restarted or spec_c.get("imagePullPolicy") == "IfNotPresent":
        step.event("Normal", "Pulled",
                   f'Container image "{image}" already present on machine', name)
    else:
        step.event("Normal", "Pulled", f'Successfully pulled image "{image}" in '
                   f"{PULL_SECONDS}s ({PULL_SECONDS}s including waiting)", name)
    step.event("Normal", "Created", f"Created container: {name}", name)
    step.event("Normal", "Started", f"Started container {name}", name)
    step.wake_in(ready_delay(spec_c))


def _crash(step: _Step, spec_c: Obj, cs: Obj, reason: str, *, backoff: bool) -> None:
    name = spec_c["name"]
    meta = step.pod["metadata"]
    started = cs["state"]["running"]["startedAt"]
    cs["lastState"] = {"terminated": {
        "exitCode": 137 if reason == "OOMKilled" else 1, "reason": reason,
        "startedAt": started, "finishedAt": step.ts, "containerID": cs.get("containerID", ""),
    }}
    cs["restartCount"] = cs.get("restartCount", 0) + 1
    cs["ready"] = False
    if reason == "OOMKilled":
        step.event("Warning", "OOMKilling", "Memory cgroup out of memory: Killed process "
                   f"{1000 + cs['restartCount']} ({name}) in pod {meta.get('name')}",
                   obj=step.node)
    if not backoff:
        _start(step, spec_c, cs, restarted=True)
        return
    wait = restart_backoff(cs["restartCount"])
    cs["started"] = False
    cs["state"] = {"waiting": {
        "reason": "CrashLoopBackOff",
        "message": f"back-off {int(wait)}s restarting failed container={name} "
                   f"pod={meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})",
    }}
    if spec_c.get("readinessProbe"):
        port = ((spec_c["readinessProbe"].get("httpGet") or {}).get("port")) or 8080
        ip = step.pod.get("status", {}).get("podIP", "")
        step.event("Warning", "Unhealthy", f'Readiness probe failed: Get "http://{ip}:{port}'
                   f'{(spec_c["readinessProbe"].get("httpGet") or {}).get("path", "/")}": dial tcp '
                   f"{ip}:{port}: connect: connection refused", name)
    step.event("Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
               f"{meta.get('name')}_{meta.get('namespace')}({meta.get('uid')})", name)
    step.wake_in(wait)


def _advance_one(step: _Step, spec_c: Obj, cs: Obj, chaos: ChaosState) -> None:
    name, image = spec_c["name"], spec_c.get("image", "")
    pod = step.pod
    state = cs.get("state") or {}
    waiting = (state.get("waiting") or {}).get("reason")
    if waiting in ("ContainerCreating", "ErrImagePull", "ImagePullBackOff"):
        begun = parse_time(pod["status"].get("startTime")) or step.now
        if step.now < begun + PULL_SECONDS:
            step.wake_in(begun + PULL_SECONDS - step.now)
            return
        if image in chaos.bad_images:
            # first failure shows ErrImagePull; once the first back-off has passed the
            # container stays in ImagePullBackOff, as kubectl shows a stuck rollout
            failing_for = step.now - (begun + PULL_SECONDS)
            nxt = "ErrImagePull" if failing_for < PULL_BACKOFF else "ImagePullBackOff"
            if waiting != nxt:
                msg = (f'Back-off pulling image "{image}"' if nxt == "ImagePullBackOff" else
                       f'failed to pull and unpack image "{image}": failed to resolve '
                       f'reference "{image}": {image}: not found')
                cs["state"] = {"waiting": {"reason": nxt, "message": msg}}
                if nxt == "ErrImagePull":
                    step.event("Normal", "Pulling", f'Pulling image "{image}"', name)
                    step.event("Warning", "Failed", f'Failed to pull image "{image}": rpc error: '
                               f"code = NotFound desc = {msg}", name)
                else:
                    step.event("Normal", "BackOff", msg, name)
                step.event("Warning", "Failed", f"Error: {nxt}", name)
            if nxt == "ErrImagePull":
                step.wake_in(PULL_BACKOFF - failing_for)
            return
        _start(step, spec_c, cs, restarted=False)
        return
    if waiting == "CrashLoopBackOff":
        finished = parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get(
            "finishedAt")) or step.now
        left = finished + restart_backoff(cs.get("restartCount", 0)) - step.now
        if left > 0:
            step.wake_in(left)
            return
        _start(step, spec_c, cs, restarted=True)
        return
    running = state.get("running")
    if running is None:
        return
    started = parse_time(running.get("startedAt")) or step.now
    key = (pod["metadata"].get("namespace"), pod["metadata"].get("name"))
    if key in chaos.oom_once:
        chaos.oom_once.discard(key)
        _crash(step, spec_c, cs, "OOMKilled", backoff=False)
        return
    reason = chaos.crash_reason(pod, name)
    if reason:
        if step.now >= started + CRASH_AFTER:
            _crash(step, spec_c, cs, reason, backoff=True)
            return
        step.wake_in(started + CRASH_AFTER - step.now)
    if not cs.get("ready"):
        due = started + ready_delay(spec_c)
        if step.now >= due and not reason:
            cs["ready"] = True
        elif not reason:
            step.wake_in(due - step.now)


def advance_containers(pod: Obj, node: Obj, node_healthy: bool, chaos: ChaosState,
                       clock: Clock, allocate_ip) -> tuple[Obj, list[tuple], float | None]:
    """The pod's next status, the events to record with it, and when to look again."""
    step = _Step(pod, clock, node)
    status = copy.deepcopy(pod.get("status") or {})
    specs = pod["spec"].get("containers") or []
    if not status.get("startTime"):
        addresses = node.get("status", {}).get("addresses") or []
        host_ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), "")
        ip = allocate_ip()
        status.update(startTime=step.ts, hostIP=host_ip, hostIPs=[{"ip": host_ip}],
                      podIP=ip, podIPs=[{"ip": ip}])
        status["containerStatuses"] = [{
            "name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False,
            "started": False, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {},
        } for c in specs]
        for c in specs:
            if c.get("image") not in chaos.bad_images:
                step.event("Normal", "Pulling", f'Pulling image "{c.get("image", "")}"', c["name"])
        step.wake_in(PULL_SECONDS)
    else:
        by_name = {cs["name"]: cs for cs in status.get("containerStatuses") or []}
        for c in specs:
            cs = by_name.get(c["name"])
            if cs is not None:
                _advance_one(step, c, cs, chaos)
    statuses = status.get("containerStatuses") or []
    if any(cs.get("started") or cs.get("restartCount") for cs in statuses):
        status["phase"] = "Running"
    else:
        status.setdefault("phase", "Pending")
    unready = [cs["name"] for cs in statuses if not cs.get("ready")]
    conds = status.get("conditions") or []
    conds = set_condition(conds, "PodReadyToStartContainers", "True", "", "", step.ts)
    conds = set_condition(conds, "Initialized", "True", "", "", step.ts)
    if unready:
        msg = f"containers with unready status: [{' '.join(unready)}]"
        conds = set_condition(conds, "ContainersReady", "False", "ContainersNotReady", msg,
                              step.ts)
        conds = set_condition(conds, "Ready", "False", "ContainersNotReady", msg, step.ts)
    else:
        conds = set_condition(conds, "ContainersReady", "True", "", "", step.ts)
        if node_healthy:
            conds = set_condition(conds, "Ready", "True", "", "", step.ts)
        else:
            conds = set_condition(conds, "Ready", "False", "NodeNotReady",
                                  "node is not ready", step.ts)
    status["conditions"] = _tidy(conds)
    return status, step.events, step.recheck


def running_status(pod: Obj, host_ip: str, pod_ip: str, started: str) -> Obj:
    """The status of a pod that has been Running and Ready since ``started`` (for the
    seeded world), exactly as :func:`advance_containers` would have left it."""
    statuses = [{
        "name": c["name"], "image": c.get("image", ""), "imageID": image_id(c.get("image", "")),
        "containerID": container_id(pod, c["name"], 0), "ready": True, "started": True,
        "restartCount": 0, "state": {"running": {"startedAt": started}}, "lastState": {},
    } for c in pod["spec"].get("containers") or []]
    conds: list[Obj] = []
    for kind in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                 "PodScheduled"):
        conds = set_condition(conds, kind, "True", "", "", started)
    return {
        "phase": "Running", "conditions": _tidy(conds), "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}], "podIP": pod_ip, "podIPs": [{"ip": pod_ip}],
        "startTime": started, "containerStatuses": statuses,
        "qosClass": pod.get("status", {}).get("qosClass", "BestEffort"),
    }


_ORDER = {"PodReadyToStartContainers": 0, "Initialized": 1, "Ready": 2, "ContainersReady": 3,
          "PodScheduled": 4}


def _tidy(conds: list[Obj]) -> list[Obj]:
    """Conditions in kubelet order; empty reason/message omitted, as the API omits them."""
    out = []
    for c in sorted(conds, key=lambda c: _ORDER.get(c.get("type"), 9)):
        c = {k: v for k, v in c.items() if not (k in ("reason", "message") and not v)}
        c.setdefault("lastProbeTime", None)
        out.append(c)
    return out
