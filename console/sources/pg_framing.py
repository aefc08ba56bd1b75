"""A guard on what a PostgreSQL server sends: framing that no server sends ends the
connection with an error instead of freezing the event loop.

asyncpg (0.32) trusts each message's length field. A length below 4 (it counts itself),
which garbage on the socket easily gives, makes its parser loop forever inside the
Cython protocol: the event loop stops, no key is handled and no timeout can fire, so one
wrong address in a DSN (a port speaking another protocol) would freeze the console.

:func:`install` replaces ``asyncpg.protocol.Protocol``, the class asyncpg's ``connect``
instantiates for every connection, by a subclass that walks the frames of every chunk it
receives (a type byte, a 4-byte length, ``length - 4`` bytes of body; only the headers
are read) before asyncpg parses them. On a length below 4 it aborts the transport; the
query, or the connection attempt, then fails with asyncpg's
``ConnectionDoesNotExistError`` caused by :class:`ProtocolViolation`, which names the
bad header. Installed once per process; every asyncpg connection of the process is
guarded, which is the point.
"""

from __future__ import annotations

import struct
from typing import Any

import asyncpg.protocol

HEADER = 5  # type byte + int32 length
_LENGTH = struct.Struct("!i")


class ProtocolViolation(ConnectionError):
    """The server sent bytes that are not the PostgreSQL protocol."""

    self_describing = True  # describe_error shows it as it is, also as another's cause


class FrameWalker:
    """Follows message boundaries across chunks; reads only the 5-byte headers."""

    __slots__ = ("header", "skip")

    def __init__(self) -> None:
        self.header = b""  # the start of a header cut by the chunk's end
        self.skip = 0  # body bytes of the current message still to come

    def feed(self, data: bytes) -> str | None:
        """Walk ``data``; the first impossible header, described, or None."""
        if self.skip >= len(data):
            self.skip -= len(data)
            return None
        at = self.skip
        if self.header:  # a header cut in two: join its parts, then go on from its end
            data, at = self.header + data[at:], 0
            self.header = b""
        end = len(data)
        while at + HEADER <= end:
            (length,) = _LENGTH.unpack_from(data, at + 1)
            if length < 4:
                return _describe(data[at], length)
            at += 1 + length
        if at < end:
            self.header, self.skip = data[at:], 0
        else:
            self.skip = at - end
        return None


def _describe(kind: int, length: int) -> str:
    shown = chr(kind) if 0x20 < kind < 0x7F else f"0x{kind:02x}"
    return (f"the server does not speak PostgreSQL (a message of type {shown} with length "
            f"{length}, below 4): is the DSN's port a PostgreSQL server?")


class GuardedProtocol(asyncpg.protocol.Protocol):
    """asyncpg's protocol, its input checked by a :class:`FrameWalker` first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._frames = FrameWalker()
        self._violation: ProtocolViolation | None = None
        self._transport: Any = None  # asyncpg's own attribute is not visible from Python

    def connection_made(self, transport: Any) -> None:
        self._transport = transport
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._violation is not None:
            return
        problem = self._frames.feed(data)
        if problem is None:
            super().data_received(data)
            return
        self._violation = ProtocolViolation(problem)
        self._transport.abort()  # connection_lost follows, with this as its cause

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc or self._violation)


def install() -> None:
    """Make every asyncpg connection of this process use :class:`GuardedProtocol`."""
    if not issubclass(asyncpg.protocol.Protocol, GuardedProtocol):
        asyncpg.protocol.Protocol = GuardedProtocol
