"""The one table ``./dev bench`` prints: a row per figure, ours beside the tool an operator
would use instead, and whether the issue's goal is met.

A row whose figure could not be measured (a tool missing, a server refusing) says why in
``ours`` and never counts as met; a row without a goal (``goal`` empty) is not counted.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass
class Row:
    what: str
    ours: str
    against: str = "—"
    ratio: str = "—"
    goal: str = ""
    met: bool | None = None  # None: no goal to meet

    @classmethod
    def missing(cls, what: str, why: str, goal: str = "", against: str = "—") -> Row:
        return cls(what, f"n/a ({why})", against, "—", goal, False if goal else None)


def ratio(ours: float, theirs: float | None) -> str:
    if not theirs:
        return "—"
    return f"{ours / theirs:.2f}×"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * pct / 100))]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def render(rows: list[Row]) -> str:
    header = ("what", "ours", "against", "ratio", "goal", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "NO")
        cells = (r.what, r.ours, r.against, r.ratio, r.goal or "—", met)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    goals = [r for r in rows if r.met is not None]
    lines.append("")
    lines.append(f"bench: {sum(1 for r in goals if r.met)} of {len(goals)} goals met")
    return "\n".join(lines)
