"""The webhook writer against a small aiohttp receiver on 127.0.0.1 (port 0), started by the
test. The webhook URL is a secret: it must not appear in an error's message, repr or
arguments, nor in an exception chained to it, whatever goes wrong."""

from __future__ import annotations

import asyncio
import socket
import traceback

import pytest
from aiohttp import web

from console.config.model import NotificationSettings
from console.execution.writers import (
    WebhookError,
    WebhookNotConfigured,
    WebhookWriter,
    WriterRefused,
)

pytestmark = pytest.mark.timeout(60)

TOKEN = "T00000000/B00000000/XXXXsecretXXXXtokenXXXX"


@pytest.fixture
async def receiver():
    """(base URL, list of received (path, JSON body)); /ok answers 200, /fail 500,
    /moved 302, /slow only when the test ends."""
    received: list[tuple[str, object]] = []
    ending = asyncio.Event()

    async def handle(request: web.Request) -> web.StreamResponse:
        received.append((request.path, await request.json()))
        kind = request.match_info["kind"]
        if kind == "fail":
            return web.Response(status=500, text="internal error")
        if kind == "moved":
            raise web.HTTPFound("http://127.0.0.1:9/elsewhere")
        if kind == "slow":
            await ending.wait()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{kind}/{token:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        ending.set()
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def assert_no_secret(err: BaseException, url: str) -> None:
    shown = [str(err), repr(err), *map(str, err.args),
             "".join(traceback.format_exception(err))]
    for text in shown:
        assert url not in text and TOKEN not in text
    assert err.__cause__ is None and err.__context__ is None


async def test_posts_to_slack_and_status_page(receiver, monkeypatch):
    base, received = receiver
    monkeypatch.setenv("SECURITY_SLACK_WEBHOOK", f"{base}/ok/{TOKEN}")
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", f"{base}/ok/status-{TOKEN}")
    writer = WebhookWriter(NotificationSettings())
    assert await writer.post("slack", "Security incident detected in production") == 200
    assert await writer.post("status_page", "Maintenance window starting",
                             status="scheduled") == 200
    assert received == [
        (f"/ok/{TOKEN}", {"text": "Security incident detected in production"}),
        (f"/ok/status-{TOKEN}", {"status": "scheduled", "message": "Maintenance window starting",
                                 "text": "Maintenance window starting"}),
    ]
    assert TOKEN not in repr(writer) and "STATUS_PAGE_WEBHOOK" in repr(writer)
    assert writer.configured("slack") and writer.configured("status_page")


async def test_http_error_names_the_channel_never_the_url(receiver, monkeypatch):
    base, received = receiver
    url = f"{base}/fail/{TOKEN}"
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", url)
    with pytest.raises(WebhookError) as caught:
        await WebhookWriter(NotificationSettings()).post("status_page", "Service degraded")
    assert str(caught.value) == "status_page webhook (STATUS_PAGE_WEBHOOK): HTTP 500"
    assert_no_secret(caught.value, url)
    assert len(received) == 1


async def test_a_redirect_is_not_followed(receiver, monkeypatch):
    base, received = receiver
    url = f"{base}/moved/{TOKEN}"
    monkeypatch.setenv("SECURITY_SLACK_WEBHOOK", url)
    with pytest.raises(WebhookError, match=r"^slack webhook \(SECURITY_SLACK_WEBHOOK\): HTTP 302$"):
        await WebhookWriter(NotificationSettings()).post("slack", "x")
    assert len(received) == 1


async def test_refused_connection_hides_the_url(monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}/hooks/{TOKEN}"
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", url)
    with pytest.raises(WebhookError) as caught:
        await WebhookWriter(NotificationSettings()).post("status_page", "x")
    assert str(caught.value).startswith("status_page webhook (STATUS_PAGE_WEBHOOK): cannot connect")
    assert_no_secret(caught.value, url)


async def test_a_receiver_that_does_not_answer_times_out(receiver, monkeypatch):
    base, _received = receiver
    url = f"{base}/slow/{TOKEN}"
    monkeypatch.setenv("SECURITY_SLACK_WEBHOOK", url)
    with pytest.raises(WebhookError) as caught:
        await WebhookWriter(NotificationSettings(), timeout=0.3).post("slack", "x")
    assert str(caught.value) == "slack webhook (SECURITY_SLACK_WEBHOOK): no answer within 0.3 s"
    assert_no_secret(caught.value, url)


async def test_not_configured(monkeypatch):
    monkeypatch.delenv("STATUS_PAGE_WEBHOOK", raising=False)
    writer = WebhookWriter(NotificationSettings())
    assert not writer.configured("status_page")
    with pytest.raises(WebhookNotConfigured) as caught:
        await writer.post("status_page", "x")
    assert str(caught.value) == "status_page webhook not configured: set STATUS_PAGE_WEBHOOK"
    assert isinstance(caught.value, WriterRefused) and isinstance(caught.value, WebhookError)
    unnamed = WebhookWriter(NotificationSettings(slack_webhook_env=None))
    with pytest.raises(WebhookNotConfigured, match="notifications.slack_webhook_env"):
        await unnamed.post("slack", "x")
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", f"ftp://example.invalid/{TOKEN}")
    with pytest.raises(WebhookError) as bad:
        await writer.post("status_page", "x")
    assert str(bad.value) == ("status_page webhook (STATUS_PAGE_WEBHOOK): the value is not an "
                              "http(s) URL")
    assert TOKEN not in repr(bad.value)


def test_payloads():
    assert WebhookWriter.payload("slack", "hi", username="mcp-ops") == {"text": "hi",
                                                                         "username": "mcp-ops"}
    assert WebhookWriter.payload("status_page", "down") == {
        "status": "investigating", "message": "down", "text": "down"}
    with pytest.raises(ValueError, match="status page status"):
        WebhookWriter.payload("status_page", "x", status="on-fire")
    with pytest.raises(ValueError, match="empty"):
        WebhookWriter.payload("slack", "  ")
    with pytest.raises(ValueError, match="channel"):
        WebhookWriter.payload("pager", "x")  # type: ignore[arg-type]
