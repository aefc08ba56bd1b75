"""One TCP fault proxy for every source of the fault matrix.

:class:`FaultProxy` sits between the console and a real server (PostgreSQL, Redis, the
Kubernetes emulator, moto, the service, Prometheus) and misbehaves on command, at run time,
for new connections and for the ones already open (pooled connections, watch streams):

* ``pass``    forwards both ways, untouched;
* ``refuse``  stops listening and resets every open connection (a host whose service died:
              the kernel answers a new connection with a reset, "connection refused");
* ``hang``    accepts and never answers; open connections stop forwarding either way (a
              frozen host); leaving it, the held bytes flow again;
* ``slow``    every chunk of an answer is delayed by ``slow_seconds`` (2 s);
* ``error``   the server's answer is replaced by the protocol's own error reply (HTTP 503,
              PostgreSQL's FATAL "too many clients", Redis ``-ERR``), then the connection is
              closed, as the server would;
* ``drop``    half of the next chunk of an answer is sent, then the connection is reset
              (dropped in the middle of a response);
* ``garbage`` every answer is replaced by bytes that are no protocol at all.

The proxy listens on port 0 and keeps the port the kernel gave it, also across ``refuse``
(it listens again on the same port when the mode changes back).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

MODES = ("pass", "refuse", "hang", "slow", "error", "drop", "garbage")
GARBAGE = b"\x00\xff\xfe\x1b[2J garbage \x07\x80\x81" * 6


def http_error(status: int = 503, reason: str = "Service Unavailable") -> bytes:
    body = f"fault injected: {status} {reason}\n".encode()
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def postgres_error(message: str = "sorry, too many clients already",
                   code: str = "53300") -> bytes:
    """A PostgreSQL ErrorResponse message, severity FATAL."""
    fields = b"".join(tag + value.encode() + b"\0" for tag, value in (
        (b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)))
    fields += b"\0"
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


REDIS_ERROR = b"-ERR fault injected: max number of clients reached\r\n"


class _Link:
    """One client connection and, once made, its upstream connection."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.upstream: asyncio.StreamWriter | None = None

    def abort(self) -> None:
        for w in (self.client, self.upstream):
            if w is not None:
                with contextlib.suppress(Exception):
                    w.transport.abort()


class FaultProxy:
    def __init__(self, target_port: int, *, error_reply: bytes = b"",
                 slow_seconds: float = 2.0, target_host: str = "127.0.0.1") -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.error_reply = error_reply
        self.slow_seconds = slow_seconds
        self.mode = "pass"
        self.port = 0
        self.connections = 0  # accepted so far
        self._server: asyncio.AbstractServer | None = None
        self._links: set[_Link] = set()
        self._changed = asyncio.Event()

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> FaultProxy:
        await self._listen()
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()

    async def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; known: {', '.join(MODES)}")
        previous, self.mode = self.mode, mode
        if mode == "refuse":
            await self._unlisten()
            for link in list(self._links):
                link.abort()
        elif previous == "refuse":
            await self._listen()
        if previous == "hang":  # connections accepted while hung never reached the server
            for link in list(self._links):
                if link.upstream is None:
                    link.abort()
        self._changed.set()
        self._changed = asyncio.Event()

    async def stop(self) -> None:
        await self._unlisten()
        for link in list(self._links):
            link.abort()

    # ---- one connection ------------------------------------------------------------------
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        link = _Link(writer)
        self._links.add(link)
        try:
            if self.mode == "hang":  # take what is sent, answer nothing, until the client
                with contextlib.suppress(Exception):  # gives up or the hang ends (reset)
                    while await reader.read(65536):
                        pass
                return
            try:
                up_reader, link.upstream = await asyncio.open_connection(
                    self.target_host, self.target_port)
            except OSError:
                link.abort()
                return
            await asyncio.gather(self._requests(reader, link), self._answers(up_reader, link),
                                 return_exceptions=True)
        finally:
            self._links.discard(link)
            link.abort()

    async def _hold_while_hung(self) -> None:
        while self.mode == "hang":
            await self._changed.wait()

    async def _requests(self, reader: asyncio.StreamReader, link: _Link) -> None:
        """Client to server: forwarded as is (held while hung)."""
        assert link.upstream is not None
        while data := await reader.read(65536):
            await self._hold_while_hung()
            link.upstream.write(data)
            await link.upstream.drain()
        link.upstream.close()

    async def _answers(self, reader: asyncio.StreamReader, link: _Link) -> None:
        """Server to client: where the faults are."""
        out = link.client
        while data := await reader.read(65536):
            await self._hold_while_hung()
            mode = self.mode
            if mode == "slow":
                await asyncio.sleep(self.slow_seconds)
            elif mode == "error":
                out.write(self.error_reply or GARBAGE)
                with contextlib.suppress(Exception):
                    await out.drain()
                out.close()
                link.upstream.close() if link.upstream else None
                return
            elif mode == "drop":
                out.write(data[: len(data) // 2])
                with contextlib.suppress(Exception):
                    await out.drain()
                link.abort()
                return
            elif mode == "garbage":
                data = GARBAGE
            elif mode == "refuse":
                link.abort()
                return
            out.write(data)
            await out.drain()
        out.close()
