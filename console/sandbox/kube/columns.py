"""The columns ``kubectl get`` shows for each resource type, computed as a real apiserver's
printers compute them (pod STATUS from container states, node ROLES from labels, HPA
TARGETS from current metrics, ages as kubectl's short human durations)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .resources import ResourceType
from .selectors import selector_object_to_string

Obj = dict[str, Any]


@dataclass(frozen=True)
class Column:
    name: str
    fn: Callable[[Obj, float], Any]
    type: str = "string"
    priority: int = 0
    description: str = ""

    def cell(self, obj: Obj, now: float) -> Any:
        return self.fn(obj, now)


def _get(obj: Any, *keys: str, default: Any = None) -> Any:
    for k in keys:
        obj = obj.get(k) if isinstance(obj, dict) else None
    return default if obj is None else obj


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def human_duration(seconds: float) -> str:
    """kubectl's short duration: 45s, 5m3s, 2h10m, 3d4h, 2y10d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def since(value: str | None, now: float) -> str:
    at = parse_time(value)
    return "<unknown>" if at is None else human_duration(now - at)


def _age(obj: Obj, now: float) -> str:
    return since(_get(obj, "metadata", "creationTimestamp"), now)


NAME = Column("Name", lambda o, n: _get(o, "metadata", "name", default=""),
              description="Name must be unique within a namespace.")
AGE = Column("Age", _age, description="CreationTimestamp is a timestamp representing the server time when this object was created.")


