"""Waiting for something to become true, for tests that run on a shared, loaded machine.

A test that checks "X happened" waits for X instead of sleeping a fixed time and hoping:
on two busy cores a fixed pause is sometimes too short (a flaky failure) and always too
long (a slow pass). :func:`until` polls a condition against one generous deadline,
:data:`DEFAULT_TIMEOUT`; a passing run returns as soon as the condition holds, so the
deadline only costs time when something is really wrong.

A test that checks "X did NOT happen" cannot wait for it; it must first wait for proof
that the thing which would have done X has run (a witness object handled, a counter moved),
then look. These helpers serve the first half of that.

Import with ``from waiting import until`` (``tests/`` is on ``sys.path`` via its conftest).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 40.0  # seconds; long enough for a loaded CI machine, never reached on a pass


def _describe(what: str | Callable[[], str]) -> str:
    return what() if callable(what) else what


async def until(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, *,
                interval: float = 0.02, what: str | Callable[[], str] = "condition",
                sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> Any:
    """Call ``predicate`` (plain or async) until it returns something truthy, and return
    that. Raises AssertionError naming ``what`` (a text, or a callable giving one at failure
    time) and the last value seen. ``sleep`` lets a Textual pilot's ``pause`` drive the
    wait, so the app processes its messages in between."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{_describe(what)} not met within {timeout:g} s; "
                                 f"last value {value!r}")
        await sleep(interval)


def until_sync(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, *,
               interval: float = 0.05, what: str | Callable[[], str] = "condition") -> Any:
    """:func:`until` for synchronous tests."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{_describe(what)} not met within {timeout:g} s; "
                                 f"last value {value!r}")
        time.sleep(interval)


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended. A zombie (ended, not yet reaped by its parent,
    state ``Z`` in /proc) counts as gone: ``os.kill(pid, 0)`` still succeeds on one, and a
    grandchild orphaned by a killed parent may stay a zombie until init gets to it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    # the state follows the parenthesised command name, which may itself hold spaces
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")
