"""Pod exec over websocket. (Placeholder: replaced by the exec/logs work.)"""

from __future__ import annotations

from aiohttp import web


async def handle_exec(request: web.Request, cluster, namespace: str, name: str) -> web.StreamResponse:
    return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                              "message": "exec not implemented yet", "code": 501}, status=501)
