"""The emulator's log book: every container's log, generated lazily and reproducibly.

Nothing is stored per line. Time is cut into 60-second buckets; a bucket's lines come
from an RNG seeded with the container instance and the bucket number, so any window —
``--since=24h``, ``--tail=20``, the next second of ``-f`` — is produced on demand and the
same window always reads the same. Volume stays bounded by density tiers around the
book's *anchor* (the moment the book was created, i.e. when the emulator started
serving logs): a line about every 5 minutes in history older than a day, every ~30 s
in the last day before the anchor, and the live rate from an hour before the anchor on.
Like rotated kubelet logs, nothing older than a week before the anchor is kept.

Run-time knobs (for tests and the sandbox's scenarios):
- :func:`set_error_rate` — share of problem lines (errors, auth failures, slow queries)
  from now on; the past keeps the rate it was written with. :func:`set_log_mix` also
  weighs the kinds of problem (:class:`LogMix`): a bad release logs 5xx tracebacks, an
  exhausted pool connection timeouts, an intrusion authentication failures — each
  scenario its own, in proportion.
- :func:`append_log_line` — add a specific line to one container's log;
  :func:`remove_log_lines` — take back the appended lines carrying a marker.

State lives in ``cluster.extras["logs.book"]``; use :func:`log_book`.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import random
from dataclasses import dataclass
from typing import Any

from . import log_lines, pod_roles

EXTRAS_KEY = "logs.book"
BUCKET = 60.0
DEFAULT_ERROR_RATE = 0.02
LIVE_RATE = {pod_roles.MCP: 1.0, pod_roles.FALCO: 0.2, pod_roles.POSTGRES: 0.1,
             pod_roles.REDIS: 0.03, pod_roles.GENERIC: 0.05, pod_roles.BACKUP_JOB: 0.0}
MAX_EXTRA_LINES = 10_000
# like the kubelet's log rotation: what is older than this (before the anchor) is gone,
# which also bounds the work for a pod that has run for a year
RETENTION = 7 * 86400


@dataclass(frozen=True)
class Instance:
    """One run of one container: its log starts at ``start`` and, for a terminated run,
    stops at ``end`` with the termination ``reason`` (OOMKilled, Error, Completed)."""

    key: str  # namespace/pod/container
    seed: str
    role: str
    start: float
    end: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class LogMix:
    """The share of an MCP server's log entries that are problems (``rate``), and how
    the problems divide by kind (``weights``: kind of :data:`log_lines.MCP_PROBLEMS` ->
    weight; empty: the everyday mix). The other roles' logs follow ``rate`` only."""

    rate: float
    weights: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, rate: float, **weights: float) -> LogMix:
        unknown = set(weights) - set(log_lines.MCP_PROBLEMS)
        if unknown:
            raise ValueError(f"no problem kind {', '.join(sorted(unknown))}; one of "
                             f"{', '.join(log_lines.MCP_PROBLEMS)}")
        return cls(rate, tuple(sorted(weights.items())))

    def vector(self) -> tuple[float, ...] | None:
        """Weights in :data:`log_lines.MCP_PROBLEMS` order (None: everyday)."""
        if not self.weights:
            return None
        given = dict(self.weights)
        return tuple(float(given.get(kind, 0.0)) for kind in log_lines.MCP_PROBLEMS)


EVERYDAY = LogMix(DEFAULT_ERROR_RATE)


