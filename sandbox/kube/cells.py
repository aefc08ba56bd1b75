"""Cells of the printed columns, computed as a real apiserver's printers compute them:
pod STATUS from container states and RESTARTS with the last restart's age, node STATUS
and ROLES, HPA TARGETS from current metrics, job status and duration, ages as kubectl's
short human durations. Used by :mod:`columns`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .selectors import selector_object_to_string

Obj = dict[str, Any]


def dig(obj: Any, *keys: str, default: Any = None) -> Any:
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


def pod_status(pod: Obj, now: float) -> tuple[str, int, str, str]:
    """A pod row's pieces: READY ("1/1"), restart count, RESTARTS text ("3 (5m ago)"),
    STATUS (phase, or the waiting/terminated reason of a container, or Terminating)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    ready, restarts, last_restart = 0, 0, None
    has_running = False
    for cs in reversed(status.get("containerStatuses") or []):
        restarts += cs.get("restartCount", 0)
        finished = parse_time(dig(cs, "lastState", "terminated", "finishedAt"))
        if finished and (last_restart is None or finished > last_restart):
            last_restart = finished
        state = cs.get("state") or {}
        if dig(state, "waiting", "reason"):
            reason = state["waiting"]["reason"]
        elif dig(state, "terminated", "reason"):
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
    if dig(pod, "metadata", "deletionTimestamp"):
        reason = "Unknown" if status.get("reason") == "NodeLost" else "Terminating"
    text = str(restarts)
    if restarts and last_restart is not None:
        text += f" ({human_duration(now - last_restart)} ago)"
    total = len(dig(pod, "spec", "containers", default=[]))
    return f"{ready}/{total}", restarts, text, reason


def containers(obj: Obj, field: str) -> str:
    spec = dig(obj, "spec", "template", "spec", default={})
    return ",".join(str(ct.get(field, "")) for ct in spec.get("containers") or [])


def selector(obj: Obj, _now: float) -> str:
    return selector_object_to_string(dig(obj, "spec", "selector")) or "<none>"


def node_status(node: Obj, _now: float) -> str:
    conds = {c.get("type"): c.get("status") for c in dig(node, "status", "conditions", default=[])}
    parts = ["Unknown" if "Ready" not in conds else ("Ready" if conds["Ready"] == "True" else "NotReady")]
    if dig(node, "spec", "unschedulable"):
        parts.append("SchedulingDisabled")
    return ",".join(parts)


def node_roles(node: Obj, _now: float) -> str:
    labels = dig(node, "metadata", "labels", default={})
    roles = {k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")}
    if labels.get("kubernetes.io/role"):
        roles.add(labels["kubernetes.io/role"])
    return ",".join(sorted(r for r in roles if r)) or "<none>"


def node_address(kind: str) -> Callable[[Obj, float], str]:
    def cell(node: Obj, _now: float) -> str:
        for a in dig(node, "status", "addresses", default=[]):
            if a.get("type") == kind:
                return a.get("address", "")
        return "<none>"

    return cell


def hpa_targets(hpa: Obj, _now: float) -> str:
    current = dig(hpa, "status", "currentMetrics", default=[])
    parts = []
    for metric in dig(hpa, "spec", "metrics", default=[]):
        if metric.get("type") != "Resource":
            parts.append("<unknown>/<unknown>")
            continue
        name = dig(metric, "resource", "name", default="")
        target = dig(metric, "resource", "target", default={})
        cur = next((m for m in current if dig(m, "resource", "name") == name), None)
        if target.get("averageUtilization") is not None:
            now_val = dig(cur, "resource", "current", "averageUtilization")
            text = f"{'<unknown>' if now_val is None else f'{now_val}%'}/{target['averageUtilization']}%"
        else:
            now_val = dig(cur, "resource", "current", "averageValue")
            text = f"{now_val or '<unknown>'}/{target.get('averageValue', '<unknown>')}"
        parts.append(f"{name}: {text}")
    return ", ".join(parts) or "<none>"


def service_ports(svc: Obj, _now: float) -> str:
    out = []
    for p in dig(svc, "spec", "ports", default=[]):
        port = str(p.get("port", ""))
        if p.get("nodePort"):
            port += f":{p['nodePort']}"
        out.append(f"{port}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def condition(kind: str, field: str) -> Callable[[Obj, float], str]:
    def cell(obj: Obj, _now: float) -> str:
        for cond in dig(obj, "status", "conditions", default=[]):
            if cond.get("type") == kind:
                return str(cond.get(field, ""))
        return ""

    return cell


def event_last_seen(ev: Obj, now: float) -> str:
    stamp = (ev.get("lastTimestamp") or dig(ev, "series", "lastObservedTime")
             or ev.get("eventTime") or ev.get("firstTimestamp"))
    return since(stamp, now)


def event_object(ev: Obj, _now: float) -> str:
    inv = ev.get("involvedObject") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


def job_status(job: Obj, _now: float) -> str:
    conds = {c.get("type"): c.get("status") for c in dig(job, "status", "conditions", default=[])}
    for kind, text in (("Complete", "Complete"), ("Failed", "Failed"), ("Suspended", "Suspended")):
        if conds.get(kind) == "True":
            return text
    return "Running"


def job_duration(job: Obj, now: float) -> str:
    start = parse_time(dig(job, "status", "startTime"))
    if start is None:
        return ""
    end = parse_time(dig(job, "status", "completionTime")) or now
    return human_duration(end - start)
