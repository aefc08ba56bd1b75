"""The verbs on a resource: get, list, create, update, patch, delete, deletecollection, and
the ``/status`` subresource. Watch is in :mod:`watch`; scale, eviction and the review
objects in :mod:`subresources`.

Writes go through :mod:`admission` (defaults, validation, status split) and the store
(resourceVersion conflicts, generation); ``dryRun=All`` does all of it but the store write.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

from aiohttp import web

from . import admission, patch
from .context import ApiContext
from .conversion import to_served, to_stored
from .deletion import check_preconditions, delete_object, finish_if_finalized
from .routing import RequestInfo
from .selectors import Filter
from .store import ApiError, already_exists, conflict, not_found
from .tables import table, wants_table
from .wire import read_body, require_object, respond, success_status

Obj = dict[str, Any]


def _dry_run(request: web.Request) -> bool:
    return "All" in request.query.getall("dryRun", [])


def _sort_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace", ""), meta.get("name", "")


def _render(ctx: ApiContext, request: web.Request, info: RequestInfo, objects: list[Obj],
            list_meta: Obj, single: bool) -> web.Response:
    rt = info.rt
    served = [to_served(rt, o) for o in objects]
    if wants_table(request.headers.get("Accept", "")):
        include = request.query.get("includeObject", "Metadata")
        return respond(table(rt, served, ctx.cluster.clock.now(), list_meta, include))
    if single:
        return respond(served[0])
    return respond({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": list_meta,
                    "items": served})


# ---- reads ----------------------------------------------------------------------------------


def _encode_continue(rv: int, after: tuple[str, str]) -> str:
    raw = json.dumps({"rv": rv, "ns": after[0], "name": after[1]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return int(data["rv"]), (data["ns"], data["name"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "BadRequest", "continue key is not valid: invalid continue token") from None


def select(ctx: ApiContext, info: RequestInfo, query,
           after: tuple[str, str] | None = None) -> list[Obj]:
    """The stored objects (not copies: read only) a list or watch request selects, sorted
    by namespace then name; only those after ``after`` when it is given."""
    flt = Filter(query.get("labelSelector"), query.get("fieldSelector"), info.rt.key)
    return [o for o in ctx.store.iter_sorted(info.rt.key, info.namespace or None, after)
            if flt(o)]


def list_objects(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    """A list, or one page of it (``limit``, ``continue``). A page reads only as far as
    the object after its last: 100 pages of 50,000 pods are not 100 passes over 50,000.
    As the API server, ``remainingItemCount`` is sent only without selectors."""
    query = request.query
    rv, after = ctx.store.resource_version, None
    if token := query.get("continue"):
        rv, after = _decode_continue(token)
    limit = int(query.get("limit") or 0)
    meta: Obj = {"resourceVersion": str(rv)}
    if limit <= 0:
        return _render(ctx, request, info, select(ctx, info, query, after), meta, single=False)
    flt = Filter(query.get("labelSelector"), query.get("fieldSelector"), info.rt.key)
    namespace = info.namespace or None
    objects: list[Obj] = []
    for obj in ctx.store.iter_sorted(info.rt.key, namespace, after):
        if not flt(obj):
            continue
        if len(objects) == limit:  # one more than the page holds: there is a next page
            last = _sort_key(objects[-1])
            meta["continue"] = _encode_continue(rv, last)
            if not flt.labels and not flt.fields:
                meta["remainingItemCount"] = ctx.store.count_after(info.rt.key, namespace, last)
            break
        objects.append(obj)
    return _render(ctx, request, info, objects, meta, single=False)


def get_object(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    obj = ctx.store.get(info.rt.key, info.namespace, info.name)
    return _render(ctx, request, info, [obj], {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                   single=True)


# ---- writes ---------------------------------------------------------------------------------


def _check_namespace(ctx: ApiContext, info: RequestInfo, obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    if not info.rt.namespaced:
        meta.pop("namespace", None)
        return
    if meta.get("namespace") and meta["namespace"] != info.namespace:
        raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                                          "the namespace sent on the request")
    meta["namespace"] = info.namespace


def _require_namespace_exists(ctx: ApiContext, namespace: str) -> None:
    if ctx.store.peek("namespaces", "", namespace) is None:
        raise not_found("namespaces", namespace)


async def create(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    return create_from(ctx, request, info, require_object(await read_body(request)))


def create_from(ctx: ApiContext, request: web.Request, info: RequestInfo, body: Obj) -> web.Response:
    rt = info.rt
    obj = to_stored(rt, body)
    _check_namespace(ctx, info, obj)
    admission.prepare_create(rt, obj)
    if not obj["metadata"].get("name") and obj["metadata"].get("generateName"):
        obj["metadata"]["name"] = obj["metadata"]["generateName"] + uuid.uuid4().hex[:5]
    if not obj["metadata"].get("name"):
        raise admission.invalid(admission.qualified_kind(rt), "", [("metadata.name", "Required value: name or generateName is required")])
    admission.apply_defaults(rt, obj)
    admission.validate(rt, obj)
    if rt.namespaced:
        _require_namespace_exists(ctx, info.namespace)
    if _dry_run(request):
        name = obj["metadata"]["name"]
        if ctx.store.peek(rt.key, info.namespace, name) is not None:
            raise already_exists(rt.key, name)
        obj["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=ctx.cluster.clock.timestamp())
        return respond(to_served(rt, obj), 201)
    created = ctx.store.create(rt.key, obj, namespace=info.namespace if rt.namespaced else None)
    return respond(to_served(rt, created), 201)


def _finish_write(ctx: ApiContext, request: web.Request, info: RequestInfo, new: Obj, old: Obj,
                  status_code: int = 200) -> web.Response:
    rt = info.rt
    if info.subresource == "status":
        new = admission.only_status(new, old)
    else:
        new = admission.keep_status(rt, new, old)
        admission.check_immutable(rt, new, old)
        admission.fold_string_data(rt, new)
        admission.validate(rt, new)
    if _dry_run(request):
        sent = (new.get("metadata") or {}).get("resourceVersion")
        if sent and sent != old["metadata"]["resourceVersion"]:
            raise conflict(rt.key, info.name)
        return respond(to_served(rt, new), status_code)
    stored = ctx.store.update(rt.key, new)
    stored = finish_if_finalized(ctx.store, rt.key, stored)
    return respond(to_served(rt, stored), status_code)


def _same_identity(info: RequestInfo, obj: Obj) -> None:
    meta = obj.setdefault("metadata", {})
    if meta.get("name") and meta["name"] != info.name:
        raise ApiError(400, "BadRequest", f"the name of the object ({meta['name']}) does not match "
                                          f"the name on the URL ({info.name})")
    meta["name"] = info.name


async def update(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    body = require_object(await read_body(request))
    old = ctx.store.get(info.rt.key, info.namespace, info.name)
    new = to_stored(info.rt, body, old)
    _same_identity(info, new)
    _check_namespace(ctx, info, new)
    return _finish_write(ctx, request, info, new, old)


async def patch_object(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    rt = info.rt
    ctype = (request.content_type or "").lower()
    if ctype not in (patch.STRATEGIC, patch.MERGE, patch.JSON_PATCH, patch.APPLY) or (
        ctype == patch.STRATEGIC and rt.custom
    ):
        raise patch.unsupported_media_type(ctype, rt.custom)
    body = await read_body(request)
    old = ctx.store.peek(rt.key, info.namespace, info.name)
    if old is None:
        if ctype == patch.APPLY and not info.subresource:  # server-side apply creates
            applied = require_object(body)
            applied.setdefault("metadata", {})["name"] = info.name
            return create_from(ctx, request, info, applied)
        raise not_found(rt.key, info.name)
    old = copy.deepcopy(old)
    current = to_served(rt, copy.deepcopy(old))
    if ctype == patch.STRATEGIC:
        new = patch.strategic_merge(current, require_object(body))
    elif ctype == patch.MERGE:
        new = patch.merge_patch(current, require_object(body))
    elif ctype == patch.JSON_PATCH:
        new = patch.json_patch(current, body)
    else:
        applied = require_object(body)
        applied.get("metadata", {}).pop("resourceVersion", None)
        new = (patch.merge_patch(current, applied) if rt.custom
               else patch.strategic_merge(current, applied))
    if not isinstance(new, dict):
        raise ApiError(422, "Invalid", "the patched object is not a JSON object")
    meta = new.setdefault("metadata", {})
    if meta.get("name", info.name) != info.name or (
        rt.namespaced and meta.get("namespace", info.namespace) != info.namespace
    ):
        raise admission.invalid(admission.qualified_kind(rt), info.name,
                                [("metadata.name", "Invalid value: field is immutable")])
    new = to_stored(rt, new, old)
    _check_namespace(ctx, info, new)
    return _finish_write(ctx, request, info, new, old)


async def delete(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    rt = info.rt
    options = await read_body(request, required=False) or {}
    policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
    obj = ctx.store.get(rt.key, info.namespace, info.name)
    check_preconditions(obj, options)
    if _dry_run(request) or "All" in (options.get("dryRun") or []):
        return respond(to_served(rt, obj))
    result = delete_object(ctx.store, rt.key, info.namespace, info.name, policy)
    still_there = ctx.store.peek(rt.key, info.namespace, info.name) is not None
    if still_there or rt.key == "pods":
        return respond(to_served(rt, result), 202 if still_there and rt.key != "pods" else 200)
    return respond(success_status(rt.key, info.name, obj["metadata"].get("uid", "")))


async def delete_collection(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.Response:
    rt = info.rt
    options = await read_body(request, required=False) or {}
    policy = request.query.get("propagationPolicy") or options.get("propagationPolicy")
    deleted = []
    for obj in select(ctx, info, request.query):
        meta = obj["metadata"]
        if _dry_run(request):
            deleted.append(copy.deepcopy(obj))
            continue
        try:
            deleted.append(delete_object(ctx.store, rt.key, meta.get("namespace", ""), meta["name"], policy))
        except ApiError as err:
            if err.code != 404:  # gone already through a cascade
                raise
    return respond({"kind": rt.list_kind, "apiVersion": rt.api_version,
                    "metadata": {"resourceVersion": str(ctx.store.resource_version)},
                    "items": [to_served(rt, o) for o in deleted]})
