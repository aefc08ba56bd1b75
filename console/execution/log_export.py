"""Render a session log as a Markdown incident timeline (``mcp-ops log export``).

The timeline is what a post-incident review needs: who ran what, where, when; each step's
plan and equivalent command, the confirmation given, the outcome and duration, and the
output (collapsed to its last lines per step so that a long rollout does not drown the
story). Everything passes the redactor again on the way out, and the verification result
is stated at the top so a reader knows whether to trust the record.

Every table cell stays short enough to read (at most :data:`CELL_MAX` characters): a plan
whose commands span lines (the PITR recovery manifest) or would make its row longer, and
any other record too long for a row, is shortened in the table to a link to the record in
full, written under the table — the commands as a fenced code block, exactly as planned,
so a manifest in it still parses as YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .log_store import read_records, verify
from .redaction import Redactor

OUTPUT_TAIL = 20
CELL_MAX = 200  # characters of a timeline cell, Markdown escapes included


def _md(text: Any) -> str:
    """Text for a table cell: one line, ``|`` escaped, ``<`` too (``<no dump chosen>``
    is not an HTML tag to drop)."""
    return _prose(text).replace("|", "\\|").replace("\n", " ")


def _prose(text: Any) -> str:
    return str(text).replace("<", "\\<")


def _time(record: dict[str, Any]) -> str:
    ts = str(record.get("ts", "?"))
    return ts[11:19] if len(ts) >= 19 else ts


def _fence(lines: list[str], language: str) -> list[str]:
    """``lines`` as a fenced code block, its fence longer than any backtick run inside."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", *lines, fence]


def _flush_output(out: list[str], buffered: list[str]) -> None:
    if not buffered:
        return
    hidden = len(buffered) - OUTPUT_TAIL
    shown = ([f"… {hidden} earlier lines (see `mcp-ops log show`)"] if hidden > 0 else [])
    out.append("")
    out.extend(_fence(shown + buffered[-OUTPUT_TAIL:], "text"))
    out.append("")
    buffered.clear()


@dataclass
class _Details:
    """A record in full, under the table its shortened row links to."""

    title: str  # a Markdown heading's text: its anchor is :func:`_anchor` of it
    text: str = ""  # prose (a plan's summary, a long message)
    code: tuple[str, ...] = ()  # the commands, one block
    language: str = "sh"

    def lines(self) -> list[str]:
        out = [f"### {self.title}", ""]
        if self.text:
            out += [_prose(self.text), ""]
        if self.code:
            out += _fence("\n".join(self.code).split("\n"), self.language) + [""]
        return out


def _anchor(title: str) -> str:
    """The anchor Markdown renderers (GitHub, GitLab, VS Code, pandoc) give a heading made
    of letters, digits, spaces and colons."""
    return re.sub(r"[^a-z0-9 _-]", "", title.lower()).replace(" ", "-")


def _shorten(text: str, room: int) -> str:
    """``text`` in at most ``room`` characters (as a cell: escaped), cut at a space, with
    an ellipsis."""
    if len(_md(text)) <= room:
        return text
    cut = text[:max(room - 1, 0)]
    while cut and len(_md(cut)) > room - 1:
        cut = cut[:-1]
    space = cut.rfind(" ")
    if space > room // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:—-") + "…"


def describe_event(record: dict[str, Any]) -> str:
    """One line for a record (shared with ``log show`` and the log viewer)."""
    d = record.get("data") or {}
    event = record.get("event")
    if event == "session_start":
        mode = " (read-only)" if d.get("read_only") else ""
        return f"session start: wizard {d.get('wizard')}{mode}"
    if event == "step_plan":
        cmds = "; ".join(d.get("commands") or [])
        return f"step {d.get('step', 0) + 1} plan: {d.get('summary')}" + (f" — `{cmds}`" if cmds else "")
    if event == "confirmation":
        how = f"typed {d.get('typed')!r}" if d.get("typed") is not None else "yes/no"
        return f"step {d.get('step', 0) + 1} confirmation ({how}): {'confirmed' if d.get('confirmed') else 'declined'}"
    if event == "refusal":
        return f"step {d.get('step', 0) + 1} REFUSED: {d.get('reason')}"
    if event == "input_rejected":
        return f"input {d.get('input')} rejected: {d.get('error')}"
    if event == "step_start":
        return f"step {d.get('step', 0) + 1} start: {d.get('title')} [{d.get('risk')}]"
    if event == "step_end":
        extra = f" — {d.get('error')}" if d.get("error") else ""
        return (f"step {d.get('step', 0) + 1} {d.get('status')} after "
                f"{float(d.get('duration') or 0):.1f}s{extra}")
    if event == "session_end":
        return f"session end: {d.get('status')}"
    if event == "output":
        return f"  {d.get('stream', 'out')}: {d.get('line')}"
    if event == "inputs":
        return "inputs: " + ", ".join(f"{k}={v}" for k, v in (d.get("values") or {}).items())
    if event == "health":
        return describe_health(d)
    if event == "lease":
        return f"lease {d.get('event')}: {d.get('detail') or d.get('lease') or ''}".rstrip(": ")
    return f"{event}: " + ", ".join(f"{k}={v}" for k, v in d.items())


