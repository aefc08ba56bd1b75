"""Serving one stored object under several versions of its group.

Objects are stored in their preferred version. The only type the emulator serves under a
second version is the HorizontalPodAutoscaler (stored as autoscaling/v2, also served as
autoscaling/v1 for older clients): v1 carries the CPU target as
``targetCPUUtilizationPercentage``; the other v2 metrics are kept from the stored object
when a v1 client writes.
"""

from __future__ import annotations

import copy
from typing import Any

from .resources import ResourceType

Obj = dict[str, Any]
HPA_KEY = "horizontalpodautoscalers.autoscaling"


def _cpu_metric(metrics: list[Obj]) -> Obj | None:
    for m in metrics or []:
        if m.get("type") == "Resource" and (m.get("resource") or {}).get("name") == "cpu":
            return m
    return None


def _hpa_to_v1(obj: Obj) -> Obj:
    out = copy.deepcopy(obj)
    spec, status = out.get("spec") or {}, out.get("status") or {}
    cpu = _cpu_metric(spec.pop("metrics", None) or [])
    spec.pop("behavior", None)
    target = ((cpu or {}).get("resource") or {}).get("target") or {}
    if target.get("averageUtilization") is not None:
        spec["targetCPUUtilizationPercentage"] = target["averageUtilization"]
    new_status = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                         "desiredReplicas") if k in status}
    current = _cpu_metric(status.get("currentMetrics") or [])
    util = (((current or {}).get("resource") or {}).get("current") or {}).get("averageUtilization")
    if util is not None:
        new_status["currentCPUUtilizationPercentage"] = util
    out["status"] = new_status
    return out


def _hpa_from_v1(obj: Obj, stored: Obj | None) -> Obj:
    out = copy.deepcopy(obj)
    spec = out.setdefault("spec", {})
    percent = spec.pop("targetCPUUtilizationPercentage", None)
    old_spec = (stored or {}).get("spec") or {}
    old_cpu = _cpu_metric(old_spec.get("metrics") or [])
    metrics = [m for m in old_spec.get("metrics") or [] if m is not old_cpu]
    if percent is not None:
        metrics.insert(0, {"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": percent}}})
    if metrics:
        spec["metrics"] = metrics
    if "behavior" in old_spec:
        spec["behavior"] = copy.deepcopy(old_spec["behavior"])
    if stored is not None:
        out["status"] = copy.deepcopy(stored.get("status", {}))
    return out


def to_served(rt: ResourceType, obj: Obj) -> Obj:
    """The stored object as the requested version presents it (kind/apiVersion set)."""
    if rt.key == HPA_KEY and rt.version == "v1":
        obj = _hpa_to_v1(obj)
    elif obj.get("apiVersion") == rt.api_version and obj.get("kind") == rt.kind:
        return obj
    else:
        obj = dict(obj)
    obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    return obj


def to_stored(rt: ResourceType, obj: Obj, stored: Obj | None = None) -> Obj:
    """A request body in the requested version, converted to the stored version."""
    if rt.key == HPA_KEY and rt.version == "v1":
        obj = _hpa_from_v1(obj, stored)
        obj["apiVersion"] = "autoscaling/v2"
    else:
        obj["apiVersion"] = rt.api_version
    obj["kind"] = rt.kind
    return obj
