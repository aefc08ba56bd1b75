"""``mcp-ops check --format openmetrics``: the check as metrics, for cron and Alertmanager.

Written for node_exporter's textfile collector (``mcp-ops check all --format openmetrics >
/var/lib/node_exporter/textfile/mcp_ops.prom.$$ && mv ... mcp_ops.prom``), so the platform's
own Prometheus and Alertmanager see what the console sees. Gauges only and no sample
timestamps (the textfile collector refuses them); statuses are the exit codes' numbers: 0
healthy, 1 warning, 2 critical, 3 unreachable.

- ``mcp_ops_check_status{environment}`` and ``mcp_ops_check_component_status{environment,
  component}``: the verdicts;
- ``mcp_ops_check_finding_status{environment,component,check}``: each judged figure, and
  ``mcp_ops_check_value{environment,component,check}`` its raw value where it has one (a
  figure that cannot be judged yet has none, as in the JSON);
- ``mcp_ops_check_duration_seconds`` and ``mcp_ops_check_timestamp_seconds`` per
  environment (alert on a stale timestamp: the cron job stopped).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

from .check import EnvironmentReport

PREFIX = "mcp_ops_check"
HELP = {
    "status": "Worst status of the environment (0 healthy, 1 warning, 2 critical, 3 unreachable).",
    "component_status": "Status of one component (0 healthy .. 3 unreachable).",
    "finding_status": "Status of one judged figure (0 healthy .. 3 unreachable).",
    "value": "Raw value of one judged figure (units as in mcp-ops check --format json).",
    "duration_seconds": "Time the check of the environment took.",
    "timestamp_seconds": "When the environment was checked (Unix time).",
}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def _samples(reports: Sequence[EnvironmentReport]) -> Iterator[tuple[str, str, float]]:
    for r in reports:
        env = r.name
        yield "status", _labels(environment=env), int(r.status)
        yield "duration_seconds", _labels(environment=env), r.duration_ms / 1000
        yield "timestamp_seconds", _labels(environment=env), r.checked_at.timestamp()
        for c in r.components:
            yield "component_status", _labels(environment=env, component=c.name), int(c.status)
            for f in c.findings:
                labels = _labels(environment=env, component=c.name, check=f.check)
                yield "finding_status", labels, int(f.status)
                if f.value is not None:
                    yield "value", labels, f.value


def to_openmetrics(reports: Sequence[EnvironmentReport]) -> str:
    """The OpenMetrics text for ``reports``, ending with ``# EOF``."""
    by_name: dict[str, list[str]] = {name: [] for name in HELP}
    seen: set[tuple[str, str]] = set()
    for name, labels, value in _samples(reports):
        if (name, labels) in seen:  # a check id twice in one component: keep the first
            continue
        seen.add((name, labels))
        by_name[name].append(f"{PREFIX}_{name}{labels} {_number(value)}")
    lines: list[str] = []
    for name, samples in by_name.items():
        unit = "seconds" if name.endswith("_seconds") else ""
        lines += [f"# TYPE {PREFIX}_{name} gauge"]
        if unit:
            lines.append(f"# UNIT {PREFIX}_{name} {unit}")
        lines += [f"# HELP {PREFIX}_{name} {HELP[name]}", *samples]
    return "\n".join([*lines, "# EOF"]) + "\n"
