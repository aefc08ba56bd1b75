"""HTTP clients for the MCP server's health and metrics endpoints.

One ``httpx.AsyncClient`` per environment keeps connections alive between polls; the
timeout from ``service.timeout`` applies to connect, read and write alike.
"""

from __future__ import annotations

import httpx

from console.config.model import ServiceSettings

USER_AGENT = "mcp-ops"


def client(settings: ServiceSettings, *, timeout: float | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.base_url,
        timeout=httpx.Timeout(timeout or settings.timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