def describe_health(d: dict[str, Any]) -> str:
    """What the operator's platform looked like around a step: the overall status, then
    each component that was not healthy with its first reason."""
    where = f"health at step {d.get('step', 0) + 1}"
    if d.get("error"):
        return f"{where}: not checked ({d['error']})"
    components = d.get("components") or {}
    bad = [f"{name} {c.get('status')}: {(c.get('reasons') or ['?'])[0]}"
           for name, c in components.items() if c.get("status") != "HEALTHY"]
    return f"{where}: {d.get('status')}" + (" — " + "; ".join(bad) if bad else "")


def _row(record: dict[str, Any], redactor: Redactor) -> tuple[str, _Details | None]:
    """The record's timeline cell (at most :data:`CELL_MAX` characters), and what goes in
    full under the table when the cell cannot hold it."""
    text = redactor.text(describe_event(record))
    d = record.get("data") or {}
    commands = [redactor.text(str(c)) for c in d.get("commands") or []]
    seq = record.get("seq", "?")
    if record.get("event") == "step_plan" and commands and (
            any("\n" in c for c in commands) or len(_md(text)) > CELL_MAX):
        step = f"step {d.get('step', 0) + 1} plan"
        details = _Details(f"Record {seq}: {step}", redactor.text(str(d.get("summary") or "")),
                           tuple(commands))
        link = f" — [commands ↓](#{_anchor(details.title)})"
        summary = _shorten(str(d.get("summary") or ""), CELL_MAX - len(step) - 2 - len(link))
        return _md(redactor.text(f"{step}: {summary}")) + link, details
    if len(_md(text)) <= CELL_MAX:
        return _md(text), None
    details = _Details(f"Record {seq}: {record.get('event', 'record')}", code=(text,),
                       language="text")
    link = f" — [in full ↓](#{_anchor(details.title)})"
    return _md(_shorten(text, CELL_MAX - len(link))) + link, details


def export_markdown(path: Path, redactor: Redactor | None = None) -> str:
    redactor = redactor or Redactor()
    v = verify(path)
    records = read_records(path)
    first = records[0] if records else {}
    op = first.get("operator") or {}
    start = next((r for r in records if r.get("event") == "session_start"), {})
    wizard = (start.get("data") or {}).get("wizard", "?")
    table = ["| time | event |", "|---|---|"]
    out = [
        f"# Session {path.stem}: {wizard}",
        "",
        f"- environment: **{first.get('env', '?')}**",
        f"- operator: {op.get('user', '?')}@{op.get('host', '?')}"
        + (f" (SSH from {op['ssh_client']})" if op.get("ssh_client") else ""),
        f"- started: {first.get('ts', '?')}",
        f"- ended: {records[-1].get('ts', '?') if v.ended else 'not ended (interrupted)'}",
        f"- integrity: {v.describe()}",
        "",
        "## Timeline",
        "",
        *table,
    ]
    buffered: list[str] = []
    details: list[_Details] = []

    def under_the_table() -> None:
        if details:
            out.append("")
            for item in details:
                out.extend(item.lines())
            details.clear()

    for record in records:
        if record.get("event") == "output":
            buffered.append(str((record.get("data") or {}).get("line", "")))
            continue
        if buffered:
            under_the_table()
            _flush_output(out, buffered)
            out += table
        cell, full = _row(record, redactor)
        out.append(f"| {_time(record)} | {cell} |")
        if full is not None:
            details.append(full)
    under_the_table()
    _flush_output(out, buffered)
    return redactor.text("\n".join(out).rstrip("\n") + "\n")
