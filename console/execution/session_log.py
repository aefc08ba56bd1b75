"""The tamper-evident session log: one JSONL file per session, a SHA-256 hash chain.

Each record is ``{seq, ts, operator, env, event, data, prev, hash}``: ``prev`` is the hash
of the record before it (64 zeros for the first) and ``hash`` is the SHA-256 of the
record's canonical JSON without ``hash``. Editing, removing or reordering a record breaks
the chain at that record.

A chain alone cannot notice the *last* records being removed cleanly, so every write also
updates a small companion file ``<id>.head`` holding the sequence number and hash of the
newest record (fixed width, rewritten in place). ``verify`` requires the log to reach the
record the head names. A process killed with ``kill -9`` leaves a log that still verifies
up to its last record — each record is one ``write`` of a whole line, and the head is
written right after it — and is listed as resumable because it has no ``session_end``.

Durability: every record is written straight to the kernel (a crash of the console loses
nothing already shown); ``fsync`` of the log and the head happens at step boundaries
(``sync=True``) and at the end, as DESIGN.md asks. An exclusive ``flock`` is held while a
session writes, so two processes never append to one log and ``log list`` can tell a
running session from an interrupted one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from console.errors import McpOpsError
from console.identity import Operator

from .redaction import Redactor

GENESIS = "0" * 64
HEAD_FORMAT = "{seq:012d} {hash}\n"


def canonical(record: dict[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no spaces, ``hash`` left out."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(record)).hexdigest()


def default_directory(configured: str | None = None) -> Path:
    """``session_log.directory`` from the config, else ``$XDG_STATE_HOME/mcp-ops/sessions``."""
    if configured:
        return Path(configured).expanduser()
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "mcp-ops" / "sessions"


def new_session_id(label: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() or c == "-" else "-" for c in label)[:40] or "session"
    return f"{stamp}-{safe}-{secrets.token_hex(2)}"


def head_path(log_path: Path) -> Path:
    return log_path.with_suffix(".head")


class SessionLogBusy(McpOpsError):
    """Another process is writing this session (it is still running)."""

    title = "Session busy"


class SessionLog:
    """Append-only writer of one session's log. Use :meth:`create` or :meth:`reopen`."""

    def __init__(self, path: Path, fd: int, head_fd: int, *, env: str, operator: Operator,
                 redactor: Redactor, seq: int, last_hash: str):
        self.path = path
        self.id = path.stem
        self._fd = fd
        self._head_fd = head_fd
        self.env = env
        self.operator = operator
        self._operator = operator.as_dict()
        self.redactor = redactor
        self.seq = seq
        self.last_hash = last_hash
        self.closed = False
        # called after every step boundary (``sync=True``) is on disk: the off-machine
        # anchor (:mod:`.log_anchor`) uploads the log then
        self.on_sync: Callable[[], None] | None = None

    @classmethod
    def create(cls, directory: Path, *, label: str, env: str, operator: Operator,
               redactor: Redactor) -> SessionLog:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / f"{new_session_id(label)}.jsonl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        head_fd = os.open(head_path(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        return cls(path, fd, head_fd, env=env, operator=operator, redactor=redactor,
                   seq=0, last_hash=GENESIS)

    @classmethod
    def reopen(cls, path: Path, *, env: str, operator: Operator, redactor: Redactor,
               seq: int, last_hash: str) -> SessionLog:
        """Continue a verified log (resume). ``seq``/``last_hash`` are its last record's."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SessionLogBusy(f"session {path.stem} is still being written by another "
                                 "process") from None
        head_fd = os.open(head_path(path), os.O_WRONLY | os.O_CREAT, 0o600)
        return cls(path, fd, head_fd, env=env, operator=operator, redactor=redactor,
                   seq=seq, last_hash=last_hash)

    def append(self, event: str, data: dict[str, Any] | None = None, *,
               sync: bool = False) -> dict[str, Any]:
        """Write one record (redacted) and return it. ``sync`` = a step boundary: fsync."""
        if self.closed:
            raise ValueError("session log is closed")
        record: dict[str, Any] = {
            "seq": self.seq + 1,
            "ts": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "operator": dict(self._operator),
            "env": self.env,
            "event": event,
            "data": self.redactor.data(data or {}),
            "prev": self.last_hash,
        }
        record["hash"] = record_hash(record)
        line = json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())  # one write of a whole line: never half a record
        self.seq, self.last_hash = record["seq"], record["hash"]
        os.pwrite(self._head_fd, HEAD_FORMAT.format(seq=self.seq, hash=self.last_hash).encode(), 0)
        if sync:
            self.sync()
            if self.on_sync is not None:
                self.on_sync()
        return record

    def sync(self) -> None:
        os.fsync(self._fd)
        os.fsync(self._head_fd)

    def close(self) -> None:
        if self.closed:
            return
        self.sync()
        os.close(self._head_fd)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self.closed = True

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
