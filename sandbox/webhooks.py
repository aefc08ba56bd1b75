"""The sandbox's webhook receivers: the status page and Slack, as the wizards reach them.

A wizard posts a notice through the URL held in the variable that
``notifications.status_page_webhook_env`` / ``slack_webhook_env`` name, exactly as in
production. In the sandbox those URLs point here, and every delivery is kept (time,
channel, JSON body) so that a rehearsal can be checked against what the receivers really
got — ``mcp-ops sandbox status`` lists them.

The delivery paths hold a random token, as a real incoming-webhook URL does (whoever has
the URL can post); ``GET /deliveries`` (no token: it reveals nothing secret) returns what
arrived, oldest first. A body that is not JSON is refused with 400, as Slack refuses it,
and kept with ``accepted: false`` so a rehearsal sees the failed post too.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from aiohttp import web

from .local_http import serve_local
from .local_process import LOCALHOST

CHANNELS = ("status_page", "slack")
MAX_DELIVERIES = 1000


class WebhookReceiver:
    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(12)
        self.port = 0
        self.deliveries: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    def url(self, channel: str) -> str:
        """The secret URL a wizard posts ``channel``'s messages to."""
        if channel not in CHANNELS:
            raise ValueError(f"no webhook channel {channel!r}")
        return f"{self.base_url}/hooks/{self.token}/{channel.replace('_', '-')}"

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post("/hooks/{token}/{channel}", self._receive),
                        web.get("/deliveries", self._list)])
        self._runner, self.port = await serve_local(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _receive(self, request: web.Request) -> web.Response:
        channel = request.match_info["channel"].replace("-", "_")
        if not secrets.compare_digest(request.match_info["token"], self.token) \
                or channel not in CHANNELS:
            return web.Response(status=404, text="no such hook")
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
            accepted = isinstance(body, dict)
        except ValueError:
            body, accepted = raw.decode(errors="replace")[:2000], False
        self.deliveries.append({"at": time.time(), "channel": channel, "accepted": accepted,
                                "body": body})
        del self.deliveries[:-MAX_DELIVERIES]
        if not accepted:
            return web.Response(status=400, text="invalid_payload")
        return web.Response(text="ok")

    async def _list(self, request: web.Request) -> web.Response:
        return web.json_response(self.deliveries)
