"""Which wizard answers a finding of the dashboard, with what it already knows.

:func:`wizard_for` maps one :class:`~console.health.status.Finding` (component and check,
as the health rules name them) to the alert or troubleshooting wizard that responds to it
and the answers the finding already gives (``blocking.<blocked>.<blocking>`` -> the
blocker's pid). For the Alerts panel (Enter opens the wizard with the finding filled in)
and for scripts; None for a finding no wizard answers (backups, certificates...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.health.status import Finding


@dataclass(frozen=True)
class Route:
    wizard_id: str
    answers: dict[str, str] = field(default_factory=dict)


def wizard_for(finding: Finding) -> Route | None:
    component, check = finding.component, finding.check
    head = check.split(".", 1)[0]
    if component == "service":
        if check == "error_rate":
            return Route("alert-high-error-rate")
        if check == "p95":
            return Route("alert-slow-response")
        if check == "down" or head == "endpoint":
            return Route("alert-service-down")
    elif component == "pods":
        if head == "pod" and "OOMKilled" in finding.reason:
            return Route("troubleshoot-memory")
        if head in ("pod", "deployment", "ready"):
            return Route("alert-service-down")
        if head in ("cpu", "memory", "hpa", "node_memory"):
            return Route("alert-high-cpu-memory")
    elif component == "database":
        if head == "blocking":
            parts = check.split(".")
            return Route("alert-db-connections",
                         {"remedy": "end-blocker", "pid": parts[2]} if len(parts) == 3
                         and parts[2].isdigit() else {})
        if head == "connections":
            return Route("troubleshoot-connection-pool")
        if head in ("idle_in_transaction", "slow_queries"):
            return Route("alert-db-connections")
    elif component == "cache" and head in ("memory", "evictions", "hit_rate",
                                           "cache_hit_ratio"):
        return Route("troubleshoot-redis")
    return None
