"""The columns ``kubectl get`` shows for each resource type (names, types, wide-only
priority), as the real apiserver's printers define them; the cells come from :mod:`cells`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cells import (
    condition,
    containers,
    dig,
    event_last_seen,
    event_object,
    hpa_targets,
    job_duration,
    job_status,
    node_address,
    node_roles,
    node_status,
    pod_status,
    selector,
    service_ports,
    since,
)
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


def _age(obj: Obj, now: float) -> str:
    return since(dig(obj, "metadata", "creationTimestamp"), now)


NAME = Column("Name", lambda o, n: dig(o, "metadata", "name", default=""),
              description="Name must be unique within a namespace.")
AGE = Column("Age", _age, description="CreationTimestamp is a timestamp representing the server time when this object was created.")


def _path(*keys: str, default: Any = "<none>") -> Callable[[Obj, float], Any]:
    return lambda o, _n: dig(o, *keys, default=default)


def _count(*keys: str) -> Callable[[Obj, float], int]:
    return lambda o, _n: len(dig(o, *keys, default=[]) or [])


def _pdb_field(name: str) -> Callable[[Obj, float], str]:
    return lambda o, _n: str(dig(o, "spec", name, default="N/A"))


def _pod_cols() -> list[Column]:
    return [
        NAME,
        Column("Ready", lambda o, n: pod_status(o, n)[0], description="The aggregate readiness state of this pod for accepting traffic."),
        Column("Status", lambda o, n: pod_status(o, n)[3], description="The aggregate status of the containers in this pod."),
        Column("Restarts", lambda o, n: pod_status(o, n)[2], description="The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
        AGE,
        Column("IP", _path("status", "podIP"), priority=1, description="IP address assigned to the pod"),
        Column("Node", _path("spec", "nodeName"), priority=1, description="Name of the node assigned"),
        Column("Nominated Node", _path("status", "nominatedNodeName"), priority=1),
        Column("Readiness Gates", lambda o, n: "<none>", priority=1),
    ]


def _workload(ready: list[Column], with_selector: bool = True) -> list[Column]:
    cols = [NAME, *ready, AGE,
            Column("Containers", lambda o, n: containers(o, "name"), priority=1),
            Column("Images", lambda o, n: containers(o, "image"), priority=1)]
    if with_selector:
        cols.append(Column("Selector", selector, priority=1))
    return cols


def _int(*keys: str) -> Callable[[Obj, float], int]:
    return lambda o, _n: int(dig(o, *keys, default=0))


COLUMNS: dict[str, Callable[[], list[Column]]] = {
    "pods": _pod_cols,
    "deployments.apps": lambda: _workload([
        Column("Ready", lambda o, n: f"{dig(o, 'status', 'readyReplicas', default=0)}/{dig(o, 'spec', 'replicas', default=1)}"),
        Column("Up-to-date", _int("status", "updatedReplicas"), type="integer"),
        Column("Available", _int("status", "availableReplicas"), type="integer")]),
    "replicasets.apps": lambda: _workload([
        Column("Desired", _int("spec", "replicas"), type="integer"),
        Column("Current", _int("status", "replicas"), type="integer"),
        Column("Ready", _int("status", "readyReplicas"), type="integer")]),
    "statefulsets.apps": lambda: _workload([
        Column("Ready", lambda o, n: f"{dig(o, 'status', 'readyReplicas', default=0)}/{dig(o, 'spec', 'replicas', default=1)}")],
        with_selector=False),
    "daemonsets.apps": lambda: _workload([
        Column("Desired", _int("status", "desiredNumberScheduled"), type="integer"),
        Column("Current", _int("status", "currentNumberScheduled"), type="integer"),
        Column("Ready", _int("status", "numberReady"), type="integer"),
        Column("Up-to-date", _int("status", "updatedNumberScheduled"), type="integer"),
        Column("Available", _int("status", "numberAvailable"), type="integer"),
        Column("Node Selector", lambda o, n: ",".join(f"{k}={v}" for k, v in sorted(dig(o, "spec", "template", "spec", "nodeSelector", default={}).items())) or "<none>")]),
    "nodes": lambda: [
        NAME, Column("Status", node_status), Column("Roles", node_roles), AGE,
        Column("Version", _path("status", "nodeInfo", "kubeletVersion", default="")),
        Column("Internal-IP", node_address("InternalIP"), priority=1),
        Column("External-IP", node_address("ExternalIP"), priority=1),
        Column("OS-Image", _path("status", "nodeInfo", "osImage", default="<unknown>"), priority=1),
        Column("Kernel-Version", _path("status", "nodeInfo", "kernelVersion", default="<unknown>"), priority=1),
        Column("Container-Runtime", _path("status", "nodeInfo", "containerRuntimeVersion", default="<unknown>"), priority=1)],
    "horizontalpodautoscalers.autoscaling": lambda: [
        NAME,
        Column("Reference", lambda o, n: f"{dig(o, 'spec', 'scaleTargetRef', 'kind', default='')}/{dig(o, 'spec', 'scaleTargetRef', 'name', default='')}"),
        Column("Targets", hpa_targets),
        Column("MinPods", _path("spec", "minReplicas", default=1), type="integer"),
        Column("MaxPods", _path("spec", "maxReplicas", default=0), type="integer"),
        Column("Replicas", _int("status", "currentReplicas"), type="integer"), AGE],
    "events": lambda: [
        Column("Last Seen", event_last_seen), Column("Type", _path("type", default="")),
        Column("Reason", _path("reason", default="")), Column("Object", event_object),
        Column("Subobject", _path("involvedObject", "fieldPath", default=""), priority=1),
        Column("Source", _path("source", "component", default=""), priority=1),
        Column("Message", _path("message", default="")),
        Column("First Seen", lambda o, n: since(o.get("firstTimestamp") or o.get("eventTime"), n), priority=1),
        Column("Count", _path("count", default=1), type="integer", priority=1),
        Column("Name", _path("metadata", "name", default=""), priority=1)],
    "services": lambda: [
        NAME, Column("Type", _path("spec", "type", default="ClusterIP")),
        Column("Cluster-IP", _path("spec", "clusterIP")),
        Column("External-IP", lambda o, n: ",".join(i.get("ip", "") for i in dig(o, "status", "loadBalancer", "ingress", default=[])) or "<none>"),
        Column("Port(s)", service_ports), AGE,
        Column("Selector", lambda o, n: ",".join(f"{k}={v}" for k, v in sorted(dig(o, "spec", "selector", default={}).items())) or "<none>", priority=1)],
    "namespaces": lambda: [NAME, Column("Status", _path("status", "phase", default="Active")), AGE],
    "secrets": lambda: [NAME, Column("Type", _path("type", default="Opaque")),
                        Column("Data", _count("data"), type="integer"), AGE],
    "configmaps": lambda: [NAME, Column("Data", lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {}), type="integer"), AGE],
    "serviceaccounts": lambda: [NAME, Column("Secrets", _count("secrets"), type="integer"), AGE],
    "persistentvolumeclaims": lambda: [
        NAME, Column("Status", _path("status", "phase", default="Pending")),
        Column("Volume", _path("spec", "volumeName", default="")),
        Column("Capacity", _path("status", "capacity", "storage", default="")),
        Column("Access Modes", lambda o, n: ",".join({"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}.get(m, m) for m in dig(o, "status", "accessModes", default=[]))),
        Column("StorageClass", _path("spec", "storageClassName", default="<unset>")),
        Column("VolumeAttributesClass", lambda o, n: "<unset>"), AGE],
    "poddisruptionbudgets.policy": lambda: [
        NAME, Column("Min Available", _pdb_field("minAvailable")),
        Column("Max Unavailable", _pdb_field("maxUnavailable")),
        Column("Allowed Disruptions", _int("status", "disruptionsAllowed"), type="integer"), AGE],
    "networkpolicies.networking.k8s.io": lambda: [
        NAME, Column("Pod-Selector", lambda o, n: selector_object_to_string(dig(o, "spec", "podSelector")) or "<none>"), AGE],
    "controllerrevisions.apps": lambda: [
        NAME, Column("Controller", lambda o, n: next((f"{r.get('kind', '').lower()}.{r.get('apiVersion', '').split('/')[0]}/{r.get('name')}" for r in dig(o, "metadata", "ownerReferences", default=[]) if r.get("controller")), "<none>")),
        Column("Revision", _path("revision", default=0), type="integer"), AGE],
    "jobs.batch": lambda: [
        NAME, Column("Status", job_status),
        Column("Completions", lambda o, n: f"{dig(o, 'status', 'succeeded', default=0)}/{dig(o, 'spec', 'completions', default=1)}"),
        Column("Duration", job_duration), AGE,
        Column("Containers", lambda o, n: containers(o, "name"), priority=1),
        Column("Images", lambda o, n: containers(o, "image"), priority=1),
        Column("Selector", selector, priority=1)],
    "cronjobs.batch": lambda: [
        NAME, Column("Schedule", _path("spec", "schedule", default="")),
        Column("Timezone", _path("spec", "timeZone", default="<none>")),
        Column("Suspend", _path("spec", "suspend", default=False), type="boolean"),
        Column("Active", _count("status", "active"), type="integer"),
        Column("Last Schedule", lambda o, n: since(dig(o, "status", "lastScheduleTime"), n) if dig(o, "status", "lastScheduleTime") else "<none>"),
        AGE],
    "certificates.cert-manager.io": lambda: [
        NAME, Column("Ready", condition("Ready", "status")),
        Column("Secret", _path("spec", "secretName", default="")),
        Column("Issuer", _path("spec", "issuerRef", "name", default=""), priority=1),
        Column("Status", condition("Ready", "message"), priority=1), AGE],
    "backupstoragelocations.velero.io": lambda: [
        NAME, Column("Phase", _path("status", "phase", default="")),
        Column("Last Validated", lambda o, n: since(dig(o, "status", "lastValidationTime"), n)),
        AGE, Column("Default", _path("spec", "default", default=False), type="boolean")],
}


def columns_for(rt: ResourceType) -> list[Column]:
    factory = COLUMNS.get(rt.key)
    return factory() if factory else [NAME, AGE]
