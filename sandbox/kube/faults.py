"""Faults injected into the API server at run time, per request path.

A rehearsal needs an API server that is slow, failing, hanging or dropping connections on
exactly the calls a wizard makes, so the console's timeouts, retries and stale-data
markers can be seen working. Tests and the sandbox add faults with :meth:`Faults.add`
(or over HTTP at ``/_emulator/faults``); the server's middleware consults
:meth:`Faults.match` before every request. Pod- and node-level faults (crash loops,
OOMKilled, NotReady) are object state, set through the store by the controllers.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
from dataclasses import asdict, dataclass, field

_ids = itertools.count(1)

REASONS = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    409: "Conflict", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}


@dataclass
class Fault:
    """What happens to requests whose path matches ``path`` (a prefix, or a glob when it
    contains ``*``) and, if given, whose method is ``method``.

    ``latency`` seconds are added first; then ``status`` answers with an error Status,
    ``hang`` never answers (until the client gives up or the fault is cleared), ``drop``
    closes the connection without a response. ``times`` limits how many requests are hit.
    """

    path: str
    method: str | None = None
    latency: float = 0.0
    status: int | None = None
    message: str | None = None
    hang: bool = False
    drop: bool = False
    times: int | None = None
    id: int = field(default_factory=lambda: next(_ids))
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if "*" in self.path:
            return fnmatch.fnmatchcase(path, self.path)
        return path.startswith(self.path)

    def status_body(self) -> dict:
        code = self.status or 500
        return {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message or f"injected fault: {REASONS.get(code, 'error')}",
            "reason": REASONS.get(code, "InternalError"), "code": code,
        }

    def describe(self) -> dict:
        return asdict(self)


class Faults:
    """The set of active faults of one API server."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self.released = asyncio.Event()  # set to free every hanging request

    def add(self, path: str, **kw) -> Fault:
        fault = Fault(path=path, **kw)
        self._faults.append(fault)
        self.released.clear()
        return fault

    def remove(self, fault_id: int) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        if not any(f.hang for f in self._faults):
            self.released.set()
        return len(self._faults) != before

    def clear(self) -> None:
        self._faults.clear()
        self.released.set()

    def list(self) -> list[Fault]:
        return list(self._faults)

    def match(self, method: str, path: str) -> Fault | None:
        """The first fault for this request, counting the hit (and retiring faults whose
        ``times`` are used up)."""
        for fault in self._faults:
            if fault.matches(method, path):
                fault.hits += 1
                if fault.times is not None and fault.hits >= fault.times:
                    self._faults.remove(fault)
                return fault
        return None

    async def hang(self, is_gone) -> None:
        """Wait until the faults are cleared or ``is_gone()`` says the client left."""
        while not self.released.is_set() and not is_gone():
            try:
                await asyncio.wait_for(self.released.wait(), 0.2)
            except TimeoutError:
                pass
