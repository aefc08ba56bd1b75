"""What the performance review's steps share in a run (``ctx.cache``): each look's
:class:`Section` and the tuning changes made, for the report written at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

from console.execution.context import StepContext
from console.health.status import Finding

SECTIONS = "perf.sections"  # step id -> Section
CHANGES = "perf.changes"  # lines: what each tuning step changed
INVALID = "perf.invalid_indexes"  # schema.index names found invalid by the review


@dataclass
class Section:
    """What one look found: the lines shown (charts too) and the judged findings."""

    title: str
    lines: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


def sections(ctx: StepContext) -> dict[str, Section]:
    found: dict[str, Section] = ctx.cache.setdefault(SECTIONS, {})
    return found


def changes(ctx: StepContext) -> list[str]:
    done: list[str] = ctx.cache.setdefault(CHANGES, [])
    return done


def changed(ctx: StepContext, text: str, **data: object) -> None:
    """A change made: kept for the report and noted in the session log."""
    changes(ctx).append(text)
    ctx.note(text, **data)
