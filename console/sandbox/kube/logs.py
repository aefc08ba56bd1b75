"""Pod logs. (Placeholder: replaced by the exec/logs work.)"""

from __future__ import annotations

from aiohttp import web


async def handle_log(request: web.Request, cluster, namespace: str, name: str) -> web.StreamResponse:
    return web.Response(text="")
