"""Nodes: the conditions kubelets report and the taints the node lifecycle controller sets.

A healthy node reports Ready plus the three pressure conditions (all False). Chaos can make
a kubelet report NotReady (``False``) or stop reporting (``Unknown``: every condition
Unknown, heartbeats stop); the node then gets the ``not-ready``/``unreachable`` taints the
scheduler and the taint-based eviction in :mod:`.pods` act on. ``kubectl cordon`` sets
``spec.unschedulable``; the ``node.kubernetes.io/unschedulable`` taint follows it, as on a
real cluster, and the events ``NodeNotSchedulable``/``NodeSchedulable`` record it.
"""

from __future__ import annotations

from ..store import Obj
from .base import Controller, Key, parse_time, set_condition
from .chaos import state as chaos_state

HEARTBEAT_SECONDS = 60.0  # emulated; real kubelets refresh unchanged status every 5 min

_HEALTHY = {
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}
_NOT_READY = ("False", "KubeletNotReady", "container runtime network not ready: "
              "NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns "
              "error: cni plugin not initialized")
_UNKNOWN = ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def desired_conditions(current: list[Obj], health: str, now: str, *, beat: bool) -> list[Obj]:
    conds = current
    for kind, healthy in _HEALTHY.items():
        if health == "Unknown":
            wanted = _UNKNOWN
        elif kind == "Ready" and health == "False":
            wanted = _NOT_READY
        else:
            wanted = healthy
        conds = set_condition(conds, kind, *wanted, now,
                              heartbeat="lastHeartbeatTime" if beat else None)
        for c in conds:
            c.setdefault("lastHeartbeatTime", now)
    order = list(_HEALTHY)
    return sorted(conds, key=lambda c: order.index(c["type"]) if c["type"] in order else 9)


def desired_taints(node: Obj, health: str, now: str) -> list[Obj]:
    managed = {NOT_READY_TAINT, UNREACHABLE_TAINT, UNSCHEDULABLE_TAINT}
    current = node.get("spec", {}).get("taints") or []
    keep = [t for t in current if t.get("key") not in managed]
    old = {(t.get("key"), t.get("effect")): t for t in current if t.get("key") in managed}

    def taint(key: str, effect: str) -> Obj:
        existing = old.get((key, effect))
        if existing is not None:
            return existing
        t = {"key": key, "effect": effect}
        if effect == "NoExecute":
            t["timeAdded"] = now
        return t

    if node.get("spec", {}).get("unschedulable"):
        keep.append(taint(UNSCHEDULABLE_TAINT, "NoSchedule"))
    if health != "True":
        key = UNREACHABLE_TAINT if health == "Unknown" else NOT_READY_TAINT
        keep.append(taint(key, "NoSchedule"))
        keep.append(taint(key, "NoExecute"))
    return keep


class NodeController(Controller):
    primary = "nodes"
    component = "node-controller"

    def sync(self, key: Key) -> None:
        node = self.store.peek("nodes", *key)
        if node is None:
            return
        name = key[1]
        health = chaos_state(self.cluster).node_status.get(name, "True")
        now = self.now()
        status = dict(node.get("status") or {})
        old_conds = status.get("conditions") or []
        ready = next((c for c in old_conds if c.get("type") == "Ready"), {})
        last_beat = parse_time(ready.get("lastHeartbeatTime")) or 0.0
        beat = health != "Unknown" and self.clock.now() - last_beat >= HEARTBEAT_SECONDS
        status["conditions"] = desired_conditions(old_conds, health, now, beat=beat)
        was_ready = ready.get("status")
        taints = desired_taints(node, health, now)
        if taints != (node.get("spec", {}).get("taints") or []):
            def set_taints(obj: Obj) -> None:
                if taints:
                    obj.setdefault("spec", {})["taints"] = taints
                else:
                    obj.get("spec", {}).pop("taints", None)

            self.mutate("nodes", key, set_taints)
            node = self.store.peek("nodes", *key) or node
        if self.write_status("nodes", key, status):
            if was_ready and was_ready != health:
                word = "NodeReady" if health == "True" else "NodeNotReady"
                self.event(node, "Normal", word, f"Node {name} status is now: {word}")
        self._report_cordon(node)
        if health != "Unknown":
            self.requeue(key, HEARTBEAT_SECONDS)

    def _report_cordon(self, node: Obj) -> None:
        """Record NodeNotSchedulable / NodeSchedulable when the cordon flag flips."""
        name = node["metadata"]["name"]
        flag = bool(node.get("spec", {}).get("unschedulable"))
        seen = self.cluster.extras.setdefault("node_cordon_seen", {})
        before = seen.get(name)
        seen[name] = flag
        if before is not None and before != flag:
            word = "NodeNotSchedulable" if flag else "NodeSchedulable"
            self.event(node, "Normal", word, f"Node {name} status is now: {word}",
                       component="kubelet", host=name)
