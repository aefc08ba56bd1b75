"""Bytes on the wire: JSON responses, request bodies (JSON or YAML), Status objects.

The apiserver speaks protobuf too, but every client asks for JSON when told or falls back
to it, so JSON is the only encoding served; a YAML body (``application/yaml``) is accepted
on writes as the real server accepts it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from aiohttp import web

from . import protowire
from .store import ApiError

JSON = "application/json"


def dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def respond(body: Any, status: int = 200, content_type: str = JSON) -> web.Response:
    return web.Response(body=dumps(body), status=status, headers={"Content-Type": content_type})


def error_response(err: ApiError) -> web.Response:
    headers = {"Content-Type": JSON}
    if err.code == 429 and err.details.get("retryAfterSeconds"):
        headers["Retry-After"] = str(err.details["retryAfterSeconds"])
    return web.Response(body=dumps(err.status()), status=err.code, headers=headers)


def success_status(rt_key: str, name: str, uid: str = "") -> dict:
    plural, _, group = rt_key.partition(".")
    details = {"name": name, "group": group, "kind": plural}
    if uid:
        details["uid"] = uid
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": details}


async def read_body(request: web.Request, required: bool = True) -> Any:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(400, "BadRequest", "the request body is empty")
        return None
    ctype = (request.content_type or "").lower()
    if ctype == protowire.PROTOBUF:
        return protowire.decode_object(raw)
    try:
        if "yaml" in ctype:
            return yaml.safe_load(raw)
        return json.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise ApiError(400, "BadRequest", f"the body of the request could not be decoded: {exc}") from None


def require_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "BadRequest", "the body of the request must be a JSON object")
    return body
