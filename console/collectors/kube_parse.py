"""Kubernetes JSON objects -> the snapshot's plain records.

Quantities ("250m", "512Mi", "12345678n") are turned into millicores and bytes here, so
nothing downstream needs to know Kubernetes' notation.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

from .kube_model import CertificateInfo, DeploymentInfo, EventInfo, HpaInfo, NodeInfo, PodInfo

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": 1e-9, "u": 1e-6, "m": 1e-3, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9,
            "T": 1e12, "P": 1e15, "E": 1e18}
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")


def quantity(text: str | int | float | None) -> float | None:
    """A Kubernetes quantity as a plain number (cores, bytes)."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text)
    text = text.strip()
    for suffix, factor in _BINARY.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    if text and text[-1] in _DECIMAL:
        return float(text[:-1]) * _DECIMAL[text[-1]]
    return float(text)


def millicores(text) -> float | None:
    value = quantity(text)
    return value * 1000 if value is not None else None


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _age(text: str | None, now: datetime) -> float:
    t = parse_time(text)
    return max(0.0, (now - t).total_seconds()) if t else 0.0


def deployment(obj: dict, container: str) -> DeploymentInfo:
    spec, status, meta = obj.get("spec", {}), obj.get("status", {}), obj.get("metadata", {})
    containers = spec.get("template", {}).get("spec", {}).get("containers", [])
    chosen = next((c for c in containers if c.get("name") == container),
                  containers[0] if containers else {})
    progressing: dict = next((c for c in status.get("conditions", []) or []
                        if c.get("type") == "Progressing"), {})
    return DeploymentInfo(
        name=meta.get("name", ""),
        desired=int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1),
        updated=int(status.get("updatedReplicas") or 0),
        ready=int(status.get("readyReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        revision=(meta.get("annotations") or {}).get("deployment.kubernetes.io/revision", ""),
        image=chosen.get("image", ""),
        rollout=progressing.get("reason", ""),
        rollout_message=progressing.get("message", ""),
        namespace=meta.get("namespace", ""),
        current=int(status.get("replicas") or 0),
        generation=int(meta.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        annotations=dict(meta.get("annotations") or {}),
        uid=meta.get("uid", ""),
        resource_version=meta.get("resourceVersion", ""),
    )


def hpa(obj: dict) -> HpaInfo:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    target = current = cpu_index = None
    names = []
    for index, m in enumerate(spec.get("metrics", []) or []):
        res = m.get("resource") or {}
        names.append(_metric_name(m))
        if m.get("type") == "Resource" and res.get("name") == "cpu" and cpu_index is None:
            target = (res.get("target") or {}).get("averageUtilization")
            cpu_index = index
    for m in status.get("currentMetrics", []) or []:
        res = m.get("resource") or {}
        if m.get("type") == "Resource" and res.get("name") == "cpu":
            current = (res.get("current") or {}).get("averageUtilization")
    if target is None:  # autoscaling/v1 shape
        target = spec.get("targetCPUUtilizationPercentage")
        current = status.get("currentCPUUtilizationPercentage", current)
    return HpaInfo(
        name=obj.get("metadata", {}).get("name", ""),
        current=int(status.get("currentReplicas") or 0),
        desired=int(status.get("desiredReplicas") or 0),
        min=int(spec.get("minReplicas") or 1), max=int(spec.get("maxReplicas") or 0),
        cpu_target_pct=target, cpu_current_pct=current,
        metrics=tuple(names), cpu_metric_index=cpu_index,
    )


def _metric_name(metric: dict) -> str:
    """"cpu" for a Resource metric, "pods/NAME", "object/NAME", "external/NAME" else."""
    kind = str(metric.get("type") or "")
    if kind in ("Resource", "ContainerResource"):
        return str((metric.get("resource") or metric.get("containerResource") or {}).get("name", ""))
    body = metric.get(kind[:1].lower() + kind[1:]) or {}
    return f"{kind.lower()}/{(body.get('metric') or {}).get('name', '')}"


def pod(obj: dict, now: datetime, usage: dict | None, previous_restarts: int | None) -> PodInfo:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status", {})
    statuses = status.get("containerStatuses") or []
    waiting = last = ""
    for cs in statuses:
        state, last_state = cs.get("state") or {}, cs.get("lastState") or {}
        waiting = waiting or (state.get("waiting") or {}).get("reason", "")
        last = last or (last_state.get("terminated") or {}).get("reason", "") \
            or (state.get("terminated") or {}).get("reason", "")
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    owner: dict = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), {})
    requests = [c.get("resources", {}).get("requests", {}) for c in spec.get("containers", [])]
    limits = [c.get("resources", {}).get("limits", {}) for c in spec.get("containers", [])]
    cpu = mem = None
    if usage:
        cpu = sum(millicores(c.get("usage", {}).get("cpu")) or 0 for c in usage.get("containers", []))
        mem = sum(quantity(c.get("usage", {}).get("memory")) or 0 for c in usage.get("containers", []))
    return PodInfo(
        name=meta.get("name", ""),
        phase=status.get("phase", ""),
        ready=sum(1 for cs in statuses if cs.get("ready")),
        containers=len(spec.get("containers", [])) or len(statuses),
        restarts=restarts,
        waiting_reason=waiting,
        last_termination=last,
        age_seconds=_age(meta.get("creationTimestamp"), now),
        node=spec.get("nodeName", "") or "",
        deleting=bool(meta.get("deletionTimestamp")),
        cpu_m=cpu, memory_bytes=mem,
        cpu_request_m=_sum(millicores(r.get("cpu")) for r in requests),
        cpu_limit_m=_sum(millicores(r.get("cpu")) for r in limits),
        memory_request_bytes=_sum(quantity(r.get("memory")) for r in requests),
        memory_limit_bytes=_sum(quantity(r.get("memory")) for r in limits),
        restarts_rising=previous_restarts is not None and restarts > previous_restarts,
        namespace=meta.get("namespace", ""),
        labels=dict(meta.get("labels") or {}),
        owner_kind=owner.get("kind", ""), owner_name=owner.get("name", ""),
        local_storage=any("emptyDir" in v for v in spec.get("volumes") or []),
        mirror="kubernetes.io/config.mirror" in (meta.get("annotations") or {}),
        images=tuple(c.get("image", "") for c in spec.get("containers", [])),
    )