def _pod_status(pod: Obj, now: float) -> tuple[str, int, int, str]:
    """(READY, RESTARTS cell, STATUS...) pieces of a pod row: ready, total, restarts text, reason."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    ready, restarts, last_restart = 0, 0, None
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        finished = parse_time(_get(cs, "lastState", "terminated", "finishedAt"))
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
        state = cs.get("state") or {}
        if _get(state, "waiting", "reason"):
            reason = state["waiting"]["reason"]
        elif _get(state, "terminated", "reason"):
            reason = state["terminated"]["reason"]
        elif "terminated" in state:
            term = state["terminated"]
            reason = (f"Signal:{term['signal']}" if term.get("signal")
                      else f"ExitCode:{term.get('exitCode', 0)}")
        elif cs.get("ready") and "running" in state:
            has_running = True
            ready += 1
    if reason == "Completed" and has_running:
        reason = "Running"
    if _get(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    text = str(restarts)
    if restarts and last_restart is not None:
        text += f" ({human_duration(now - last_restart)} ago)"
    total = len(_get(pod, "spec", "containers", default=[]))
    return f"{ready}/{total}", restarts, text, reason


def _containers(obj: Obj, field: str) -> str:
    spec = _get(obj, "spec", "template", "spec", default={})
    return ",".join(str(ct.get(field, "")) for ct in spec.get("containers") or [])


def _selector(obj: Obj, _now: float) -> str:
    return selector_object_to_string(_get(obj, "spec", "selector")) or "<none>"


def _node_status(node: Obj, _now: float) -> str:
    conds = {c.get("type"): c.get("status") for c in _get(node, "status", "conditions", default=[])}
    parts = ["Unknown" if "Ready" not in conds else ("Ready" if conds["Ready"] == "True" else "NotReady")]
    if _get(node, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def _node_roles(node: Obj, _now: float) -> str:
    labels = _get(node, "metadata", "labels", default={})
    roles = {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(r for r in roles if r)) or "<none>"


def _node_address(kind: str) -> Callable[[Obj, float], str]:
    def cell(node: Obj, _now: float) -> str:
        for a in _get(node, "status", "addresses", default=[]):
            if a.get("type") == kind:
                return a.get("address", "")
        return "<none>"

    return cell


def _hpa_targets(hpa: Obj, _now: float) -> str:
    current = _get(hpa, "status", "currentMetrics", default=[])
    parts = []
    for metric in _get(hpa, "spec", "metrics", default=[]):
        if metric.get("type") != "Resource":
            parts.append("<unknown>/<unknown>")
            continue
        name = _get(metric, "resource", "name", default="")
        target = _get(metric, "resource", "target", default={})
        cur = next((m for m in current if _get(m, "resource", "name") == name), None)
        if target.get("averageUtilization") is not None:
            now_val = _get(cur, "resource", "current", "averageUtilization")
            text = f"{'<unknown>' if now_val is None else f'{now_val}%'}/{target['averageUtilization']}%"
        else:
            now_val = _get(cur, "resource", "current", "averageValue")
            text = f"{now_val or '<unknown>'}/{target.get('averageValue', '<unknown>')}"
        parts.append(f"{name}: {text}")
    return ", ".join(parts) or "<none>"


def _ports(svc: Obj, _now: float) -> str:
    out = []
    for p in _get(svc, "spec", "ports", default=[]):
        port = str(p.get("port", ""))
        if p.get("nodePort"):
            port += f":{p['nodePort']}"
        out.append(f"{port}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _condition(kind: str, field: str) -> Callable[[Obj, float], str]:
    def cell(obj: Obj, _now: float) -> str:
        for cond in _get(obj, "status", "conditions", default=[]):
            if cond.get("type") == kind:
                return str(cond.get(field, ""))
        return ""

    return cell


def _path(*keys: str, default: Any = "<none>") -> Callable[[Obj, float], Any]:
    return lambda o, _n: _get(o, *keys, default=default)


def _count(*keys: str) -> Callable[[Obj, float], int]:
    return lambda o, _n: len(_get(o, *keys, default=[]) or [])


def _event_last_seen(ev: Obj, now: float) -> str:
    stamp = (ev.get("lastTimestamp") or _get(ev, "series", "lastObservedTime")
             or ev.get("eventTime") or ev.get("firstTimestamp"))
    return since(stamp, now)


def _event_object(ev: Obj, _now: float) -> str:
    inv = ev.get("involvedObject") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


def _pdb_field(name: str) -> Callable[[Obj, float], str]:
    return lambda o, _n: str(_get(o, "spec", name, default="N/A"))


def _pod_cols() -> list[Column]:
    return [
        NAME,
        Column("Ready", lambda o, n: _pod_status(o, n)[0], description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", lambda o, n: _pod_status(o, n)[3], description="The aggregate status of the containers in this pod."),
        Column("Restarts", lambda o, n: _pod_status(o, n)[2], description="The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        AGE,
        Column("IP", _path("status", "podIP"), priority=1, description="IP address assigned to the pod"),
        Column("Node", _path("spec", "nodeName"), priority=1, description="Name of the node assigned"),
        Column("Nominated Node", _path("status", "nominatedNodeName"), priority=1),
        Column("Readiness Gates", lambda o, n: "<none>", priority=1),
    ]


def _workload(ready: list[Column], selector: bool = True) -> list[Column]:
    cols = [NAME, *ready, AGE,
            Column("Containers", lambda o, n: _containers(o, "name"), priority=1),
            Column("Images", lambda o, n: _containers(o, "image"), priority=1)]
    if selector:
        cols.append(Column("Selector", _selector, priority=1))
    return cols


def _int(*keys: str) -> Callable[[Obj, float], int]:
    return lambda o, _n: int(_get(o, *keys, default=0))


COLUMNS: dict[str, Callable[[], list[Column]]] = {
    "pods": _pod_cols,
    "deployments.apps": lambda: _workload([
        Column("Ready", lambda o, n: f"{_get(o, 'status', 'readyReplicas', default=0)}/{_get(o, 'spec', 'replicas', default=1)}"),
        Column("Up-to-date", _int("status", "updatedReplicas"), type="integer"),
        Column("Available", _int("status", "availableReplicas"), type="integer")]),
    "replicasets.apps": lambda: _workload([
        Column("Desired", _int("spec", "replicas"), type="integer"),
        Column("Current", _int("status", "replicas"), type="integer"),
        Column("Ready", _int("status", "readyReplicas"), type="integer")]),
    "statefulsets.apps": lambda: _workload([
        Column("Ready", lambda o, n: f"{_get(o, 'status', 'readyReplicas', default=0)}/{_get(o, 'spec', 'replicas', default=1)}")],
        selector=False),
    "daemonsets.apps": lambda: _workload([
        Column("Desired", _int("status", "desiredNumberScheduled"), type="integer"),
        Column("Current", _int("status", "currentNumberScheduled"), type="integer"),
        Column("Ready", _int("status", "numberReady"), type="integer"),
        Column("Up-to-date", _int("status", "updatedNumberScheduled"), type="integer"),
        Column("Available", _int("status", "numberAvailable"), type="integer"),
        Column("Node Selector", lambda o, n: ",".join(f"{k}={v}" for k, v in sorted(_get(o, "spec", "template", "spec", "nodeSelector", default={}).items())) or "<none>")]),
    "nodes": lambda: [
        NAME, Column("Status", _node_status), Column("Roles", _node_roles), AGE,
        Column("Version", _path("status", "nodeInfo", "kubeletVersion", default="")),
        Column("Internal-IP", _node_address("InternalIP"), priority=1),
        Column("External-IP", _node_address("ExternalIP"), priority=1),
        Column("OS-Image", _path("status", "nodeInfo", "osImage", default="<unknown>"), priority=1),
        Column("Kernel-Version", _path("status", "nodeInfo", "kernelVersion", default="<unknown>"), priority=1),
        Column("Container-Runtime", _path("status", "nodeInfo", "containerRuntimeVersion", default="<unknown>"), priority=1)],
    "horizontalpodautoscalers.autoscaling": lambda: [
        NAME,
        Column("Reference", lambda o, n: f"{_get(o, 'spec', 'scaleTargetRef', 'kind', default='')}/{_get(o, 'spec', 'scaleTargetRef', 'name', default='')}"),
        Column("Targets", _hpa_targets),
        Column("MinPods", _path("spec", "minReplicas", default=1), type="integer"),
        Column("MaxPods", _path("spec", "maxReplicas", default=0), type="integer"),
        Column("Replicas", _int("status", "currentReplicas"), type="integer"), AGE],
    "events": lambda: [
        Column("Last Seen", _event_last_seen), Column("Type", _path("type", default="")),
        Column("Reason", _path("reason", default="")), Column("Object", _event_object),
        Column("Subobject", _path("involvedObject", "fieldPath", default=""), priority=1),
        Column("Source", _path("source", "component", default=""), priority=1),
        Column("Message", _path("message", default="")),
        Column("First Seen", lambda o, n: since(o.get("firstTimestamp") or o.get("eventTime"), n), priority=1),
        Column("Count", _path("count", default=1), type="integer", priority=1),
        Column("Name", _path("metadata", "name", default=""), priority=1)],
    "services": lambda: [
        NAME, Column("Type", _path("spec", "type", default="ClusterIP")),
        Column("Cluster-IP", _path("spec", "clusterIP")),
        Column("External-IP", lambda o, n: ",".join(i.get("ip", "") for i in _get(o, "status", "loadBalancer", "ingress", default=[])) or "<none>"),
        Column("Port(s)", _ports), AGE,
        Column("Selector", lambda o, n: ",".join(f"{k}={v}" for k, v in sorted(_get(o, "spec", "selector", default={}).items())) or "<none>", priority=1)],
    "namespaces": lambda: [NAME, Column("Status", _path("status", "phase", default="Active")), AGE],
    "secrets": lambda: [NAME, Column("Type", _path("type", default="Opaque")),
                        Column("Data", _count("data"), type="integer"), AGE],
    "configmaps": lambda: [NAME, Column("Data", lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {}), type="integer"), AGE],
    "serviceaccounts": lambda: [NAME, Column("Secrets", _count("secrets"), type="integer"), AGE],
    "persistentvolumeclaims": lambda: [
        NAME, Column("Status", _path("status", "phase", default="Pending")),
        Column("Volume", _path("spec", "volumeName", default="")),
        Column("Capacity", _path("status", "capacity", "storage", default="")),
        Column("Access Modes", lambda o, n: ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m) for m in _get(o, "status", "accessModes", default=[]))),
        Column("StorageClass", _path("spec", "storageClassName", default="<unset>")),
        Column("VolumeAttributesClass", lambda o, n: "<unset>"), AGE],
    "poddisruptionbudgets.policy": lambda: [
        NAME, Column("Min Available", _pdb_field("minAvailable")),
        Column("Max Unavailable", _pdb_field("maxUnavailable")),
        Column("Allowed Disruptions", _int("status", "disruptionsAllowed"), type="integer"), AGE],
    "networkpolicies.networking.k8s.io": lambda: [
        NAME, Column("Pod-Selector", lambda o, n: selector_object_to_string(_get(o, "spec", "podSelector")) or "<none>"), AGE],
    "controllerrevisions.apps": lambda: [
        NAME, Column("Controller", lambda o, n: next((f"{r.get('kind', '').lower()}.{r.get('apiVersion', '').split('/')[0]}/{r.get('name')}" for r in _get(o, "metadata", "ownerReferences", default=[]) if r.get("controller")), "<none>")),
        Column("Revision", _path("revision", default=0), type="integer"), AGE],
    "certificates.cert-manager.io": lambda: [
        NAME, Column("Ready", _condition("Ready", "status")),
        Column("Secret", _path("spec", "secretName", default="")),
        Column("Issuer", _path("spec", "issuerRef", "name", default=""), priority=1),
        Column("Status", _condition("Ready", "message"), priority=1), AGE],
    "backupstoragelocations.velero.io": lambda: [
        NAME, Column("Phase", _path("status", "phase", default="")),
        Column("Last Validated", lambda o, n: since(_get(o, "status", "lastValidationTime"), n)),
        AGE, Column("Default", _path("spec", "default", default=False), type="boolean")],
}


def columns_for(rt: ResourceType) -> list[Column]:
    factory = COLUMNS.get(rt.key)
    return factory() if factory else [NAME, AGE]
