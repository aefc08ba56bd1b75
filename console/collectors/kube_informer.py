"""A list+watch cache of one Kubernetes collection.

List once (remembering the collection's resourceVersion), then watch from that version and
apply each ADDED / MODIFIED / DELETED event to an in-memory dict. When the server closes the
watch (its timeoutSeconds), watch again from the last version seen; only when the version
has expired (410 Gone) or the connection failed is the collection listed again. So a steady
state costs one open watch stream, not a list per refresh. ``lists`` and ``watches`` count
requests, for tests and benchmarks to check exactly that. With ``watch_after``, the first
watch waits for that event after the first list: the collector opens its streams once its
first snapshot's requests are answered (a watch from the list's version misses nothing).
"""

from __future__ import annotations

import asyncio
import contextlib

from console.sources.kube import KubeError, KubeSource

from .base import describe_error


class Informer:
    def __init__(self, source: KubeSource, path: str, *, watch_seconds: int = 240,
                 max_backoff: float = 30.0, params: dict[str, str] | None = None,
                 watch_after: asyncio.Event | None = None) -> None:
        self.source = source
        self.path = path
        self.params = dict(params or {})  # query parameters (labelSelector...)
        self.watch_seconds = watch_seconds
        self.max_backoff = max_backoff
        self.watch_after = watch_after
        self.items: dict[str, dict] = {}
        self.synced = asyncio.Event()
        # set once the first list has succeeded or failed: an optional collection (nodes
        # with namespace-scoped credentials) is waited for until then, never to a deadline
        self.settled = asyncio.Event()
        self.error: str | None = None
        self.lists = 0
        self.watches = 0
        self.changed = asyncio.Event()  # set on every applied event; cleared by readers
        self._version = ""
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"informer {self.path}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def values(self) -> list[dict]:
        return list(self.items.values())

    async def _run(self) -> None:
        backoff = 0.5
        need_list = not self._version  # restarted after stop(): resume the watch
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                if self.watch_after is not None:
                    await self.watch_after.wait()
                await self._watch()
                backoff = 0.5  # the server ended the watch normally: watch again
            except asyncio.CancelledError:
                raise
            except KubeError as exc:
                need_list = True
                if exc.status == 410:  # resourceVersion too old: list again at once
                    continue
                self.error = str(exc)
                self.settled.set()
            except Exception as exc:  # noqa: BLE001 - connection lost, bad JSON...
                need_list = True
                self.error = describe_error(exc)
                self.settled.set()
            if need_list:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)

    async def _list(self) -> None:
        self.lists += 1
        body = await self.source.get(self.path, **self.params)
        self.items = {_key(obj): obj for obj in body.get("items", [])}
        self._version = body.get("metadata", {}).get("resourceVersion", "")
        self.error = None
        self.synced.set()
        self.settled.set()
        self.changed.set()

    async def _watch(self) -> None:
        self.watches += 1
        async for event in self.source.watch(self.path, self._version,
                                             seconds=self.watch_seconds, **self.params):
            kind, obj = event.get("type"), event.get("object") or {}
            version = obj.get("metadata", {}).get("resourceVersion")
            if version:
                self._version = version
            if kind in ("ADDED", "MODIFIED"):
                self.items[_key(obj)] = obj
            elif kind == "DELETED":
                self.items.pop(_key(obj), None)
            else:
                continue  # BOOKMARK: only the version moves
            self.error = None
            self.changed.set()


def _key(obj: dict) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"
