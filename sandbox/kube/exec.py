"""``/api/v1/namespaces/{ns}/pods/{name}/exec`` over a WebSocket.

The API server's router calls :func:`handle_exec` (GET or POST) after authorisation. It
checks the pod and container like the real server, upgrades to a WebSocket speaking the
Kubernetes channel protocol (``exec_protocol.py``: v5 for kubectl >= 1.30, v4 for
kubernetes-asyncio's ``WsApiClient``), runs the handler the registry picks for this pod
(``exec_handlers.py``), streams its output as frames, and ends with the exit status on
channel 3 and a normal close — which is when kubectl exits with the remote exit code.

Only WebSockets are spoken. kubectl 1.27-1.29 use SPDY/3.1 for exec (1.29 only switches
with ``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true``; 1.30+ try WebSockets first and fall back
to SPDY when the upgrade fails), so a SPDY attempt gets a 400 Status saying so.

State kept in ``cluster.extras`` by exec and logs, each behind its accessors:
- ``"exec.handlers"``: :func:`exec_handlers.exec_handlers` / ``register_exec_handler``
  (handlers per pod; ``exec_subprocess.postgres_client_handler`` for real psql/pg_dump);
- ``"exec.health_failures"``: ``mcp_endpoints.set_check_failure`` (what curl sees);
- ``"logs.book"``: ``log_book.log_book`` / ``set_error_rate`` / ``append_log_line``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from .exec_handlers import ExecContext, ExecInput, ExecOutput, exec_handlers
from .exec_protocol import (
    MAX_FRAME_PAYLOAD,
    STDERR,
    STDOUT,
    SUPPORTED_PROTOCOLS,
    ChannelSession,
)
from .pod_containers import bad_request, require_running, select_container
from .store import ApiError

log = logging.getLogger(__name__)

SPDY_MESSAGE = (
    "this emulated API server speaks the remote-command protocol only over WebSockets "
    "(v5.channel.k8s.io / v4.channel.k8s.io), not SPDY/3.1: use kubectl 1.30 or newer, or "
    "kubectl 1.29 with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true"
)


def _flag(request: web.Request, key: str, default: bool = False) -> bool:
    value = request.query.get(key)
    return default if value is None else value.lower() in ("true", "1", "yes")


def _incomplete_utf8_tail(buf: bytearray) -> int:
    """How many bytes at the end of ``buf`` start a UTF-8 character not yet complete."""
    for back in range(1, min(4, len(buf)) + 1):
        byte = buf[-back]
        if byte & 0xC0 == 0x80:
            continue
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return back if need > back else 0
    return 0


class OutputPump:
    """Batches a handler's writes on one channel into frames.

    Writes are buffered and flushed as soon as the handler yields to the event loop, or
    at once when 32 KiB are waiting, so a slow producer's lines show up promptly and a
    fast one's 100,000 lines travel in a few hundred frames. A lock keeps frames of all
    channels in write order; ``await write`` waits for the socket when it is full."""

    def __init__(self, session: ChannelSession, channel: int, lock: asyncio.Lock):
        self.session, self.channel, self.lock = session, channel, lock
        self.buffer = bytearray()
        self._soon: asyncio.Task | None = None

    async def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= MAX_FRAME_PAYLOAD:
            await self.flush()
        elif self._soon is None:
            self._soon = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(0)
        self._soon = None
        await self.flush()

    async def flush(self, final: bool = False) -> None:
        async with self.lock:
            keep = 0 if final else _incomplete_utf8_tail(self.buffer)
            if len(self.buffer) - keep <= 0:
                return
            data = bytes(self.buffer[: len(self.buffer) - keep])
            del self.buffer[: len(data)]
            await self.session.send(self.channel, data)

    async def close(self) -> None:
        if self._soon is not None:
            self._soon.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._soon
            self._soon = None
        await self.flush(final=True)


def _validate(request: web.Request, cluster, namespace: str, name: str):
    pod = cluster.store.get("pods", namespace, name)
    command = request.query.getall("command", [])
    if not command:
        raise bad_request("you must specify at least one command for the container")
    container = select_container(pod, request.query.get("container"))
    require_running(pod, container)
    streams = {k: _flag(request, k) for k in ("stdin", "stdout", "stderr", "tty")}
    if not (streams["stdin"] or streams["stdout"] or streams["stderr"]):
        raise bad_request("you must specify at least 1 of stdin, stdout, stderr")
    return pod, command, container, streams


async def handle_exec(request: web.Request, cluster, namespace: str, name: str) -> web.StreamResponse:
    try:
        pod, command, container, streams = _validate(request, cluster, namespace, name)
    except ApiError as err:
        return web.json_response(err.status(), status=err.code)
    if request.headers.get("Upgrade", "").lower().startswith("spdy"):
        err = bad_request(SPDY_MESSAGE)
        return web.json_response(err.status(), status=err.code)
    ws = web.WebSocketResponse(protocols=SUPPORTED_PROTOCOLS, compress=False, autoping=True)
    if not ws.can_prepare(request).ok:
        err = bad_request("Upgrade request required")
        return web.json_response(err.status(), status=err.code)
    await ws.prepare(request)
    try:
        await _run_session(ws, cluster, pod, command, container, streams)
    finally:
        if not ws.closed:
            await ws.close()
    return ws


async def _run_session(ws, cluster, pod, command, container, streams) -> None:
    session = ChannelSession(ws)
    lock = asyncio.Lock()
    out = OutputPump(session, STDOUT, lock) if streams["stdout"] else None
    # with a TTY there is no separate stderr: it is merged into stdout, as in a terminal
    err = out if streams["tty"] else (OutputPump(session, STDERR, lock) if streams["stderr"] else None)
    stdin = ExecInput(enabled=streams["stdin"])
    ctx = ExecContext(command=list(command), pod=pod, container=container, stdin=stdin,
                      stdout=ExecOutput(out.write if out else None),
                      stderr=ExecOutput(err.write if err else None), cluster=cluster,
                      tty=streams["tty"])
    # the kubelet's "streams are ready" signal: an empty frame on the first output channel
    await session.send(STDOUT if out else STDERR if err else 3, b"")
    handler = exec_handlers(cluster).resolve(pod, container, ctx.command)
    run = asyncio.create_task(handler(ctx))
    pump = asyncio.create_task(session.pump_input(stdin.feed, stdin.feed_eof,
                                                  lambda size: ctx.terminal_size.update(size)))
    await asyncio.wait({run, pump}, return_when=asyncio.FIRST_COMPLETED)
    if not run.done():  # the client went away before the command finished
        run.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await run
        return
    try:
        for pump_out in {p for p in (out, err) if p is not None}:
            await pump_out.close()
        if run.exception() is not None:
            log.warning("exec handler for %s failed", command, exc_info=run.exception())
            await session.send_internal_error(f"error executing command in container: {run.exception()}")
        else:
            await session.send_exit(command, int(run.result() or 0) & 0xFF)
    except (ConnectionResetError, RuntimeError):
        pass  # the client is gone; nothing left to tell it
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
