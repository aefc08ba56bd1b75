"""Service rules: health endpoints, error rate and P95 (DESIGN.md, Thresholds)."""

from __future__ import annotations

from console.collectors.service_model import ServiceSnapshot
from console.config.model import Thresholds

from .status import Finding, Status, fmt_num, high_is_bad, not_judged

COMPONENT = "service"


def evaluate_service(snap: ServiceSnapshot, t: Thresholds) -> list[Finding]:
    if snap.error:
        return [Finding(COMPONENT, "collect", Status.UNKNOWN, f"service not checked: {snap.error}")]
    findings = [_endpoint(e, t) for e in snap.endpoints]
    if snap.down:
        findings.insert(0, Finding(COMPONENT, "down", Status.CRITICAL,
                                   f"service down: no health endpoint answers at {snap.base_url}"))
    findings += _requests(snap, t)
    findings += _alertmanager(snap)
    return findings


SEVERITY = {"critical": Status.CRITICAL, "page": Status.CRITICAL, "error": Status.CRITICAL,
            "warning": Status.WARNING}


def _alertmanager(snap: ServiceSnapshot) -> list[Finding]:
    """Alertmanager's firing alerts, one finding each (``critical`` -> CRITICAL, anything
    else -> WARNING: a firing alert is never healthy); an Alertmanager that does not
    answer is a warning of its own — the paging path may be broken."""
    if snap.alertmanager_error:
        return [Finding(COMPONENT, "alertmanager", Status.WARNING,
                        f"Alertmanager not asked: {snap.alertmanager_error}")]
    if snap.firing is None:
        return []
    # the check "alertmanager" judges the paging path (it answers); each firing alert is a
    # finding of its own
    count = len(snap.firing)
    out = [Finding(COMPONENT, "alertmanager", Status.HEALTHY,
                   f"Alertmanager answers: {count} alert{'' if count == 1 else 's'} firing",
                   float(count))]
    seen: set[str] = set()
    for a in snap.firing:
        check = f"alertmanager.{a.name}"
        if check in seen:  # the same alert for several targets: one row, the first
            continue
        seen.add(check)
        age = a.age_seconds(snap.collected_at)
        since = f" for {_age(age)}" if age is not None else ""
        out.append(Finding(COMPONENT, check, SEVERITY.get(a.severity.lower(), Status.WARNING),
                           f"Alertmanager: {a.name} firing{since}"
                           + (f" — {a.summary}" if a.summary else "")))
    return out


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{max(seconds, 0):.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _endpoint(e, t: Thresholds) -> Finding:
    check = f"endpoint.{e.name}"
    what = f"GET {e.path}"
    if e.error:
        return Finding(COMPONENT, check, Status.CRITICAL, f"{what}: {e.error}")
    if not e.ok:
        return Finding(COMPONENT, check, Status.CRITICAL,
                       f"{what} answered HTTP {e.status_code}" + (f" ({e.detail})" if e.detail else ""),
                       float(e.status_code or 0))
    status, cmp = high_is_bad(e.latency_ms, t.health_latency_ms, inclusive_critical=True)
    if status is Status.HEALTHY:
        return Finding(COMPONENT, check, status, f"{what} {e.status_code} in {e.latency_ms:.0f} ms",
                       e.latency_ms)
    return Finding(COMPONENT, check, status,
                   f"{what} took {e.latency_ms:.0f} ms {cmp} ms", e.latency_ms)


def _requests(snap: ServiceSnapshot, t: Thresholds) -> list[Finding]:
    r = snap.requests
    if r.error:
        return [Finding(COMPONENT, "metrics", Status.WARNING,
                        f"request figures unavailable ({r.source}): {r.error}")]
    window = (" (since start)" if r.window == "since start" else f" over {r.window}") if r.window else ""
    out = []
    if r.error_rate_pct is not None:
        status, cmp = high_is_bad(r.error_rate_pct, t.error_rate_pct)
        out.append(Finding(COMPONENT, "error_rate", status,
                           f"error rate {fmt_num(r.error_rate_pct, 2)}% {cmp}%{window}",
                           r.error_rate_pct))
    else:
        out.append(not_judged(COMPONENT, "error_rate",
                              f"error rate not judged: no requests{window}"))
    if r.p95_ms is not None:
        status, cmp = high_is_bad(r.p95_ms, t.p95_ms, inclusive_critical=True)
        out.append(Finding(COMPONENT, "p95", status,
                           f"P95 response time {r.p95_ms:.0f} ms {cmp} ms{window}", r.p95_ms))
    else:
        out.append(not_judged(COMPONENT, "p95",
                              f"P95 response time not judged: no timed requests{window}"))
    if r.request_rate is not None:
        rate_window = f" over {r.rate_window}" if r.rate_window else window
        out.append(Finding(COMPONENT, "request_rate", Status.HEALTHY,
                           f"{fmt_num(r.request_rate)} requests/s{rate_window}", r.request_rate))
    else:
        out.append(not_judged(COMPONENT, "request_rate", "request rate not measured: one "
                              "scrape of /metrics has no rate (set service.prometheus_url)"
                              if r.source == "scrape" else "request rate not measured"))
    return out
