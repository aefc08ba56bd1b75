"""The health check as a function: ``run_checks(config, env_names)``.

Used by ``mcp-ops check`` and by the morning-health-check wizard. It collects every
component of each environment once (lists, no watches), concurrently and each within the
per-source timeout, judges the snapshots with the environment's thresholds and returns one
:class:`EnvironmentReport` per environment. Nothing here raises for an unreachable system:
that is a result (UNREACHABLE), not an error.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from console.collectors.base import Snapshot, utcnow
from console.collectors.registry import Collector, close_all, collect_bounded, collectors_for
from console.config.model import Config, Environment

from .evaluate import ComponentHealth, HealthReport, evaluate
from .status import Finding, Status

CollectorFactory = Callable[..., dict[str, Collector]]


@dataclass(frozen=True)
class EnvironmentReport:
    name: str
    description: str
    checked_at: datetime
    duration_ms: float
    health: HealthReport
    snapshots: dict[str, Snapshot]

    @property
    def status(self) -> Status:
        return self.health.status

    @property
    def components(self) -> tuple[ComponentHealth, ...]:
        return self.health.components

    @property
    def alerts(self) -> tuple[Finding, ...]:
        return self.health.alerts


def resolve_targets(config: Config, target: str | None) -> list[str]:
    """``all`` -> every environment; a name -> that one; None -> the default environment.
    Raises KeyError naming the configured environments for an unknown name."""
    if target == "all":
        return list(config.environments)
    name, _ = config.environment(target)
    return [name]


async def check_environment(name: str, env: Environment, *, timeout: float = 3.0,
                            factory: CollectorFactory | None = None) -> EnvironmentReport:
    started, at = time.monotonic(), utcnow()
    collectors = (factory or collectors_for)(env, timeout=timeout, watch=False)
    try:
        snapshots = await asyncio.gather(*(collect_bounded(n, c, timeout)
                                           for n, c in collectors.items()))
    finally:
        await close_all(collectors)
    by_name = dict(zip(collectors, snapshots, strict=True))
    return EnvironmentReport(
        name=name, description=env.description, checked_at=at,
        duration_ms=(time.monotonic() - started) * 1000,
        health=evaluate(by_name, env.thresholds), snapshots=by_name,
    )


async def run_checks(config: Config, env_names: Sequence[str] | None = None, *,
                     timeout: float | None = None,
                     factory: CollectorFactory | None = None) -> list[EnvironmentReport]:
    """Check the named environments (default: every one) concurrently, in the order given.
    ``factory`` builds an environment's collectors (the registry's, unless a caller such
    as a test brings its own, as the dashboard's ``collector_factory`` allows)."""
    names = list(env_names) if env_names else list(config.environments)
    timeout = timeout or config.ui.source_timeout_seconds
    return list(await asyncio.gather(*(
        check_environment(n, config.environments[n], timeout=timeout, factory=factory)
        for n in names
    )))


def exit_code(reports: Sequence[EnvironmentReport]) -> int:
    """0 healthy, 1 warning, 2 critical, 3 unreachable: the worst over every environment."""
    return int(max((r.status for r in reports), default=Status.HEALTHY))
