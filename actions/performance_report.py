"""The performance review as a Markdown file for the weekly notes: each look's figures and
charts, its findings worst first with their verdicts, and the tuning changes made."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.model import Plan, StepFailed, StepOutput
from console.health.status import Status, worst

from .performance_state import changes, sections


def default_path(ctx: StepContext) -> str:
    """``reports/performance-review-ENV-DATE.md`` next to the session logs (the XDG state
    directory unless session_log.directory says otherwise)."""
    from console.execution.session_log import default_directory

    reports = default_directory(ctx.config.session_log.directory).parent / "reports"
    return str(reports / f"performance-review-{ctx.env_name}-{datetime.now(UTC):%Y-%m-%d}.md")


class PathInput(Input):
    async def convert(self, text: str, ctx: StepContext) -> str:
        text = str(await super().convert(text, ctx))
        if not text.endswith(".md"):
            raise InputError(f"{text!r}: a Markdown file name ending in .md")
        return text


REPORT_PATH = PathInput("report_path", "Report file (Markdown)", default=default_path,
                        help="Written at the end; default reports/performance-review-ENV-"
                             "DATE.md beside the session logs.")


def _path(ctx: StepContext) -> Path:
    return Path(os.path.expanduser(ctx.values.get("report_path") or default_path(ctx)))


def plan_report(ctx: StepContext) -> Plan:
    return Plan(f"Write the review and the changes made to {_path(ctx)} (Markdown)")


def label(status: Status) -> str:
    """A verdict's word; UNKNOWN here means "could not be looked at", not "unreachable"."""
    return "UNKNOWN" if status is Status.UNKNOWN else status.label


def markdown(ctx: StepContext) -> str:
    now = datetime.now(UTC)
    found = sections(ctx)
    overall = worst(f.status for s in found.values() for f in s.findings
                    if f.status is not Status.UNKNOWN)
    out = [f"# Weekly performance review — {ctx.env_name}", "",
           f"- Date: {now:%Y-%m-%d %H:%M} UTC",
           f"- Operator: {ctx.operator.user}@{ctx.operator.host}",
           f"- Overall: **{overall.label}**", ""]
    for section in found.values():
        out += [f"## {section.title}", ""]
        if section.lines:
            out += ["```", *section.lines, "```", ""]
        for finding in sorted(section.findings, key=lambda f: -f.status):
            out.append(f"- **{label(finding.status)}** {finding.reason}")
        out.append("")
    out += ["## Tuning changes", ""]
    done = changes(ctx)
    out += [f"- {line}" for line in done] if done else ["- none"]
    out.append("")
    return "\n".join(out)


async def run_report(ctx: StepContext) -> AsyncIterator[StepOutput]:
    path = _path(ctx)
    text = markdown(ctx)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise StepFailed(f"cannot write {path}: {exc}") from exc
    counts = {s: 0 for s in Status}
    for section in sections(ctx).values():
        for finding in section.findings:
            counts[finding.status] += 1
    summary = ", ".join(f"{n} {label(s)}" for s, n in counts.items() if n)
    ctx.note(f"performance review written to {path}", path=str(path))
    yield f"report written to {path.resolve()} ({len(text.splitlines())} lines; {summary})"