_SUMMARY_NODE = re.compile(r'\s*\{\s*"node"\s*:\s*')


def summary_node(text: str) -> dict:
    """A kubelet Summary with its ``node`` member only. The kubelet writes ``node`` first and
    then ``pods``, an entry per pod on the node: thousands on a busy one, megabytes that
    decoding whole held the console's event loop for a fifth of a second per node. Anything
    else is decoded whole."""
    start = _SUMMARY_NODE.match(text)
    if start is not None:
        try:
            node, _ = json.JSONDecoder().raw_decode(text, start.end())
        except ValueError:
            pass
        else:
            return {"node": node}
    return json.loads(text)


def disk_pct(summary: dict) -> float | None:
    """Root filesystem use from a kubelet Summary (``node.fs``), as ``df`` shows it: used
    against used + available (reserved blocks are nobody's to use)."""
    fs = (summary.get("node") or {}).get("fs") or {}
    used, available = fs.get("usedBytes"), fs.get("availableBytes")
    if used is None or available is None or used + available <= 0:
        return None
    return 100.0 * used / (used + available)


def node(obj: dict, usage: dict | None, disk: float | None = None) -> NodeInfo:
    status = obj.get("status", {})
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions", []) or []}
    alloc = status.get("allocatable") or {}
    cpu_pct = mem_pct = None
    if usage:
        cpu_a, mem_a = millicores(alloc.get("cpu")), quantity(alloc.get("memory"))
        cpu_u, mem_u = millicores(usage.get("usage", {}).get("cpu")), quantity(usage.get("usage", {}).get("memory"))
        cpu_pct = 100.0 * cpu_u / cpu_a if cpu_a and cpu_u is not None else None
        mem_pct = 100.0 * mem_u / mem_a if mem_a and mem_u is not None else None
    return NodeInfo(
        name=obj.get("metadata", {}).get("name", ""),
        ready=conditions.get("Ready") == "True",
        unschedulable=bool(obj.get("spec", {}).get("unschedulable")),
        pressures=tuple(p for p in PRESSURES if conditions.get(p) == "True"),
        cpu_pct=cpu_pct, memory_pct=mem_pct, disk_pct=disk,
    )


def event(obj: dict, now: datetime) -> EventInfo:
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    when = (obj.get("lastTimestamp") or obj.get("eventTime")
            or obj.get("metadata", {}).get("creationTimestamp"))
    return EventInfo(
        object=f"{involved.get('kind', '')}/{involved.get('name', '')}",
        reason=obj.get("reason", ""), message=(obj.get("message") or obj.get("note") or "")[:300],
        count=int(obj.get("count") or 1), age_seconds=_age(when, now),
        type=obj.get("type", ""),
    )


def _sum(values) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def certificate(obj: dict, now: datetime) -> CertificateInfo:
    status = obj.get("status") or {}
    not_after = parse_time(status.get("notAfter"))
    return CertificateInfo(
        name=obj.get("metadata", {}).get("name", ""),
        days_left=(not_after - now).total_seconds() / 86400 if not_after else None,
        ready=any(c.get("type") == "Ready" and c.get("status") == "True"
                  for c in status.get("conditions") or []),
    )