class LogBook:
    def __init__(self, anchor: float):
        self.anchor = anchor
        self._rates: list[tuple[float, LogMix]] = [(-math.inf, EVERYDAY)]
        self._extra: dict[str, list[tuple[float, str]]] = {}
        self._listeners: set[asyncio.Event] = set()

    def listener(self) -> asyncio.Event:
        """An event set whenever a line is appended (followers wake at once instead of
        at their next poll); discard it with :meth:`forget`."""
        event = asyncio.Event()
        self._listeners.add(event)
        return event

    def forget(self, event: asyncio.Event) -> None:
        self._listeners.discard(event)

    # ---- knobs -----------------------------------------------------------------------
    def set_error_rate(self, rate: float, since: float) -> None:
        self.set_mix(LogMix(rate), since)

    def set_mix(self, mix: LogMix, since: float) -> None:
        if not 0.0 <= mix.rate <= 1.0:
            raise ValueError("error rate must be between 0 and 1")
        self._rates = [r for r in self._rates if r[0] < since] + [(since, mix)]

    def mix(self, t: float) -> LogMix:
        index = bisect.bisect_right([r[0] for r in self._rates], t) - 1
        return self._rates[max(index, 0)][1]

    def error_rate(self, t: float) -> float:
        return self.mix(t).rate

    def remove(self, marker: str) -> int:
        """Forget every appended line containing ``marker`` (a scenario's undo)."""
        removed = 0
        for key, lines in self._extra.items():
            kept = [item for item in lines if marker not in item[1]]
            removed += len(lines) - len(kept)
            self._extra[key] = kept
        return removed

    def append(self, key: str, t: float, text: str) -> None:
        lines = self._extra.setdefault(key, [])
        for i, part in enumerate(text.splitlines() or [""]):
            bisect.insort(lines, (t + i * 1e-6, part))
        del lines[:-MAX_EXTRA_LINES]
        for event in self._listeners:
            event.set()

    # ---- generation ------------------------------------------------------------------
    def density(self, role: str, t: float) -> float:
        """Lines per emulated second at time ``t``."""
        live = LIVE_RATE.get(role, LIVE_RATE[pod_roles.GENERIC])
        age = self.anchor - t
        if age <= 3600:
            return live
        if age <= 86400:
            return min(live, 1 / 30)
        return min(live, 1 / 300)

    def bucket(self, inst: Instance, index: int) -> list[tuple[float, str]]:
        """The lines of ``inst`` in bucket ``index`` (absolute: ``index * 60`` seconds
        since the epoch), sorted by time."""
        t0 = index * BUCKET
        t1 = t0 + BUCKET
        rng = random.Random(f"{inst.seed}:{index}")
        expected = self.density(inst.role, t0) * BUCKET
        count = max(0, round(rng.gauss(expected, math.sqrt(expected)))) if expected >= 1 else (
            1 if rng.random() < expected else 0)
        times = sorted(t0 + rng.random() * BUCKET for _ in range(count))
        mix = self.mix(t0)
        weights = mix.vector()
        out: list[tuple[float, str]] = []
        for t in times:
            problem = rng.random() < mix.rate
            entry = log_lines.line(inst.role, rng, t, problem, weights)
            if inst.start + 3 <= t and (inst.end is None or t < inst.end - 25):
                out.extend((t, text) for text in entry)
        if t0 <= inst.start < t1:
            out.extend(log_lines.start_lines(inst.role, inst.start, inst.reason))
        if inst.end is not None and t0 <= inst.end < t1:
            out.extend(log_lines.end_lines(inst.role, inst.end, inst.reason or "Completed"))
        out.sort(key=lambda item: item[0])
        return out

    def lines(self, inst: Instance, t0: float, t1: float) -> list[tuple[float, str]]:
        """Every line of ``inst`` with ``t0 <= time < t1``, in order."""
        t0 = max(t0, inst.start, self.anchor - RETENTION)
        if inst.end is not None:
            t1 = min(t1, inst.end + 1e-6)
        if t1 <= t0:
            return []
        out: list[tuple[float, str]] = []
        for index in range(math.floor(t0 / BUCKET), math.floor(t1 / BUCKET) + 1):
            out.extend(item for item in self.bucket(inst, index) if t0 <= item[0] < t1)
        return self._merge_extra(inst, out, t0, t1)

    def tail(self, inst: Instance, t0: float, t1: float, count: int) -> list[tuple[float, str]]:
        """The last ``count`` lines of the window, walking buckets backwards so a small
        tail of a long life stays cheap."""
        t0 = max(t0, inst.start, self.anchor - RETENTION)
        if inst.end is not None:
            t1 = min(t1, inst.end + 1e-6)
        collected: list[tuple[float, str]] = []
        index = math.floor(t1 / BUCKET)
        while index >= math.floor(t0 / BUCKET) and len(collected) < count:
            items = [i for i in self.bucket(inst, index) if t0 <= i[0] < t1]
            collected = items + collected
            index -= 1
        start = max(t0, index * BUCKET + BUCKET) if len(collected) >= count else t0
        merged = self._merge_extra(inst, collected, start, t1)
        return merged[-count:] if count else []

    def _merge_extra(self, inst: Instance, out: list[tuple[float, str]], t0: float,
                     t1: float) -> list[tuple[float, str]]:
        extra = [i for i in self._extra.get(inst.key, ()) if t0 <= i[0] < t1]
        if not extra:
            return out
        return sorted(out + extra, key=lambda item: item[0])


def log_book(cluster: Any) -> LogBook:
    """The cluster's log book, anchored at the moment it is first asked for."""
    book = cluster.extras.get(EXTRAS_KEY)
    if book is None:
        book = cluster.extras[EXTRAS_KEY] = LogBook(anchor=cluster.clock.now())
    return book


def set_error_rate(cluster: Any, rate: float) -> None:
    """From now on, ``rate`` (0..1) of the generated entries are problems — errors,
    timeouts, auth failures, slow queries — e.g. 0.2 for the high-error-rate scenario."""
    log_book(cluster).set_error_rate(rate, since=cluster.clock.now())


def set_log_mix(cluster: Any, mix: LogMix) -> None:
    """From now on the problems are ``mix`` (a scenario's own proportions)."""
    log_book(cluster).set_mix(mix, since=cluster.clock.now())


def append_log_line(cluster: Any, namespace: str, pod: str, container: str, text: str,
                    at: float | None = None) -> None:
    """Add ``text`` (several lines allowed) to a container's log at ``at`` (now)."""
    log_book(cluster).append(f"{namespace}/{pod}/{container}",
                             cluster.clock.now() if at is None else at, text)


def remove_log_lines(cluster: Any, marker: str) -> int:
    """Forget the appended lines containing ``marker``, in every container's log."""
    return log_book(cluster).remove(marker)
