"""The scheduler: bind pending pods to Ready, schedulable nodes with room, spread evenly.

What a drain rehearsal depends on: a cordoned node (``spec.unschedulable``) or a NotReady
one gets no new pods, so evicted pods reappear elsewhere; and when nothing fits, the pod
stays Pending with ``PodScheduled=False`` reason ``Unschedulable`` and a FailedScheduling
event whose message reads like the real scheduler's ("0/4 nodes are available: ...").
"""

from __future__ import annotations

from collections import Counter

from ..store import Obj, WatchEvent
from . import podspec, quantity
from .base import Controller, Key, key_of, set_condition
from .index import controller_uid, pod_requests

RETRY_SECONDS = 10.0


def _needs_scheduling(pod: Obj) -> bool:
    return (not pod.get("spec", {}).get("nodeName")
            and pod.get("spec", {}).get("schedulerName", "default-scheduler") == "default-scheduler"
            and podspec.is_active(pod))


def tolerates(pod: Obj, taint: Obj) -> bool:
    for tol in pod.get("spec", {}).get("tolerations") or []:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and tol.get("value", "") == taint.get(
                "value", ""):
            return True
    return False


def node_ready(node: Obj) -> bool:
    cond = podspec.condition(node, "Ready")
    return bool(cond and cond.get("status") == "True")


class Scheduler(Controller):
    primary = "pods"
    watches = ("nodes",)
    component = "default-scheduler"

    def __init__(self, manager):
        super().__init__(manager)
        self._pending: dict[Key, None] = {}

    def keys_for(self, event: WatchEvent):
        if event.resource == "nodes":
            return list(self._pending)  # a node changed: maybe a pending pod fits now
        key = key_of(event.object)
        if event.type != "DELETED" and _needs_scheduling(event.object):
            self._pending[key] = None
            return (key,)
        self._pending.pop(key, None)
        return ()

    def all_keys(self):
        keys = [key_of(p) for p in self.store.iter("pods") if _needs_scheduling(p)]
        self._pending = dict.fromkeys(keys)
        return keys

    def sync(self, key: Key) -> None:
        pod = self.store.peek("pods", *key)
        if pod is None or not _needs_scheduling(pod):
            self._pending.pop(key, None)
            return
        nodes = sorted(self.store.iter("nodes"), key=lambda n: n["metadata"]["name"])
        fits, reasons = [], Counter()
        cpu, mem = pod_requests(pod)
        for node in nodes:
            reason = self._misfit(pod, node, cpu, mem)
            if reason:
                reasons[reason] += 1
            else:
                fits.append(node)
        if not fits:
            self._unschedulable(key, pod, len(nodes), reasons)
            return
        owner = controller_uid(pod)

        def score(node: Obj) -> tuple:
            name = node["metadata"]["name"]
            count, used_cpu, _ = self.index.node_usage(name)
            return (self.index.siblings_on_node(owner, name), count, used_cpu, name)

        target = min(fits, key=score)["metadata"]["name"]
        now = self.now()

        def bind(obj: Obj) -> None:
            obj["spec"]["nodeName"] = target
            status = obj.setdefault("status", {})
            status["conditions"] = set_condition(status.get("conditions") or [], "PodScheduled",
                                                 "True", "", "", now)
            for cond in status["conditions"]:
                if cond["type"] == "PodScheduled":
                    cond.pop("reason", None)
                    cond.pop("message", None)
                    cond["lastProbeTime"] = None

        if self.mutate("pods", key, bind):
            self._pending.pop(key, None)
            self.event(pod, "Normal", "Scheduled",
                       f"Successfully assigned {key[0]}/{key[1]} to {target}")

    def _misfit(self, pod: Obj, node: Obj, cpu: int, mem: int) -> str | None:
        spec = node.get("spec", {})
        labels = node["metadata"].get("labels") or {}
        for k, v in (pod["spec"].get("nodeSelector") or {}).items():
            if labels.get(k) != v:
                return "node(s) didn't match Pod's node affinity/selector"
        if spec.get("unschedulable") and not tolerates(
                pod, {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}):
            return "node(s) were unschedulable"
        for taint in spec.get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerates(pod, taint):
                return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        if not node_ready(node):
            return "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
        alloc = node.get("status", {}).get("allocatable") or {}
        count, used_cpu, used_mem = self.index.node_usage(node["metadata"]["name"])
        if count + 1 > int(quantity.parse(alloc.get("pods", "110"))):
            return "Too many pods"
        if cpu and used_cpu + cpu > quantity.cpu_millis(alloc.get("cpu")):
            return "Insufficient cpu"
        if mem and used_mem + mem > quantity.memory_bytes(alloc.get("memory")):
            return "Insufficient memory"
        return None

    def _unschedulable(self, key: Key, pod: Obj, total: int, reasons: Counter) -> None:
        detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
        message = (f"0/{total} nodes are available: {detail}. preemption: 0/{total} nodes are "
                   f"available: {total} Preemption is not helpful for scheduling.")
        if not total:
            message = "no nodes available to schedule pods"
        now = self.now()
        status = dict(pod.get("status") or {})
        status["conditions"] = set_condition(status.get("conditions") or [], "PodScheduled",
                                             "False", "Unschedulable", message, now)
        if self.write_status("pods", key, status):
            self.event(pod, "Warning", "FailedScheduling", message)
        self.requeue(key, RETRY_SECONDS)
