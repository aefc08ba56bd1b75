"""Render a session log as a Markdown incident timeline (``mcp-ops log export``).

The timeline is what a post-incident review needs: who ran what, where, when; each step's
plan and equivalent command, the confirmation given, the outcome and duration, and the
output (collapsed to its last lines per step so that a long rollout does not drown the
story). Everything passes the redactor again on the way out, and the verification result
is stated at the top so a reader knows whether to trust the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .log_store import read_records, verify
from .redaction import Redactor

OUTPUT_TAIL = 20


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _time(record: dict[str, Any]) -> str:
    ts = str(record.get("ts", "?"))
    return ts[11:19] if len(ts) >= 19 else ts


def _flush_output(out: list[str], buffered: list[str]) -> None:
    if not buffered:
        return
    hidden = len(buffered) - OUTPUT_TAIL
    out.append("")
    out.append("```text")
    if hidden > 0:
        out.append(f"… {hidden} earlier lines (see `mcp-ops log show`)")
    out.extend(buffered[-OUTPUT_TAIL:])
    out.append("```")
    out.append("")
    buffered.clear()


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
    return f"{event}: " + ", ".join(f"{k}={v}" for k, v in d.items())


def export_markdown(path: Path, redactor: Redactor | None = None) -> str:
    redactor = redactor or Redactor()
    v = verify(path)
    records = read_records(path)
    first = records[0] if records else {}
    op = first.get("operator") or {}
    start = next((r for r in records if r.get("event") == "session_start"), {})
    wizard = (start.get("data") or {}).get("wizard", "?")
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
        "| time | event |",
        "|---|---|",
    ]
    buffered: list[str] = []
    for record in records:
        if record.get("event") == "output":
            buffered.append(str((record.get("data") or {}).get("line", "")))
            continue
        if buffered:
            _flush_output(out, buffered)
            out += ["| time | event |", "|---|---|"]
        out.append(f"| {_time(record)} | {_md(describe_event(record))} |")
    _flush_output(out, buffered)
    return redactor.text("\n".join(out) + "\n")
