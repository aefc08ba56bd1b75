"""The kubelet: a bound pod's life from ContainerCreating to Running and Ready, its
crashes and restarts, and its end.

Everything an operator reads in ``kubectl get pods`` / ``describe pod`` comes from here:
phase, conditions (PodScheduled, Initialized, ContainersReady, Ready), hostIP/podIP,
startTime, and per-container ``state``, ``lastState.terminated`` (reason Error or
OOMKilled, exit code, times), ``restartCount`` and ``ready``. The step-by-step container
state machine lives in :mod:`.containers`; this module decides when to run it, ends
terminating pods after a short grace period, and evicts pods from a node that has been
NotReady longer than their toleration (300 s, as the taint manager does).
"""

from __future__ import annotations

from ..store import Obj, WatchEvent
from . import podspec
from .base import Controller, Key, key_of, parse_time, set_condition
from .chaos import state as chaos_state
from .containers import advance_containers
from .scheduler import node_ready

TERMINATION_SECONDS = 2.0  # emulated seconds a terminating pod lingers (grace, shortened)


def _steady(pod: Obj, chaos) -> bool:
    """Running, Ready, every container ready, and no fault aimed at it: nothing to do.
    (The cheap check that keeps resyncs of ten thousand pods affordable.)"""
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not podspec.is_ready(pod):
        return False
    statuses = status.get("containerStatuses") or []
    if not statuses or not all(cs.get("ready") for cs in statuses):
        return False
    if chaos.oom_once or chaos.crashes:
        key = (pod["metadata"].get("namespace"), pod["metadata"].get("name"))
        if key in chaos.oom_once or any(chaos.crash_reason(pod, cs["name"]) for cs in statuses):
            return False
    return True


class Kubelet(Controller):
    primary = "pods"
    watches = ("nodes",)
    component = "kubelet"

    def __init__(self, manager):
        super().__init__(manager)
        self._ips: dict[str, int] = self.cluster.extras.setdefault("pod_ip_next", {})
        self._killing: set[str] = set()
        self._node_ready: dict[str, bool] = {}

    def keys_for(self, event: WatchEvent):
        if event.resource == "nodes":
            ready = event.type != "DELETED" and node_ready(event.object)
            if self._node_ready.get(event.name) == ready:
                return ()  # a heartbeat or a cordon: nothing for the pods on it
            self._node_ready[event.name] = ready
            return self.index.pods_on_node(event.name)
        if event.type == "DELETED":
            self._killing.discard(event.object["metadata"].get("uid"))
            return ()
        spec = event.object.get("spec", {})
        if spec.get("nodeName") or podspec.is_terminating(event.object):
            return (key_of(event.object),)
        return ()

    def all_keys(self):
        return [key_of(p) for p in self.store.iter("pods")
                if p.get("spec", {}).get("nodeName") or podspec.is_terminating(p)]

    def sync(self, key: Key) -> None:
        pod = self.store.peek("pods", *key)
        if pod is None:
            return
        node_name = pod["spec"].get("nodeName")
        if podspec.is_terminating(pod):
            self._terminate(key, pod)
            return
        if not node_name or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        node = self.store.peek("nodes", "", node_name)
        if node is None:
            self.delete("pods", key)  # pod garbage collection: its node is gone
            return
        healthy = node_ready(node)
        chaos = chaos_state(self.cluster)
        if healthy and _steady(pod, chaos):
            return
        if not healthy and self._evict_from_sick_node(key, pod, node):
            return
        status, events, recheck = advance_containers(
            pod, node, healthy, chaos, self.clock, self._pod_ip(node_name))
        if self.write_status("pods", key, status):
            for obj, type_, reason, message, extra in events:
                self.event(obj if obj is not None else pod, type_, reason, message,
                           host=node_name, **extra)
        if recheck is not None:
            self.requeue(key, recheck)

    def _pod_ip(self, node_name: str):
        def allocate() -> str:
            n = self._ips.get(node_name, 1) + 1
            self._ips[node_name] = n
            digits = "".join(ch for ch in node_name if ch.isdigit()) or "0"
            return f"10.244.{int(digits) % 250}.{n % 250 + 2}"

        return allocate

    def _terminate(self, key: Key, pod: Obj) -> None:
        grace = float(pod["metadata"].get("deletionGracePeriodSeconds", 30))
        deadline = parse_time(pod["metadata"]["deletionTimestamp"]) or self.clock.now()
        finish = deadline - grace + min(grace, TERMINATION_SECONDS)
        node_name = pod["spec"].get("nodeName")
        if not node_name or self.clock.now() >= finish:
            self.delete("pods", key)
            return
        uid = pod["metadata"]["uid"]
        if uid not in self._killing:
            self._killing.add(uid)
            for c in pod["spec"].get("containers") or []:
                self.event(pod, "Normal", "Killing", f"Stopping container {c['name']}",
                           host=node_name, field_path=f"spec.containers{{{c['name']}}}")
            status = dict(pod.get("status") or {})
            now = self.now()
            for kind in ("ContainersReady", "Ready"):
                if podspec.condition(pod, kind):
                    status["conditions"] = set_condition(
                        status.get("conditions") or [], kind, "False", "PodCompleted", "", now)
            self.write_status("pods", key, status)
        self.requeue(key, max(0.1, finish - self.clock.now()))

    def _evict_from_sick_node(self, key: Key, pod: Obj, node: Obj) -> bool:
        """Delete a pod whose node has been NotReady/Unknown beyond the pod's toleration."""
        ready = podspec.condition(node, "Ready") or {}
        taint = ("node.kubernetes.io/unreachable" if ready.get("status") == "Unknown"
                 else "node.kubernetes.io/not-ready")
        tolerated = None
        for tol in pod["spec"].get("tolerations") or []:
            if tol.get("effect") in (None, "", "NoExecute") and (
                    tol.get("key") in (None, "", taint) and tol.get("operator") == "Exists"):
                tolerated = tol.get("tolerationSeconds")
                if tolerated is None:
                    return False  # tolerates forever (DaemonSet pods)
                break
        else:
            tolerated = 0
        since = parse_time(ready.get("lastTransitionTime")) or self.clock.now()
        left = since + float(tolerated) - self.clock.now()
        if left > 0:
            self.requeue(key, left + 0.5)
            return False
        self.event(pod, "Normal", "TaintManagerEviction",
                   f"Marking for deletion Pod {key[0]}/{key[1]}",
                   component="taint-eviction-controller")
        self.delete("pods", key)
        return True
