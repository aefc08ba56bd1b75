"""Pluggable exec handlers: who answers a command exec'd into which pod.

A handler is ``async def handler(ctx: ExecContext) -> int`` — it reads ``ctx.stdin``,
writes ``await ctx.stdout.write(...)`` / ``await ctx.stderr.write(...)`` and returns the
exit code. Handlers are chosen per pod: the most recently registered entry whose filters
all match wins, and the built-in default handler (``exec_default.py``) answers the rest.
That lets the sandbox point the database pods' ``psql``/``pg_dump``/``pg_restore`` at a
real PostgreSQL (see ``exec_subprocess.py``) while ``env`` in the same pod still works.

State lives in ``cluster.extras["exec.handlers"]`` (an :class:`ExecHandlerRegistry`);
use :func:`exec_handlers` / :func:`register_exec_handler` rather than the key.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

EXTRAS_KEY = "exec.handlers"
QUEUED_FRAMES = 16  # stdin frames received and not yet read by the handler

ExecHandler = Callable[["ExecContext"], Awaitable[int]]
PodPredicate = Callable[[dict[str, Any], str], bool]


class ExecInput:
    """The command's stdin: bytes from the client until EOF (v5 close signal, client
    gone, or stdin not requested at all)."""

    def __init__(self, enabled: bool = True):
        # bounded: a client sending faster than the command reads waits (the WebSocket
        # stops being read, TCP pushes back) instead of piling its data up here
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(QUEUED_FRAMES)
        self._buffer = bytearray()
        self._eof = False
        self._closed = False
        if not enabled:
            self.feed_eof()

    # ---- producer side (the protocol pump) --------------------------------------------
    async def feed(self, data: bytes) -> None:
        if not self._closed:
            await self._queue.put(data)

    def feed_eof(self) -> None:
        if not self._closed:
            self._closed = True
            if self._queue.full():  # the handler stopped reading: its EOF must still fit
                self._queue = _with_eof(self._queue)
            else:
                self._queue.put_nowait(None)

    # ---- consumer side (the handler) ---------------------------------------------------
    @property
    def at_eof(self) -> bool:
        return self._eof and not self._buffer

    async def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = await self._queue.get()
        if chunk is None:
            self._eof = True
            return False
        self._buffer += chunk
        return True

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (``-1``: everything until EOF); ``b""`` means EOF."""
        if n < 0:
            while await self._fill():
                pass
            data, self._buffer = bytes(self._buffer), bytearray()
            return data
        if not self._buffer:
            await self._fill()
        data, self._buffer = bytes(self._buffer[:n]), self._buffer[n:]
        return data

    async def readline(self) -> bytes:
        while b"\n" not in self._buffer and await self._fill():
            pass
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        data, self._buffer = bytes(self._buffer[:end]), self._buffer[end:]
        return data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        """The data as it came, frame by frame (no copy; what ``read`` left first)."""
        if self._buffer:
            data, self._buffer = bytes(self._buffer), bytearray()
            yield data
        while not self._eof:
            chunk = await self._queue.get()
            if chunk is None:
                self._eof = True
                return
            yield chunk


def _with_eof(queue: asyncio.Queue[bytes | None]) -> asyncio.Queue[bytes | None]:
    """An unbounded queue holding what ``queue`` holds, then EOF."""
    grown: asyncio.Queue[bytes | None] = asyncio.Queue()
    while not queue.empty():
        grown.put_nowait(queue.get_nowait())
    grown.put_nowait(None)
    return grown


class ExecOutput:
    """stdout or stderr of the command. ``write`` is a coroutine so that a fast producer
    waits for the WebSocket (back-pressure); see :class:`exec.OutputPump` for batching."""

    def __init__(self, sink: Callable[[bytes], Awaitable[None]] | None):
        self._sink = sink

    @property
    def enabled(self) -> bool:
        return self._sink is not None

    async def write(self, data: bytes | str) -> None:
        if self._sink is None or not data:
            return
        await self._sink(data.encode() if isinstance(data, str) else bytes(data))


@dataclass
class ExecContext:
    """Everything a handler gets: the command, the pod object, streams and the cluster."""

    command: list[str]
    pod: dict[str, Any]
    container: str
    stdin: ExecInput
    stdout: ExecOutput
    stderr: ExecOutput
    cluster: Any
    tty: bool = False
    terminal_size: dict[str, int] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return self.pod.get("metadata", {}).get("namespace", "")

    @property
    def pod_name(self) -> str:
        return self.pod.get("metadata", {}).get("name", "")

    @property
    def program(self) -> str:
        """The command's program name without its directory (``/usr/bin/psql`` -> psql)."""
        return os.path.basename(self.command[0]) if self.command else ""


@dataclass
class _Entry:
    handler: ExecHandler
    predicate: PodPredicate | None
    labels: Mapping[str, str] | None
    name_prefix: str | None
    namespace: str | None
    container: str | None
    commands: Collection[str] | None

    def matches(self, pod: dict[str, Any], container: str, program: str) -> bool:
        meta = pod.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name_prefix is not None and not meta.get("name", "").startswith(self.name_prefix):
            return False
        if self.labels:
            pod_labels = meta.get("labels") or {}
            if any(pod_labels.get(k) != v for k, v in self.labels.items()):
                return False
        if self.container is not None and container != self.container:
            return False
        if self.commands is not None and program not in self.commands:
            return False
        return self.predicate is None or bool(self.predicate(pod, container))


class ExecHandlerRegistry:
    """Ordered handler entries; the newest matching one answers."""

    def __init__(self, default: ExecHandler):
        self.default = default
        self._entries: list[_Entry] = []

    def register(
        self,
        handler: ExecHandler,
        *,
        predicate: PodPredicate | None = None,
        labels: Mapping[str, str] | None = None,
        name_prefix: str | None = None,
        namespace: str | None = None,
        container: str | None = None,
        commands: Collection[str] | None = None,
    ) -> Callable[[], None]:
        """Add a handler for the pods (and optionally programs) matching every filter
        given; returns a function that removes it again."""
        entry = _Entry(handler, predicate, labels, name_prefix, namespace, container,
                       frozenset(commands) if commands is not None else None)
        self._entries.append(entry)
        return lambda: self._entries.remove(entry) if entry in self._entries else None

    def resolve(self, pod: dict[str, Any], container: str, command: list[str]) -> ExecHandler:
        program = os.path.basename(command[0]) if command else ""
        for entry in reversed(self._entries):
            if entry.matches(pod, container, program):
                return entry.handler
        return self.default


def exec_handlers(cluster: Any) -> ExecHandlerRegistry:
    """The cluster's registry, created on first use with the built-in default handler."""
    registry = cluster.extras.get(EXTRAS_KEY)
    if registry is None:
        from .exec_default import default_handler

        registry = cluster.extras[EXTRAS_KEY] = ExecHandlerRegistry(default_handler)
    return registry


def register_exec_handler(cluster: Any, handler: ExecHandler, **filters: Any) -> Callable[[], None]:
    """Shorthand for ``exec_handlers(cluster).register(handler, **filters)``."""
    return exec_handlers(cluster).register(handler, **filters)
