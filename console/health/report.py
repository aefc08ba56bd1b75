"""``mcp-ops check`` output: a table per environment, or JSON with a stable schema.

The JSON schema is documented in docs/check-json.md; ``SCHEMA`` names its version and only
changes when a field is removed or changes meaning (new fields may be added).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime

from .check import EnvironmentReport, exit_code
from .status import Finding

SCHEMA = "mcp-ops.check/v1"
STATUS_WIDTH = 11  # len("UNREACHABLE")


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def _finding(f: Finding) -> dict:
    return {"check": f.check, "status": f.status.label, "reason": f.reason, "value": f.value}


def to_json(reports: Sequence[EnvironmentReport], checked_at: datetime) -> dict:
    code = exit_code(reports)
    return {
        "schema": SCHEMA,
        "checked_at": _iso(checked_at),
        "status": ("HEALTHY", "WARNING", "CRITICAL", "UNREACHABLE")[code],
        "exit_code": code,
        "environments": [
            {
                "name": r.name,
                "description": r.description,
                "status": r.status.label,
                "checked_at": _iso(r.checked_at),
                "duration_ms": round(r.duration_ms),
                "components": [
                    {
                        "name": c.name,
                        "status": c.status.label,
                        "reasons": list(c.reasons),
                        "collected_at": _iso(r.snapshots[c.name].collected_at),
                        "error": r.snapshots[c.name].error,
                        "checks": [_finding(f) for f in c.findings],
                    }
                    for c in r.components
                ],
                "alerts": [_finding(f) | {"component": f.component} for f in r.alerts],
            }
            for r in reports
        ],
    }


def render_report(reports: Sequence[EnvironmentReport], width: int = 100) -> str:
    """A table per environment: one line per component with its status and reasons."""
    out = []
    for r in reports:
        title = f"{r.name}: {r.status.label}"
        if r.description:
            title += f"  ({r.description})"
        out.append(title)
        out.append(f"  {'COMPONENT':<10} {'STATUS':<{STATUS_WIDTH}} REASONS")
        indent = 2 + 10 + 1 + STATUS_WIDTH + 1
        for c in r.components:
            reasons = "; ".join(c.reasons) or "-"
            lines = textwrap.wrap(reasons, max(30, width - indent)) or ["-"]
            out.append(f"  {c.name:<10} {c.status.label:<{STATUS_WIDTH}} {lines[0]}")
            out += [" " * indent + line for line in lines[1:]]
        out.append(f"  checked {_iso(r.checked_at)} in {r.duration_ms / 1000:.1f} s")
        out.append("")
    code = exit_code(reports)
    out.append(f"overall: {('HEALTHY', 'WARNING', 'CRITICAL', 'UNREACHABLE')[code]} (exit {code})")
    return "\n".join(out)
