"""Webhook posts (Slack, status page) whose URL is a secret.

The URL is read, at the moment of posting, from the environment variable the settings name
(``notifications.slack_webhook_env``, ``status_page_webhook_env``). Whoever holds it can post
as the platform, so it is never stored on the writer, never returned, and never part of an
error: errors name the channel and the variable ("status_page webhook
(STATUS_PAGE_WEBHOOK): HTTP 500", "not configured: set STATUS_PAGE_WEBHOOK"), and are raised
outside the ``except`` block so no httpx exception (whose text may hold the URL) is chained
to them. Redirects are not followed.

Payloads (:meth:`WebhookWriter.payload`, shown in the plan and sent as is):

- Slack incoming webhook: ``{"text": TEXT}`` plus any extra fields (``username``...).
- status page: ``{"status": STATUS, "message": TEXT, "text": TEXT}`` — ``status`` one of
  :data:`STATUS_PAGE_STATES` (default ``investigating``) and ``message`` for a status-page
  receiver; ``text`` as well, because the runbook posts ``{"text": ...}`` to
  ``$STATUS_PAGE_WEBHOOK`` and a receiver set up for it keeps working.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from console.config.model import NotificationSettings
from console.config.secrets import secret

from .errors import WriterRefused

__all__ = ["CHANNELS", "STATUS_PAGE_STATES", "Channel", "WebhookError", "WebhookNotConfigured",
           "WebhookWriter", "webhook_variable"]

Channel = Literal["slack", "status_page"]
CHANNELS: tuple[Channel, ...] = ("slack", "status_page")
STATUS_PAGE_STATES = frozenset({"investigating", "identified", "monitoring", "resolved",
                                "scheduled", "in_progress", "verifying", "completed"})


class WebhookError(Exception):
    """A webhook post failed; the message names the channel and its variable, never the URL."""


class WebhookNotConfigured(WebhookError, WriterRefused):
    """No variable is named for the channel, or the variable is not set."""


def webhook_variable(settings: NotificationSettings, channel: Channel) -> str | None:
    """The name of the environment variable holding ``channel``'s URL (None = none named)."""
    if channel == "slack":
        return settings.slack_webhook_env
    if channel == "status_page":
        return settings.status_page_webhook_env
    raise ValueError(f"webhook channel {channel!r} is not one of {', '.join(CHANNELS)}")


class WebhookWriter:
    """Posts JSON to the Slack and status-page webhooks of one environment."""

    def __init__(self, settings: NotificationSettings, *, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout

    def __repr__(self) -> str:
        names = ", ".join(f"{c}={webhook_variable(self.settings, c)}" for c in CHANNELS)
        return f"<WebhookWriter {names}>"

    @staticmethod
    def payload(channel: Channel, text: str, **fields: Any) -> dict[str, Any]:
        """The JSON body posted to ``channel`` (see the module's description)."""
        if not text.strip():
            raise ValueError("the message is empty")
        if channel == "slack":
            return {"text": text, **fields}
        if channel == "status_page":
            status = fields.pop("status", "investigating")
            if status not in STATUS_PAGE_STATES:
                raise ValueError(f"status page status {status!r} is not one of "
                                 f"{', '.join(sorted(STATUS_PAGE_STATES))}")
            return {"status": status, "message": text, "text": text, **fields}
        raise ValueError(f"webhook channel {channel!r} is not one of {', '.join(CHANNELS)}")

    def configured(self, channel: Channel) -> bool:
        """Whether ``channel``'s variable is named and set (without revealing it)."""
        return secret(webhook_variable(self.settings, channel)) is not None

    async def post(self, channel: Channel, text: str, **fields: Any) -> int:
        """POST :meth:`payload` to the channel's webhook; the HTTP status (2xx). Anything
        else is a :class:`WebhookError` naming the channel and its variable only."""
        body = self.payload(channel, text, **fields)
        variable = webhook_variable(self.settings, channel)
        if not variable:
            raise WebhookNotConfigured(
                f"{channel} webhook not configured: name its variable in "
                f"notifications.{channel}_webhook_env")
        url = secret(variable)
        if url is None:
            raise WebhookNotConfigured(f"{channel} webhook not configured: set {variable}")
        where = f"{channel} webhook ({variable})"
        if not url.startswith(("https://", "http://")):
            raise WebhookError(f"{where}: the value is not an http(s) URL")
        reason: str
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                response = await client.post(url, json=body)
        except httpx.TimeoutException:
            reason = f"no answer within {self.timeout:g} s"
        except httpx.ConnectError:
            reason = "cannot connect (refused, unreachable or name not resolved)"
        except Exception as err:  # noqa: BLE001 - its text may hold the URL: only its kind is kept
            reason = f"request failed ({type(err).__name__})"
        else:
            if 200 <= response.status_code < 300:
                return response.status_code
            reason = f"HTTP {response.status_code}"
        raise WebhookError(f"{where}: {reason}")
