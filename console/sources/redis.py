"""A Redis client for reading its state.

The password comes from the variable named by ``password_env``. Socket timeouts bound
connecting and every reply, so a Redis that accepts and never answers costs at most
``timeout`` seconds, not a frozen panel.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from console.config.model import RedisSettings
from console.config.secrets import secret


def client(settings: RedisSettings, *, timeout: float = 3.0) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.url,
        password=secret(settings.password_env),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        decode_responses=True,
        client_name="mcp-ops",
        retry_on_timeout=False,
    )


def describe_url(url: str) -> str:
    """host:port/db of a Redis URL, for labels."""
    return url.split("://", 1)[-1].rsplit("@", 1)[-1]
