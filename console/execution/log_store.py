"""Reading session logs back: verify the chain, list sessions, find the one to resume.

``verify`` names the first bad record and why: a record whose content does not match its
hash (an edited byte), a sequence gap (a deleted line), a record out of order (swapped
lines), a broken ``prev`` link, a last line cut in the middle (truncated tail), or a log
that ends before the record its ``.head`` anchor names (trailing records removed). A log
without ``session_end`` that is otherwise intact verifies: it was interrupted, and it is
reported as resumable.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .session_log import GENESIS, head_path, record_hash

FIELDS = ("seq", "ts", "operator", "env", "event", "data", "prev", "hash")
ENDED_OK = "completed"


@dataclass
class Verification:
    path: Path
    ok: bool
    records: list[dict[str, Any]] = field(default_factory=list)  # the good prefix
    bad_seq: int | None = None  # the first bad record's sequence number
    bad_line: int | None = None
    reason: str = ""
    anchored: bool = True  # a .head file was there to check the tail against

    @property
    def ended(self) -> bool:
        return bool(self.records) and self.records[-1]["event"] == "session_end"

    def describe(self) -> str:
        if not self.ok:
            return f"FAILED at record {self.bad_seq} (line {self.bad_line}): {self.reason}"
        n = len(self.records)
        tail = "ends with session_end" if self.ended else "no session_end: interrupted"
        anchor = "" if self.anchored else "; no .head anchor, removal of the tail undetectable"
        return f"OK: {n} records, chain intact, {tail}{anchor}"


def _fail(v: Verification, seq: int, line: int, reason: str) -> Verification:
    v.ok, v.bad_seq, v.bad_line, v.reason = False, seq, line, reason
    return v


def verify(path: Path) -> Verification:
    v = Verification(path=path, ok=True)
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    partial = lines.pop()  # b"" when the file ends with a newline, as every good log does
    prev = GENESIS
    for number, line in enumerate(lines, start=1):
        expected = len(v.records) + 1
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or set(record) != set(FIELDS):
                raise ValueError("fields")
        except ValueError:
            return _fail(v, expected, number, "not a well-formed record (edited)")
        seq = record["seq"]
        if not isinstance(seq, int):
            return _fail(v, expected, number, "sequence number is not a number (edited)")
        if record_hash(record) != record["hash"]:
            return _fail(v, expected, number,
                         f"content does not match its hash (record {seq} was edited)")
        if seq > expected:
            later = _line_of(lines[number:], expected)
            if later is not None:
                return _fail(v, expected, number,
                             f"record {expected} is out of order (line {number} holds record "
                             f"{seq}, record {expected} is at line {number + later}): reordered")
            return _fail(v, expected, number,
                         f"record {expected} is missing (line {number} holds record {seq}): "
                         "deleted")
        if seq < expected:
            return _fail(v, expected, number,
                         f"record {seq} appears after record {expected - 1}: reordered")
        if record["prev"] != prev:
            return _fail(v, seq, number, "does not link to the record before it (prev hash)")
        prev = record["hash"]
        v.records.append(record)
    if partial:
        return _fail(v, len(v.records) + 1, len(lines) + 1,
                     f"the last line is cut off after {len(partial)} bytes: truncated")
    return _check_head(v)


def _line_of(lines: list[bytes], seq: int) -> int | None:
    """1-based offset in ``lines`` of the record numbered ``seq``, if present."""
    needle = b'"seq":%d,' % seq
    for offset, line in enumerate(lines, start=1):
        if line.startswith(b"{" + needle) or needle in line[:40]:
            return offset
    return None


def _check_head(v: Verification) -> Verification:
    hp = head_path(v.path)
    if not hp.exists():
        v.anchored = False
        return v
    try:
        seq_text, hash_text = hp.read_text().split()
        head_seq = int(seq_text)
    except ValueError:
        return _fail(v, len(v.records), len(v.records), "the .head anchor is unreadable")
    last = len(v.records)
    if head_seq > last:
        return _fail(v, last + 1, last + 1,
                     f"the log ends at record {last} but its head anchor names record "
                     f"{head_seq}: records {last + 1}..{head_seq} were removed (truncated)")
    if head_seq and v.records[head_seq - 1]["hash"] != hash_text:
        return _fail(v, head_seq, head_seq, "does not match the hash in the head anchor")
    return v


@dataclass(frozen=True)
class SessionSummary:
    id: str
    path: Path
    started: str
    env: str
    wizard: str | None
    operator: str
    status: str  # completed | failed | aborted | refused | interrupted | running | dry-run | dry-run failed
    records: int
    intact: bool
    completed_steps: tuple[int, ...]

    @property
    def resumable(self) -> bool:
        return (self.intact and self.wizard is not None
                and self.status in ("interrupted", "failed", "aborted"))


def is_locked(path: Path) -> bool:
    """True while a process holds the session's writer lock (it is running)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def completed_steps(records: list[dict[str, Any]]) -> tuple[int, ...]:
    """Indexes of steps that finished (ok or deliberately skipped), in any attempt."""
    done = {r["data"].get("step") for r in records
            if r["event"] == "step_end" and r["data"].get("status") in ("ok", "skipped")}
    return tuple(sorted(i for i in done if isinstance(i, int)))


def summarize(path: Path) -> SessionSummary:
    v = verify(path)
    records = v.records
    first = records[0] if records else {}
    start = next((r for r in records if r["event"] == "session_start"), None)
    data = start["data"] if start else {}
    if v.ended:
        status = records[-1]["data"].get("status", ENDED_OK)
    else:
        status = "running" if is_locked(path) else "interrupted"
    op = first.get("operator") or {}
    who = f"{op.get('user', '?')}@{op.get('host', '?')}"
    if op.get("ssh_client"):
        who += f" from {op['ssh_client']}"
    return SessionSummary(
        id=path.stem, path=path, started=first.get("ts", "?"), env=first.get("env", "?"),
        wizard=data.get("wizard"), operator=who, status=status if v.ok else "TAMPERED",
        records=len(records), intact=v.ok, completed_steps=completed_steps(records),
    )


def list_sessions(directory: Path) -> list[SessionSummary]:
    """Every session in ``directory``, newest first."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob("*.jsonl"), key=lambda p: p.name, reverse=True)
    return [summarize(p) for p in paths]


def resolve(ref: str, directory: Path) -> Path:
    """A session id (or a unique prefix of one) in ``directory``, or a path to a log file."""
    candidate = Path(ref).expanduser()
    if candidate.suffix == ".jsonl" or os.sep in ref:
        if candidate.is_file():
            return candidate
        raise FileNotFoundError(f"no session log file {ref}")
    exact = directory / f"{ref}.jsonl"
    if exact.is_file():
        return exact
    matches = sorted(directory.glob(f"{ref}*.jsonl")) if directory.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise FileNotFoundError(f"no session {ref!r} in {directory}")
    raise FileNotFoundError(f"{ref!r} matches {len(matches)} sessions; give more of the id")


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records as written, tolerant of damage (for ``show`` of a tampered log)."""
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            records.append({"seq": "?", "event": "unreadable", "data": {"line": line[:200]}})
    return records
