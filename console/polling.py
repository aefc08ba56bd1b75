"""Polling as a chain: the next poll is armed only when the last one has finished.

A :class:`Poller` runs one collector in its own asyncio task. Each poll is bounded by
``timeout``; a poll that fails or times out becomes a failed snapshot, and the wait before
the next one doubles up to ``max_backoff`` until a poll succeeds again. Polls can never
overlap, because there is only ever one in flight. A ``gate`` (e.g. "is the panel on
screen?") is consulted before each poll; while it says no, nothing is collected.

The poller knows nothing about Textual: ``on_update`` receives a :class:`PollState`, and the
UI decides how to show it. Because collection is awaited in its own task and every call has
a timeout, a source that hangs costs that task time, never the UI's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from console.collectors.base import Snapshot, describe_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollState:
    """What a panel needs: the last good snapshot, the latest attempt, and the backoff."""

    name: str
    latest: Snapshot  # the latest attempt, good or failed
    last_good: Snapshot | None  # the newest snapshot without an error
    failures: int  # consecutive failed polls
    next_in: float  # seconds until the next poll

    @property
    def stale(self) -> bool:
        return self.latest.error is not None

    @property
    def error(self) -> str | None:
        return self.latest.error

    def stale_age(self) -> float | None:
        """Age of the data being shown, when it is stale."""
        if not self.stale or self.last_good is None:
            return None
        return self.last_good.age_seconds()


def backoff_delay(interval: float, failures: int, max_backoff: float) -> float:
    """interval after success; interval x 2^failures after failures, capped."""
    if failures <= 0:
        return interval
    return min(interval * (2 ** failures), max_backoff)


class Poller:
    def __init__(
        self,
        name: str,
        collect: Callable[[], Awaitable[Snapshot]],
        failed: Callable[[str], Snapshot],
        on_update: Callable[[PollState], None],
        *,
        interval: float = 2.0,
        timeout: float = 3.0,
        max_backoff: float = 30.0,
        gate: Callable[[], bool] | None = None,
        gate_check: float = 0.25,
    ) -> None:
        self.name = name
        self.collect = collect
        self.failed = failed
        self.on_update = on_update
        self.interval = interval
        self.timeout = timeout
        self.max_backoff = max_backoff
        self.gate = gate
        self.gate_check = gate_check
        self.failures = 0
        self.polls = 0
        self.in_flight = 0  # 0 or 1; tests and benchmarks check polls never overlap
        self.max_in_flight = 0
        self.update_errors = 0  # on_update calls that raised (logged, polling went on)
        self.last_good: Snapshot | None = None
        self.state: PollState | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._run(), name=f"poller {self.name}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def poll_now(self) -> None:
        """Cut the current wait short (the operator pressed refresh)."""
        self._wake.set()

    async def poll_once(self) -> PollState:
        """One bounded collection; updates the state and calls ``on_update``."""
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        started = time.monotonic()
        try:
            snap = await asyncio.wait_for(self.collect(), self.timeout)
        except TimeoutError:
            snap = self.failed(f"timed out after {self.timeout:g} s")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a collector bug must not end the chain
            snap = self.failed(describe_error(exc))
        finally:
            self.in_flight -= 1
        self.polls += 1
        if snap.error is None:
            self.failures, self.last_good = 0, snap
        else:
            self.failures += 1
        delay = backoff_delay(self.interval, self.failures, self.max_backoff)
        delay = max(0.0, delay - (time.monotonic() - started) if snap.error is None else delay)
        self.state = PollState(self.name, snap, self.last_good, self.failures, delay)
        try:
            self.on_update(self.state)
        except Exception:  # noqa: BLE001 - a display bug must not stop the data coming
            self.update_errors += 1
            log.exception("poller %s: on_update failed; polling goes on", self.name)
        return self.state

    async def _sleep(self, seconds: float) -> None:
        """Wait ``seconds`` or until :meth:`poll_now`. The request is cleared only once it
        has woken a wait: a refresh pressed while a (slow) poll runs is kept and starts the
        next poll as soon as this one is done, not an interval later."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _run(self) -> None:
        while True:
            while self.gate is not None and not self.gate():
                await self._sleep(self.gate_check)
            state = await self.poll_once()
            await self._sleep(state.next_in)
