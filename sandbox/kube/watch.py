"""Watch streams: chunked JSON lines of ``{"type": ..., "object": ...}``.

Semantics follow the apiserver's watch cache: with ``resourceVersion`` unset or "0" the
stream starts with ADDED for every matching object; with a version it replays the store's
history after it (an ERROR event with a 410 Expired Status when that history is gone);
``timeoutSeconds`` ends the stream; ``allowWatchBookmarks`` adds periodic BOOKMARK events
carrying only the latest resourceVersion; ``sendInitialEvents`` ends the initial ADDED
events with the ``k8s.io/initial-events-end`` bookmark. With a selector, an object that
stops matching is reported DELETED and one that starts matching ADDED, as on a real
cluster. Streams end when the client leaves or the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiohttp import web

from .context import ApiContext
from .conversion import to_served
from .handlers import select
from .routing import RequestInfo
from .selectors import Filter
from .store import ApiError, WatchEvent
from .tables import table, wants_table
from .wire import dumps

Obj = dict[str, Any]
_END = object()


class _Stream:
    """Encodes events for one watch request (plain objects or one-row Tables)."""

    def __init__(self, ctx: ApiContext, request: web.Request, info: RequestInfo,
                 response: web.StreamResponse):
        self.ctx, self.info, self.response = ctx, info, response
        self.as_table = wants_table(request.headers.get("Accept", ""))
        self.include = request.query.get("includeObject", "Metadata")
        self.first = True

    async def send(self, type_: str, obj: Obj) -> None:
        if type_ in ("BOOKMARK", "ERROR"):
            payload = obj
        else:
            payload = to_served(self.info.rt, obj)
            if self.as_table:
                payload = table(self.info.rt, [payload], self.ctx.cluster.clock.now(),
                                {"resourceVersion": obj["metadata"].get("resourceVersion", "")},
                                self.include, with_definitions=self.first)
                self.first = False
        await self.response.write(dumps({"type": type_, "object": payload}) + b"\n")

    async def bookmark(self, rv: int, initial_end: bool = False) -> None:
        meta: Obj = {"resourceVersion": str(rv)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        rt = self.info.rt
        await self.send("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta})


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata", {})
    return meta.get("namespace", ""), meta.get("name", "")


async def _pump(ctx: ApiContext, since: int, out: asyncio.Queue) -> None:
    try:
        async for event in ctx.store.events(since):
            out.put_nowait(event)
    finally:
        out.put_nowait(_END)


async def serve_watch(ctx: ApiContext, request: web.Request, info: RequestInfo) -> web.StreamResponse:
    query = request.query
    flt = Filter(query.get("labelSelector"), query.get("fieldSelector"), info.rt.key)
    rv_param = query.get("resourceVersion", "")
    initial = rv_param in ("", "0") or query.get("sendInitialEvents") == "true"
    if not initial:
        try:
            since = int(rv_param)
        except ValueError:
            raise ApiError(400, "BadRequest", f"invalid resource version: {rv_param}") from None
    timeout = float(query.get("timeoutSeconds") or 0)
    deadline = time.monotonic() + timeout if timeout > 0 else None
    bookmarks = query.get("allowWatchBookmarks") in ("true", "1")

    response = web.StreamResponse(headers={"Content-Type": "application/json",
                                           "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    stream = _Stream(ctx, request, info, response)
    store = ctx.store
    filtered = bool(flt.labels or flt.fields)

    if initial:
        current = select(ctx, info, query)
        since = store.resource_version
        matching = {_key(o) for o in current}
        for obj in current:
            await stream.send("ADDED", obj)
        if query.get("sendInitialEvents") == "true":
            await stream.bookmark(since, initial_end=True)
    else:
        try:
            store.history_since(since)
        except ApiError as err:
            await stream.send("ERROR", err.status())
            return response
        matching = {_key(o) for o in select(ctx, info, query)} if filtered else set()

    queue: asyncio.Queue = asyncio.Queue()
    pump = asyncio.create_task(_pump(ctx, since, queue))
    last_rv, next_bookmark = since, time.monotonic() + ctx.bookmark_interval
    ctx.watchers += 1
    try:
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                break
            if request.transport is None or request.transport.is_closing():
                break
            if bookmarks and now >= next_bookmark:
                await stream.bookmark(max(last_rv, store.resource_version))
                next_bookmark = now + ctx.bookmark_interval
            wait = min(1.0, max(0.0, next_bookmark - now) if bookmarks else 1.0)
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - now))
            try:
                event = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                continue
            if event is _END:
                break
            last_rv = event.rv
            await _deliver(stream, info, flt, filtered, matching, event)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        ctx.watchers -= 1
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


async def _deliver(stream: _Stream, info: RequestInfo, flt: Filter, filtered: bool,
                   matching: set, event: WatchEvent) -> None:
    if event.resource != info.rt.key:
        return
    if info.namespace and event.namespace != info.namespace:
        return
    obj = event.object
    if not filtered:
        await stream.send(event.type, obj)
        return
    key = _key(obj)
    now_matches = event.type != "DELETED" and flt(obj)
    was_matching = key in matching
    if event.type == "DELETED":
        if was_matching or flt(obj):
            matching.discard(key)
            await stream.send("DELETED", obj)
    elif now_matches:
        matching.add(key)
        await stream.send("MODIFIED" if was_matching and event.type == "MODIFIED" else "ADDED", obj)
    elif was_matching:
        matching.discard(key)
        await stream.send("DELETED", obj)
