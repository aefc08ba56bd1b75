"""HTTP clients for the MCP server's health and metrics endpoints.

One ``httpx.AsyncClient`` per environment keeps connections alive between polls; the
timeout from ``service.timeout`` applies to connect, read and write alike.
"""

from __future__ import annotations

import contextlib
import importlib
import ssl

import httpx

from console.config.model import ServiceSettings

USER_AGENT = "mcp-ops"

# httpx imports its async backend (anyio's asyncio backend) on the first request, which
# costs tens of milliseconds -- hundreds on a busy machine -- and would be counted as the
# first health probe's latency. Import it up front so the latency measured is the service's.
for _module in ("anyio.lowlevel", "anyio.streams.tls", "anyio.to_thread", "anyio._backends._asyncio"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_module)


def tls_context() -> ssl.SSLContext:
    """The TLS context httpx would build for each client (the certifi bundle's ~150
    certificates parsed), with httpcore, which httpx imports on its first client: ~80 ms
    together. Blocking: the collectors call it once, in a thread, rather than on the event
    loop while a key waits."""
    importlib.import_module("httpcore")
    return httpx.create_ssl_context()


def client(settings: ServiceSettings, *, timeout: float | None = None,
           tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=settings.base_url,
        verify=tls if tls is not None else True,
        timeout=httpx.Timeout(timeout or settings.timeout),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
