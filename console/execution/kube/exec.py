"""``kubectl exec -i POD -- COMMAND < data``: a command in a pod, stdin streamed, output live.

kubernetes-asyncio's ``WsApiClient`` opens the exec WebSocket; the channel frames are read
and written here because a restore needs what its preloading mode cannot give: stdin fed
from a stream (an S3 object, chunk by chunk, with progress) and then *closed*, so that
``pg_restore`` reading stdin sees the end of the archive. Closing stdin exists only in the
``v5.channel.k8s.io`` protocol (Kubernetes 1.30+); against an older API server a command
that needs stdin is refused with that reason instead of hanging forever. Output comes back
as lines (stdout and stderr kept apart) while the command runs; the exit code is read from
the status on channel 3, as kubectl does.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.stream import WsApiClient

if TYPE_CHECKING:
    from .api import KubeApi

STDIN, STDOUT, STDERR, ERROR = 0, 1, 2, 3
CLOSE = 255
STDIN_PREFIX = bytes([STDIN])
READ_AHEAD = 8  # chunks of stdin read from the source ahead of the socket
V5, V4 = "v5.channel.k8s.io", "v4.channel.k8s.io"


@dataclass(frozen=True)
class ExecTarget:
    """A command to exec in a pod, as the reader (read commands only) or the writer (any
    command) made it; :meth:`websocket` opens the exec connection with the environment's
    credentials."""

    namespace: str
    pod: str
    command: tuple[str, ...]
    container: str | None = None
    _api: KubeApi | None = field(default=None, repr=False, compare=False)

    async def websocket(self) -> WsApiClient:
        if self._api is None:
            raise ExecError("this exec target has no connection (make it with the reader or "
                            "the writer)")
        return WsApiClient(configuration=(await self._api.client()).configuration)


class ExecError(Exception):
    """The command could not be run in the pod (not an exit code: no pod, no container,
    a refused WebSocket, an API server without stdin close)."""


@dataclass(frozen=True)
class ExecLine:
    stream: str  # stdout | stderr
    text: str


@dataclass(frozen=True)
class ExecSent:
    """Bytes of stdin written so far."""

    sent: int


def exit_code(status: dict[str, Any]) -> int:
    """The command's exit code from the metav1.Status on channel 3."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == "ExitCode":
                return int(cause.get("message", 1))
    raise ExecError(status.get("message") or json.dumps(status))


def negotiated(ws: Any) -> str | None:
    """The subprotocol the server chose. aiohttp records it only when the client passed
    ``protocols=``, which WsApiClient does not (it sends the header itself), so it is read
    from the handshake response."""
    if ws.protocol:
        return ws.protocol
    response = getattr(ws, "_response", None)
    return response.headers.get("Sec-WebSocket-Protocol") if response is not None else None


class _Lines:
    """Bytes of one stream in, whole lines out (a character split across frames is kept)."""

    def __init__(self, stream: str):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buffer = ""

    def feed(self, data: bytes) -> list[ExecLine]:
        self.buffer += self.decoder.decode(data)
        *done, self.buffer = self.buffer.split("\n")
        return [ExecLine(self.stream, line.rstrip("\r")) for line in done]

    def flush(self) -> list[ExecLine]:
        rest, self.buffer = self.buffer + self.decoder.decode(b"", final=True), ""
        return [ExecLine(self.stream, rest)] if rest else []


