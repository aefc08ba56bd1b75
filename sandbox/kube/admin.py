"""``/_emulator/faults``: fault injection over HTTP, for an emulator running in another
process (``python -m sandbox.kube``, the sandbox). Admin token only.

- ``GET /_emulator/faults`` lists active faults;
- ``POST /_emulator/faults`` with ``{"path": ..., "latency"|"status"|"hang"|"drop"...}`` adds one;
- ``DELETE /_emulator/faults`` clears all, ``DELETE /_emulator/faults/{id}`` removes one.
"""

from __future__ import annotations

from aiohttp import web

from .context import USER
from .faults import Fault
from .store import ApiError
from .wire import read_body, require_object, respond

_FIELDS = {"path", "method", "latency", "status", "message", "hang", "drop", "times"}


def _ctx(request: web.Request, key):
    ctx = request.app[key]
    verb = {"GET": "get", "POST": "create", "DELETE": "delete"}.get(request.method, "")
    user = request[USER]
    if not ctx.authorizer.allowed_path(user, verb, request.path):
        raise ApiError(403, "Forbidden", f'forbidden: User "{user.name}" cannot {verb} path "{request.path}"')
    return ctx


def admin_routes(app: web.Application, key) -> None:
    async def list_faults(request: web.Request) -> web.Response:
        ctx = _ctx(request, key)
        return respond({"faults": [f.describe() for f in ctx.faults.list()]})

    async def add_fault(request: web.Request) -> web.Response:
        ctx = _ctx(request, key)
        body = require_object(await read_body(request))
        unknown = set(body) - _FIELDS
        if unknown or "path" not in body:
            raise ApiError(400, "BadRequest", f"a fault needs a path; unknown fields: {sorted(unknown)}")
        fault: Fault = ctx.faults.add(**body)
        return respond(fault.describe(), 201)

    async def clear_faults(request: web.Request) -> web.Response:
        _ctx(request, key).faults.clear()
        return respond({"faults": []})

    async def remove_fault(request: web.Request) -> web.Response:
        ctx = _ctx(request, key)
        if not ctx.faults.remove(int(request.match_info["id"])):
            raise ApiError(404, "NotFound", f"fault {request.match_info['id']} not found")
        return respond({"faults": [f.describe() for f in ctx.faults.list()]})

    app.router.add_get("/_emulator/faults", list_faults)
    app.router.add_post("/_emulator/faults", add_fault)
    app.router.add_delete("/_emulator/faults", clear_faults)
    app.router.add_delete(r"/_emulator/faults/{id:\d+}", remove_fault)
