"""What every snapshot shares: when it was taken and, if it could not be, why.

Snapshots are frozen so a widget, the health rules and the check command can all hold the
same object without anyone changing it under the others. A failed collection is still a
snapshot (``error`` set, figures empty), so a failure travels the same path as data and the
UI can keep showing the last good figures marked stale.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """Base of every collector's result."""

    collected_at: datetime = field(default_factory=utcnow)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def age_seconds(self, now: datetime | None = None) -> float:
        return max(0.0, ((now or utcnow()) - self.collected_at).total_seconds())

    @classmethod
    def failed(cls, error: str, **known: Any) -> Self:
        """A snapshot that says only why collection failed. Every snapshot field has a
        default (empty), so this works for every subclass."""
        return cls(error=error, **known)


def describe_error(exc: BaseException) -> str:
    """One line an operator can act on, without a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if getattr(exc, "self_describing", False):  # our own errors already read well
        return text or name
    cause = exc.__cause__
    if cause is not None and getattr(cause, "self_describing", False) and str(cause).strip():
        return describe_error(cause)  # ours says why a library's error happened
    if isinstance(exc, TimeoutError):
        return "timed out" + (f": {text}" if text else "")
    if isinstance(exc, ConnectionRefusedError) or "Connection refused" in text:
        return f"connection refused{': ' + text if text and 'refused' not in text else ''}"
    return f"{name}: {text}" if text else name


class Stopwatch:
    """Monotonic elapsed time, for latencies and rates that must not jump with the wall clock."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def ms(self) -> float:
        return (time.monotonic() - self.start) * 1000
