"""Each finding the health rules raise is answered by its wizard, the culprit passed on."""

from __future__ import annotations

from actions.alerts.routing import Route, wizard_for
from actions.catalogue import get
from console.health.status import Finding, Status


def finding(component: str, check: str, reason: str = "") -> Finding:
    return Finding(component, check, Status.CRITICAL, reason)


def test_findings_open_their_wizard_with_what_they_know():
    cases = {
        ("service", "error_rate", ""): Route("alert-high-error-rate"),
        ("service", "p95", ""): Route("alert-slow-response"),
        ("service", "endpoint.health", ""): Route("alert-service-down"),
        ("pods", "pod.mcp-1", "pod mcp-1 CrashLoopBackOff (4 restarts)"):
            Route("alert-service-down"),
        ("pods", "pod.mcp-1", "pod mcp-1 OOMKilled (4 restarts)"): Route("troubleshoot-memory"),
        ("pods", "cpu", ""): Route("alert-high-cpu-memory"),
        ("database", "blocking.4242.4100", ""):
            Route("alert-db-connections", {"remedy": "end-blocker", "pid": "4100"}),
        ("database", "connections", ""): Route("troubleshoot-connection-pool"),
        ("cache", "memory", ""): Route("troubleshoot-redis"),
        ("backups", "latest", ""): None,
    }
    for (component, check, reason), route in cases.items():
        assert wizard_for(finding(component, check, reason)) == route, (component, check)
        if route is not None:
            assert get(route.wizard_id).built
