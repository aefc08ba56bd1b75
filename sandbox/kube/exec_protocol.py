"""The Kubernetes remote-command channel protocol over a WebSocket, server side.

Kubernetes multiplexes a command's streams over one WebSocket: every message starts with
a channel byte — 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize — followed by
the payload. The subprotocol names what goes on channel 3 when the command ends:

- ``v4.channel.k8s.io`` / ``v5.channel.k8s.io`` (kubernetes-asyncio sends v4, kubectl
  1.30+ sends only v5): a JSON ``metav1.Status``; a non-zero exit code travels as
  ``reason: NonZeroExitCode`` with an ``ExitCode`` cause, which kubectl turns into its own
  exit code. v5 adds channel 255, the close signal: ``[255, 0]`` half-closes stdin (EOF).
- ``channel.k8s.io`` (and v2/v3, or no subprotocol at all): plain error text, nothing on
  success, so the exit code is lost — as with the real server.
- ``base64.channel.k8s.io`` / ``v4.base64.channel.k8s.io``: text frames whose channel is
  an ASCII digit and whose payload is base64.

This module knows frames, not commands: :class:`ChannelSession` sends output and the final
status, and turns incoming frames into stdin data, EOF and resize events.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE_SIGNAL = 255  # v5 only: payload [stream id] half-closes that stream

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"

# Offered to aiohttp in this order; aiohttp picks the first one of the *client's* list
# that appears here, which is how the real server honours the client's preference.
SUPPORTED_PROTOCOLS = (V5, V4, V4_BASE64, V3, V2, V1, V1_BASE64)
_STATUS_AS_JSON = {V5, V4, V4_BASE64}
_BASE64 = {V4_BASE64, V1_BASE64}

MAX_FRAME_PAYLOAD = 32 * 1024  # bytes of payload per message, like the kubelet's buffers


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(command: list[str], code: int) -> dict[str, Any]:
    """The Status the kubelet writes when the command exits non-zero (field order and
    wording as the real one, so clients parsing ``details.causes`` find the code)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": (
            "command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {code}"
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """The Status for a command that could not be run at all (handler crashed)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def utf8_safe_cut(data: bytes | bytearray, limit: int) -> int:
    """An index <= ``limit`` that does not split a UTF-8 sequence, when one is near.

    kubernetes-asyncio's preloading client decodes every message on its own as UTF-8, so
    a character cut in two would make it raise; binary data simply gets cut at ``limit``
    (at most three bytes earlier)."""
    if limit >= len(data):
        return len(data)
    cut = limit
    while cut > limit - 3 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if (data[cut] & 0xC0) != 0x80 else limit


class ChannelSession:
    """One exec connection: output frames out, stdin/resize/close frames in."""

    def __init__(self, ws: web.WebSocketResponse):
        self.ws = ws
        self.protocol = ws.ws_protocol or ""
        self.base64 = self.protocol in _BASE64
        self.status_as_json = self.protocol in _STATUS_AS_JSON
        self.supports_close_signal = self.protocol == V5

    async def send(self, channel: int, data: bytes | bytearray) -> None:
        """Send ``data`` on ``channel``, split into frames of at most 32 KiB. An empty
        ``data`` sends one empty frame (the kubelet's "streams are ready" signal)."""
        view = memoryview(bytes(data))
        while True:
            cut = utf8_safe_cut(view, MAX_FRAME_PAYLOAD) if len(view) > MAX_FRAME_PAYLOAD else len(view)
            await self._send_frame(channel, bytes(view[:cut]))
            view = view[cut:]
            if not view:
                return

    async def _send_frame(self, channel: int, payload: bytes) -> None:
        if self.base64:
            await self.ws.send_str(str(channel) + base64.b64encode(payload).decode("ascii"))
        else:
            await self.ws.send_bytes(bytes([channel]) + payload)

    async def send_exit(self, command: list[str], code: int) -> None:
        """Channel 3 at the end of the command, in the protocol's form."""
        if code == 0:
            if self.status_as_json:
                await self.send(ERROR, json.dumps(success_status()).encode())
            return
        status = exit_code_status(command, code)
        await self._send_error(status)

    async def send_internal_error(self, message: str) -> None:
        await self._send_error(internal_error_status(message))

    async def _send_error(self, status: dict[str, Any]) -> None:
        if self.status_as_json:
            await self.send(ERROR, json.dumps(status).encode())
        else:
            await self.send(ERROR, status["message"].encode())

    async def pump_input(
        self,
        on_stdin: Callable[[bytes], Awaitable[None]],
        on_stdin_eof: Callable[[], None],
        on_resize: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Read client frames until the WebSocket closes. Ends stdin on the v5 close
        signal or when the connection goes away."""
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    channel, payload = (msg.data[0], msg.data[1:]) if msg.data else (None, b"")
                elif msg.type == WSMsgType.TEXT and self.base64 and msg.data:
                    channel = int(msg.data[0]) if msg.data[0].isdigit() else None
                    try:
                        payload = base64.b64decode(msg.data[1:])
                    except (binascii.Error, ValueError):
                        continue
                else:
                    continue
                if channel == STDIN:
                    if payload:
                        await on_stdin(bytes(payload))
                elif channel == CLOSE_SIGNAL and self.supports_close_signal:
                    if payload and payload[0] == STDIN:
                        on_stdin_eof()
                elif channel == RESIZE and on_resize is not None:
                    try:
                        on_resize(json.loads(bytes(payload) or b"{}"))
                    except ValueError:
                        pass
        finally:
            on_stdin_eof()