class PodExec:
    """One command in one pod. Iterate it for :class:`ExecLine` (and :class:`ExecSent` when
    there is stdin); afterwards ``code`` is the exit code.

    It runs an :class:`ExecTarget`, which only the engine's reader (reading commands) or a
    granted step's writer (any command) makes: a read step cannot exec what it likes."""

    def __init__(self, target: ExecTarget, *, stdin: AsyncIterator[bytes] | None = None):
        self.target = target
        self.namespace, self.pod = target.namespace, target.pod
        self.command, self.container = list(target.command), target.container
        self.stdin = stdin
        self.code: int | None = None
        self.sent = 0
        self._ahead: _ReadAhead | None = None

    def __aiter__(self) -> AsyncIterator[ExecLine | ExecSent]:
        return self._run()

    async def _run(self) -> AsyncIterator[ExecLine | ExecSent]:
        # stdin's first chunks download while the connection opens and the command starts
        self._ahead = _ReadAhead(self.stdin) if self.stdin is not None else None
        try:
            async for item in self._connected():
                yield item
        finally:
            if self._ahead is not None:
                await self._ahead.stop()

    async def _connected(self) -> AsyncIterator[ExecLine | ExecSent]:
        async with await self.target.websocket() as ws_api:
            kwargs: dict[str, Any] = {"command": self.command, "stdin": self.stdin is not None,
                                      "stdout": True, "stderr": True, "tty": False,
                                      "_preload_content": False,
                                      "_headers": {"sec-websocket-protocol": f"{V5},{V4}"}}
            if self.container:
                kwargs["container"] = self.container
            try:
                # with _preload_content off, WsApiClient answers the WebSocket to enter
                # (its generated signature says str)
                connecting: Any = await k8s.CoreV1Api(api_client=ws_api) \
                    .connect_get_namespaced_pod_exec(self.pod, self.namespace, **kwargs)
                async with connecting as ws:
                    async for item in self._session(ws):
                        yield item
            except ExecError:
                raise
            except Exception as exc:  # aiohttp handshake errors carry the HTTP status
                status = getattr(exc, "status", None)
                raise ExecError(f"exec in pod {self.pod} failed"
                                f"{f' (HTTP {status})' if status else ''}: {exc}") from exc

    async def _session(self, ws: Any) -> AsyncIterator[ExecLine | ExecSent]:
        protocol = negotiated(ws)
        if self.stdin is not None and protocol != V5:
            raise ExecError(f"the API server speaks {protocol or 'no exec protocol'}, not "
                            f"{V5}: it cannot close stdin (Kubernetes < 1.30); copy the file "
                            "into the pod instead")
        queue: asyncio.Queue[ExecSent | None] = asyncio.Queue()
        feeder = asyncio.create_task(self._feed(ws, queue)) if self.stdin is not None else None
        streams = {STDOUT: _Lines("stdout"), STDERR: _Lines("stderr")}
        status: dict[str, Any] | None = None
        receive = asyncio.ensure_future(ws.receive())
        waiting_sent = asyncio.ensure_future(queue.get()) if feeder else None
        try:
            while True:
                pending = {receive} | ({waiting_sent} if waiting_sent else set())
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if waiting_sent is not None and waiting_sent in done:
                    item = waiting_sent.result()
                    waiting_sent = asyncio.ensure_future(queue.get()) if item else None
                    if item:
                        yield item
                    elif feeder is not None and feeder.done() and feeder.exception() \
                            and status is None:
                        raise ExecError(f"reading the data for stdin failed: "
                                        f"{feeder.exception()}")
                if receive not in done:
                    continue
                message = receive.result()
                data = message.data
                if not isinstance(data, (bytes, bytearray)):
                    break  # close / error: the command is over
                receive = asyncio.ensure_future(ws.receive())
                if not data:
                    continue
                channel, payload = data[0], bytes(data[1:])
                if channel in streams:
                    for line in streams[channel].feed(payload):
                        yield line
                elif channel == ERROR and payload:
                    status = json.loads(payload)
            for lines in streams.values():
                for line in lines.flush():
                    yield line
        finally:
            for task in (receive, waiting_sent, feeder):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task
        if status is None:
            raise ExecError(f"the exec connection to pod {self.pod} closed without a status")
        # a command that ends early (a corrupt archive) closes the socket under the sender:
        # its exit code, not the broken pipe, is what the operator needs
        self.code = exit_code(status)

    async def _feed(self, ws: Any, queue: asyncio.Queue[ExecSent | None]) -> None:
        """Copy stdin into the socket, then close it. A send that fails means the command
        has gone (its status says why); a failing *source* is raised."""
        ahead = self._ahead
        assert ahead is not None
        try:
            while (chunk := await ahead.chunks.get()) is not None:
                try:
                    await ws.send_bytes(STDIN_PREFIX + chunk)
                except (ConnectionError, RuntimeError):
                    return
                self.sent += len(chunk)
                queue.put_nowait(ExecSent(self.sent))
            await ahead.task  # the source's own failure, if it had one
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_bytes(bytes([CLOSE, STDIN]))
        finally:
            await ahead.stop()
            queue.put_nowait(None)


class _ReadAhead:
    """The source of stdin, read by a task of its own at most ``READ_AHEAD`` chunks ahead
    of the socket: downloading the next chunk overlaps sending this one."""

    def __init__(self, source: AsyncIterator[bytes]):
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue(READ_AHEAD)
        self.task = asyncio.create_task(_read_ahead(source, self.chunks))

    async def stop(self) -> None:
        """Cancel the reading if it still runs (its failure, if any, is the sender's)."""
        if not self.task.done():
            self.task.cancel()
        with contextlib.suppress(BaseException):
            await self.task


async def _read_ahead(source: AsyncIterator[bytes], ahead: asyncio.Queue[bytes | None]) -> None:
    """Put the source's non-empty chunks into ``ahead``, then None — also when the source
    fails, whose exception stays with this task for the sender to raise."""
    try:
        async for chunk in source:
            if chunk:
                await ahead.put(chunk)
    except asyncio.CancelledError:
        raise  # the sender has gone
    except BaseException:
        await ahead.put(None)
        raise
    await ahead.put(None)


async def run_in_pod(target: ExecTarget) -> tuple[int, list[ExecLine]]:
    """Run a short command to the end: (exit code, its output lines)."""
    execution = PodExec(target)
    lines = [item async for item in execution if isinstance(item, ExecLine)]
    return execution.code if execution.code is not None else -1, lines
