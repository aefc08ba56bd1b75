"""A TCP proxy that counts what a client asks of a server: round trips (each burst of
bytes the client sends after the server last spoke) and, for Redis, commands (RESP arrays
parsed from the client's bytes). It runs on a loop of its own in a thread, so the client
measured can be in this process or another."""

from __future__ import annotations

import asyncio
import contextlib
import threading


class CountingProxy:
    def __init__(self, target_port: int, *, resp: bool = False) -> None:
        self.target_port = target_port
        self.resp = resp
        self.port = 0
        self.round_trips = 0
        self.commands = 0
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._client, "127.0.0.1", 0), self.loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            for w in self._writers:
                w.close()
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def reset(self) -> None:
        self.round_trips = self.commands = 0

    async def _client(self, reader, writer) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        state = {"server_spoke": True, "buffer": b""}
        await asyncio.gather(self._up(reader, up_writer, state),
                             self._down(up_reader, writer, state), return_exceptions=True)

    async def _up(self, reader, writer, state) -> None:
        while data := await reader.read(65536):
            if state["server_spoke"]:
                self.round_trips += 1
                state["server_spoke"] = False
            if self.resp:
                state["buffer"] = self._count_commands(state["buffer"] + data)
            writer.write(data)
            await writer.drain()
        writer.close()

    async def _down(self, reader, writer, state) -> None:
        while data := await reader.read(65536):
            state["server_spoke"] = True
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(Exception):
            writer.close()

    def _count_commands(self, buf: bytes) -> bytes:
        """Counts the complete RESP arrays in ``buf``; returns the incomplete rest."""
        while True:
            end = _array_end(buf)
            if end is None:
                return buf
            self.commands += 1
            buf = buf[end:]


def _array_end(buf: bytes) -> int | None:
    if not buf.startswith(b"*"):
        line = buf.find(b"\r\n")  # an inline command
        return None if line < 0 else line + 2
    line = buf.find(b"\r\n")
    if line < 0:
        return None
    count, pos = int(buf[1:line]), line + 2
    for _ in range(count):
        line = buf.find(b"\r\n", pos)
        if line < 0:
            return None
        size = int(buf[pos + 1:line])
        pos = line + 2 + size + 2
        if pos > len(buf):
            return None
    return pos


class HungServer:
    """Accepts connections and never answers (a frozen host), on a loop in a thread."""

    def __init__(self) -> None:
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._held: list[asyncio.StreamWriter] = []
        self._server: asyncio.AbstractServer | None = None

    async def _accept(self, reader, writer) -> None:
        self._held.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()

    def __enter__(self) -> HungServer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self.loop).result()
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc) -> None:
        async def stop():
            for w in self._held:
                w.close()
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
