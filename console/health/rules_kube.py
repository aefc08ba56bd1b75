"""Pods rules: service down, CrashLoopBackOff, OOMKilled, readiness, restarts, CPU, memory,
nodes, their disks and the HPA (DESIGN.md, Thresholds)."""

from __future__ import annotations

from console.collectors.kube_model import KubeSnapshot, PodInfo
from console.config.model import Thresholds

from .status import Finding, Status, fmt_num, high_is_bad, low_is_bad

C = "pods"
CRASHING = ("CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
            "RunContainerError")


def evaluate_kube(snap: KubeSnapshot, t: Thresholds) -> list[Finding]:
    if snap.error:
        return [Finding(C, "collect", Status.UNKNOWN, f"Kubernetes unreachable: {snap.error}")]
    out: list[Finding] = []
    d = snap.deployment
    live = [p for p in snap.pods if not p.deleting]
    if d is None:
        out.append(Finding(C, "deployment", Status.CRITICAL,
                           f"service down: {snap.deployment_note or 'deployment not found'}"))
    elif d.desired == 0:
        out.append(Finding(C, "deployment", Status.CRITICAL,
                           f"service down: deployment {d.name} scaled to 0 replicas", 0.0))
    elif d.available == 0 and snap.ready_pods == 0:
        out.append(Finding(C, "deployment", Status.CRITICAL,
                           f"service down: 0/{d.desired} pods of {d.name} ready", 0.0))
    else:
        ready = snap.ready_pods
        status = Status.HEALTHY if ready >= d.desired and d.updated >= d.desired else Status.WARNING
        not_ready = [p.name for p in live if not p.is_ready]
        text = f"{ready}/{d.desired} pods ready"
        if not_ready:
            text += f" (not ready: {_names(not_ready)})"
        if d.updated < d.desired:
            text += f"; rollout in progress, {d.updated}/{d.desired} updated"
        out.append(Finding(C, "ready", status, text, float(ready)))
    out += [f for p in live if (f := _pod(p))]
    out += _usage(snap, t)
    out += _disk(snap, t)
    for n in snap.nodes:
        problems = ([] if n.ready else ["NotReady"]) + list(n.pressures)
        if n.unschedulable:
            problems.append("cordoned")
        if problems:
            out.append(Finding(C, f"node.{n.name}", Status.WARNING,
                               f"node {n.name}: {', '.join(problems)}"))
    cert = snap.certificate
    if cert is not None and cert.days_left is not None:
        if cert.days_left <= 0:
            out.append(Finding(C, "certificate", Status.CRITICAL,
                               f"certificate {cert.name} has expired", cert.days_left))
        else:
            status, cmp = low_is_bad(cert.days_left, t.certificate_days, inclusive_critical=True)
            out.append(Finding(C, "certificate", status, f"certificate {cert.name} expires in "
                               f"{fmt_num(cert.days_left, 0)} days {cmp} days", cert.days_left))
    out += _unread(snap)
    h = snap.hpa
    if h and h.max and h.current >= h.max:
        out.append(Finding(C, "hpa", Status.WARNING,
                           f"HPA {h.name} at its maximum ({h.current}/{h.max} replicas)",
                           float(h.current)))
    return out


def _pod(p: PodInfo) -> Finding | None:
    if p.waiting_reason in CRASHING:
        last = f", last exit {p.last_termination}" if p.last_termination else ""
        return Finding(C, f"pod.{p.name}", Status.CRITICAL,
                       f"pod {p.name} {p.waiting_reason} ({p.restarts} restarts{last})",
                       float(p.restarts))
    if p.last_termination == "OOMKilled":
        recent = p.restarts_rising or not p.is_ready
        return Finding(C, f"pod.{p.name}", Status.CRITICAL if recent else Status.WARNING,
                       f"pod {p.name} OOMKilled ({p.restarts} restarts)", float(p.restarts))
    if p.restarts_rising:
        return Finding(C, f"pod.{p.name}", Status.WARNING,
                       f"pod {p.name} restarts rising ({p.restarts})", float(p.restarts))
    return None


def _usage(snap: KubeSnapshot, t: Thresholds) -> list[Finding]:
    if snap.metrics_error:
        return [Finding(C, "metrics", Status.WARNING,
                        f"pod CPU/memory unknown: {snap.metrics_error}")]
    out = []
    for check, label, value, band in (("cpu", "CPU", snap.avg_cpu_pct, t.cpu_pct),
                                      ("memory", "memory", snap.avg_memory_pct, t.memory_pct)):
        if value is None:
            continue
        status, cmp = high_is_bad(value, band)
        out.append(Finding(C, check, status, f"pod {label} {value:.0f}% (average of "
                           f"requests/limits) {cmp}%", value))
    for n in snap.nodes:
        if n.memory_pct is not None and n.memory_pct > t.memory_pct.critical:
            out.append(Finding(C, f"node_memory.{n.name}", Status.WARNING,
                               f"node {n.name} memory {n.memory_pct:.0f}%", n.memory_pct))
    return out


def _disk(snap: KubeSnapshot, t: Thresholds) -> list[Finding]:
    """DESIGN.md's disk row (< 85 %): one finding for the fullest node, and one more for
    every other node past the warning level, so the figure has a stable place in the JSON
    and each full node is named."""
    measured = sorted((n for n in snap.nodes if n.disk_pct is not None),
                      key=lambda n: -(n.disk_pct or 0.0))
    if not measured:
        return []
    out = []
    for i, n in enumerate(measured):
        pct = n.disk_pct or 0.0
        status, cmp = high_is_bad(pct, t.disk_pct)
        if i and status is Status.HEALTHY:
            break
        what = "fullest node disk" if i == 0 else "node disk"
        out.append(Finding(C, "disk" if i == 0 else f"disk.{n.name}", status,
                           f"{what}: {n.name} {pct:.0f}% {cmp}%", pct))
    return out


def _unread(snap: KubeSnapshot) -> list[Finding]:
    """Optional collections the collector could not read. A refusal (403) is how the
    credentials were made — namespace-only read access cannot list nodes — so it is noted
    and not held against the pods; any other failure (a timeout, a 5xx) is a warning."""
    out = []
    for check, what, error in (("hpa", "HPA", snap.hpa_error), ("nodes", "nodes", snap.nodes_error),
                               ("events", "events", snap.events_error),
                               ("disk", "node disks", snap.disk_error)):
        if not error:
            continue
        forbidden = error.startswith("HTTP 403")
        out.append(Finding(C, f"unread.{check}", Status.HEALTHY if forbidden else Status.WARNING,
                           f"{what} not checked"
                           + (" (these credentials may not read them)" if forbidden else "")
                           + f": {error}"))
    return out


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
