"""From snapshots to one status per component and one for the environment.

Components are what an operator names when asked "what is broken": the service (HTTP),
its pods (Kubernetes), the database, the cache and the backups. A component's status is
the worst of its findings; its reasons are the findings that made it so (or, when it is
healthy, the figures that show why). The Alerts panel and the JSON output list every
finding that is not healthy, worst first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from console.collectors.base import Snapshot
from console.config.model import Thresholds

from .rules_backups import evaluate_backups
from .rules_data import evaluate_postgres, evaluate_redis
from .rules_kube import evaluate_kube
from .rules_service import evaluate_service
from .status import Finding, Status, worst

# component name -> rule; the order is the order of the report's lines
Rule = Callable[[Any, Thresholds], list[Finding]]  # each takes its own snapshot type
RULES: dict[str, Rule] = {
    "service": evaluate_service,
    "pods": evaluate_kube,
    "database": evaluate_postgres,
    "cache": evaluate_redis,
    "backups": evaluate_backups,
}
COMPONENTS = tuple(RULES)


@dataclass(frozen=True)
class ComponentHealth:
    name: str
    status: Status
    findings: tuple[Finding, ...]

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the component has its status: the findings at that status first, then the
        other non-healthy ones; for a healthy component, its figures (judged ones first)."""
        bad = sorted((f for f in self.findings if f.status > Status.HEALTHY),
                     key=lambda f: -f.status)
        # healthy: the judged figures first, then those that could not be judged yet
        return tuple(f.reason for f in (bad or sorted(self.findings, key=lambda f: f.value is None)))


@dataclass(frozen=True)
class HealthReport:
    components: tuple[ComponentHealth, ...]

    @property
    def status(self) -> Status:
        return worst(c.status for c in self.components)

    @property
    def alerts(self) -> tuple[Finding, ...]:
        """Every active violation, worst first (stable within a status)."""
        found = [f for c in self.components for f in c.findings if f.status > Status.HEALTHY]
        return tuple(sorted(found, key=lambda f: -f.status))

    def component(self, name: str) -> ComponentHealth | None:
        return next((c for c in self.components if c.name == name), None)


def evaluate_component(name: str, snapshot: Snapshot, thresholds: Thresholds) -> ComponentHealth:
    findings = tuple(RULES[name](snapshot, thresholds))
    return ComponentHealth(name, worst(f.status for f in findings), findings)


def evaluate(snapshots: Mapping[str, Snapshot | None], thresholds: Thresholds) -> HealthReport:
    """Judge every component that has a snapshot; components not yet collected are left out."""
    return HealthReport(tuple(
        evaluate_component(name, snap, thresholds)
        for name in COMPONENTS if (snap := snapshots.get(name)) is not None
    ))
