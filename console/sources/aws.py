"""AWS sessions for reading: an aioboto3 session from the environment's settings.

The standard credential chain is used unless ``access_key_id_env`` /
``secret_access_key_env`` name variables holding keys; ``endpoint_url`` points every client
at a local moto server in the sandbox and the tests. A loopback endpoint gets placeholder
keys when none are configured: a local fake accepts any, and real credentials from the
chain are never sent to it.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any
from urllib.parse import urlsplit

import aioboto3
from botocore.config import Config as BotoConfig

from console.config.model import AwsSettings
from console.config.secrets import secret


def session(settings: AwsSettings) -> aioboto3.Session:
    keys: dict[str, Any] = {}
    key_id, key = secret(settings.access_key_id_env), secret(settings.secret_access_key_env)
    if key_id and key:
        keys = {"aws_access_key_id": key_id, "aws_secret_access_key": key}
    elif is_loopback(settings.endpoint_url):
        return aioboto3.Session(region_name=settings.region, aws_access_key_id="local",
                                aws_secret_access_key="local")
    return aioboto3.Session(region_name=settings.region, profile_name=settings.profile, **keys)


def read_session(settings: AwsSettings, *services: str) -> aioboto3.Session:
    """:func:`session` with the data files of ``services`` already read: the service model,
    its endpoint rules and paginators, the endpoint and partition tables. Creating the first
    client reads them otherwise (~70 ms of JSON for S3, on the event loop while keys wait).
    Blocking: call it in a thread."""
    made = session(settings)
    loader = made._session.get_component("data_loader")  # botocore's, cached per session
    for name in ("endpoints", "partitions", "sdk-default-configuration"):
        loader.load_data(name)
    for service in services:
        for kind in ("service-2", "endpoint-rule-set-1", "paginators-1"):
            loader.load_service_model(service, kind)
    return made


def entered_client(made: aioboto3.Session, service: str, **kwargs: Any) -> tuple[Any, Any]:
    """``(context, client)``: ``made.client(service, **kwargs)`` made and entered on an
    event loop of this thread's own. Making a client runs ~50 ms of botocore's Python
    (endpoint rules, the client class, its event handlers) that would otherwise hold the
    UI's loop. Blocking: call it in a thread. The client is used on the caller's loop:
    aiobotocore opens its aiohttp sessions at the first request, on the loop that sends
    it; ``await context.__aexit__(None, None, None)`` there closes them."""
    async def enter() -> tuple[Any, Any]:
        context = made.client(service, **kwargs)
        return context, await context.__aenter__()

    return asyncio.run(enter())


def is_loopback(url: str | None) -> bool:
    """True for http(s)://127.x.x.x, [::1] or localhost endpoints."""
    host = urlsplit(url).hostname if url else None
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_kwargs(settings: AwsSettings, *, timeout: float = 5.0) -> dict[str, Any]:
    """Arguments for ``session.client(name, **kwargs)``: endpoint, region and timeouts that
    make an unreachable endpoint fail fast instead of retrying for a minute."""
    return {
        "region_name": settings.region,
        "endpoint_url": settings.endpoint_url,
        "config": BotoConfig(connect_timeout=timeout, read_timeout=timeout,
                             retries={"max_attempts": 1, "mode": "standard"}),
    }
