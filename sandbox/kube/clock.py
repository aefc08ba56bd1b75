"""A clock the emulator's controllers run on, which tests can speed up.

``Clock(speed=20)`` makes a controller's ``await clock.sleep(10)`` take half a second of
real time, and advances :meth:`now` twenty times faster than the wall clock, so ages,
timestamps and durations stay consistent with each other.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

# what a sandbox's ``--speed`` may be: its controllers run up to 20 times faster than the
# wall clock (rehearse a 40-minute drain in 2), never slower
MIN_SPEED, MAX_SPEED = 1.0, 20.0


def check_sandbox_speed(speed: float) -> float:
    """``speed`` if a sandbox may run at it, else ValueError saying the range."""
    if not MIN_SPEED <= speed <= MAX_SPEED:  # nan fails too
        raise ValueError(f"--speed must be between {MIN_SPEED:g} and {MAX_SPEED:g} "
                         f"(got {speed:g})")
    return speed


class Clock:
    def __init__(self, speed: float = 1.0):
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self._speed = speed
        self._wall0 = time.time()
        self._mono0 = time.monotonic()
        self._offset = 0.0  # seconds added by advance()

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        if value <= 0:
            raise ValueError("clock speed must be positive")
        # re-anchor so now() stays continuous across a change of speed
        now = self.now()
        self._wall0, self._mono0, self._offset = now, time.monotonic(), 0.0
        self._speed = value

    def now(self) -> float:
        """Emulated seconds since the epoch."""
        return self._wall0 + (time.monotonic() - self._mono0) * self._speed + self._offset

    def advance(self, seconds: float) -> None:
        """Jump emulated time forward (sleeps already running are not shortened)."""
        self._offset += seconds

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def timestamp(self, at: float | None = None) -> str:
        """RFC 3339 in whole seconds, as Kubernetes serialises metav1.Time."""
        when = datetime.fromtimestamp(self.now() if at is None else at, UTC)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` of emulated time."""
        await asyncio.sleep(max(0.0, seconds) / self._speed)
