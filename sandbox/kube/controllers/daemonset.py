"""DaemonSets: one pod on every node, cordoned or not, updated one node at a time.

DaemonSet pods are placed by the controller itself (``spec.nodeName`` plus the node
affinity upstream adds) and tolerate cordons and sick nodes, so ``kubectl drain`` has to be
told ``--ignore-daemonsets``: it recognises them by their DaemonSet controller reference,
which is why the Falco pods in ``security`` matter to the maintenance rehearsal.
"""

from __future__ import annotations

from ..store import Obj, WatchEvent
from . import podspec
from .base import Controller, Key, key_of
from .replicaset import begin_pod_deletion

_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def daemon_pod(ds: Obj, node: str) -> Obj:
    ns, name = key_of(ds)
    template = ds["spec"].get("template") or {}
    extra = {"controller-revision-hash": podspec.template_hash(template),
             "pod-template-generation": str(ds["metadata"].get("generation", 1))}
    pod = podspec.pod_from_template(template, name=f"{name}-{podspec.random_suffix()}",
                                    namespace=ns, owner=ds, extra_labels=extra)
    spec = pod["spec"]
    spec["nodeName"] = node
    spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": [node]}]}]}}}
    tolerations = [t for t in spec.get("tolerations") or [] if "tolerationSeconds" not in t]
    for tol in _TOLERATIONS:
        if tol not in tolerations:
            tolerations.append(dict(tol))
    spec["tolerations"] = tolerations
    return pod


class DaemonSetController(Controller):
    primary = "daemonsets.apps"
    watches = ("pods", "nodes")
    component = "daemonset-controller"

    def keys_for(self, event: WatchEvent):
        if event.resource == self.primary:
            return (key_of(event.object),)
        if event.resource == "nodes":
            if event.type == "MODIFIED":
                return ()  # node status changes do not move daemon pods
            return self.all_keys()
        for ref in event.object.get("metadata", {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "DaemonSet":
                return ((event.namespace, ref["name"]),)
        return ()

    def sync(self, key: Key) -> None:
        ds = self.store.peek(self.primary, *key)
        if ds is None or podspec.is_terminating(ds):
            return
        nodes = [n for n in self.store.iter("nodes")
                 if podspec.labels_match({"matchLabels": ds["spec"].get("template", {}).get(
                     "spec", {}).get("nodeSelector") or {}}, n["metadata"].get("labels"))]
        node_names = {n["metadata"]["name"] for n in nodes}
        pods = [p for p in self.index.owned_objects("pods", ds["metadata"]["uid"])
                if podspec.is_active(p)]
        by_node: dict[str, list[Obj]] = {}
        for p in pods:
            by_node.setdefault(p["spec"].get("nodeName", ""), []).append(p)
        for node in sorted(node_names - set(by_node)):
            pod = self.store.create("pods", daemon_pod(ds, node))
            self.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        for node, group in by_node.items():
            extras = group[1:] if node in node_names else group
            for p in extras:
                begin_pod_deletion(self, key_of(p))
        self._roll(ds, pods)
        self._write_status(key, len(node_names))

    def _roll(self, ds: Obj, pods: list[Obj]) -> None:
        strategy = ds["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        current = podspec.template_hash(ds["spec"].get("template") or {})
        outdated = [p for p in pods if (p["metadata"].get("labels") or {}).get(
            "controller-revision-hash") != current]
        unavailable = [p for p in pods if not podspec.is_ready(p)]
        if outdated and not unavailable:
            oldest = min(outdated, key=lambda p: p["metadata"].get("creationTimestamp", ""))
            begin_pod_deletion(self, key_of(oldest))

    def _write_status(self, key: Key, desired: int) -> None:
        ds = self.store.peek(self.primary, *key)
        if ds is None:
            return
        current = podspec.template_hash(ds["spec"].get("template") or {})
        pods = [p for p in self.index.owned_objects("pods", ds["metadata"]["uid"])
                if podspec.is_active(p)]
        scheduled = {p["spec"].get("nodeName") for p in pods}
        ready = sum(1 for p in pods if podspec.is_ready(p))
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get(
            "controller-revision-hash") == current)
        status: Obj = {
            "currentNumberScheduled": len(scheduled),
            "desiredNumberScheduled": desired,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": updated,
        }
        if ready:
            status["numberAvailable"] = ready
        if desired - ready > 0:
            status["numberUnavailable"] = desired - ready
        self.write_status(self.primary, key, status)
