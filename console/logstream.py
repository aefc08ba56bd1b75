"""Pod logs for the log viewer: a follow stream, the runbook's filter presets, and a
bounded buffer.

The presets are the guide's ``grep`` lines, so an operator can check what a filter does
against the runbook: ``grep -i error``, ``grep -i "auth\\|unauthorized\\|forbidden"``,
``grep -i "slow\\|timeout"`` and ``grep -E "(ERROR|WARN|Exception)"``. The buffer keeps the
last ``cap`` lines whatever the filter, so changing the filter re-reads what was already
received instead of asking the cluster again.

Every line is redacted here, before anything can show it: an application that logs a DSN
with its password, a token or a configured secret must not put it on an operator's screen
(or a shared tmux). :func:`open_pod_log` is what the log viewer consumes — a stream object
that owns its Kubernetes source and masks lines with the same redactor the executor uses
for the configuration — so the screen never builds a client of its own.

:func:`open_selector_log` is the viewer's all-pods mode: every pod of a label selector
followed at once (what ``kubectl logs -l`` cannot do: it reads 10 lines a pod and does not
follow more than 5), merged into one stream of :class:`PodLine`. The merge queue is
bounded, so a chatty pod waits for the screen instead of growing memory; pods that appear
(a rollout, a restart) are picked up at the next listing, pods that go are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from console.execution.redaction import Redactor, redactor_for
from console.sources.kube import KubeSource


@dataclass(frozen=True)
class LogPreset:
    key: str  # the key that selects it in the viewer
    name: str
    pattern: re.Pattern | None
    grep: str  # the runbook's equivalent

    def matches(self, line: str) -> bool:
        return self.pattern is None or bool(self.pattern.search(line))


PRESETS = (
    LogPreset("1", "all", None, "(no filter)"),
    LogPreset("2", "errors", re.compile("error", re.I), 'grep -i error'),
    LogPreset("3", "auth", re.compile("auth|unauthorized|forbidden", re.I),
              'grep -i "auth\\|unauthorized\\|forbidden"'),
    LogPreset("4", "slow", re.compile("slow|timeout", re.I), 'grep -i "slow\\|timeout"'),
    LogPreset("5", "levels", re.compile("ERROR|WARN|Exception"), 'grep -E "(ERROR|WARN|Exception)"'),
)


class LogBuffer:
    """The last ``cap`` lines received (a ring buffer), and how many were dropped to stay
    within it. A line may start with a prefix (the pod's name in the all-pods mode) that
    the presets do not look at: ``skip`` is its length."""

    def __init__(self, cap: int = 5000) -> None:
        self.lines: deque[str] = deque(maxlen=cap)
        self._skips: deque[int] = deque(maxlen=cap)
        self.received = 0

    @property
    def dropped(self) -> int:
        return self.received - len(self.lines)

    def add(self, line: str, skip: int = 0) -> None:
        self.lines.append(line)
        self._skips.append(skip)
        self.received += 1

    def view(self, preset: LogPreset) -> list[str]:
        return [line for line, skip in zip(self.lines, self._skips, strict=True)
                if preset.matches(line[skip:])]


async def pod_log(source: KubeSource, pod: str, *, container: str | None = None,
                  tail: int = 200, follow: bool = True,
                  redactor: Redactor | None = None) -> AsyncIterator[str]:
    """The pod's log lines, redacted: the last ``tail``, then (``follow``) new ones as they
    come. Without a ``redactor`` the secret *shapes* are still masked (DSN passwords,
    tokens, keys); pass the configuration's (:func:`redactor_for`) to mask known values too.
    A quiet log is not a dead one, so there is no read timeout while following."""
    redact = (redactor or Redactor()).text
    path = f"/api/v1/namespaces/{source.namespace}/pods/{pod}/log"
    async for line in source.lines(path, read_timeout=None, follow=follow, tailLines=tail,
                                   container=container):
        yield redact(line)


class PodLogStream:
    """One pod's redacted log as an async iterator, with the source it owns; ``aclose()``
    ends the stream and closes the connection."""

    def __init__(self, source: KubeSource, pod: str, *, container: str | None, tail: int,
                 follow: bool, redactor: Redactor):
        self._source = source
        self.pod = pod
        self.container = container
        self._lines = pod_log(source, pod, container=container, tail=tail, follow=follow,
                              redactor=redactor)

    def __aiter__(self) -> AsyncIterator[str]:
        return self._lines

    async def aclose(self) -> None:
        try:
            await self._lines.aclose()  # type: ignore[attr-defined]  # an async generator
        finally:
            await self._source.close()


def open_pod_log(config: Any, env: Any, pod: str, *, container: str | None = None,
                 tail: int = 200, follow: bool = True) -> PodLogStream:
    """The log of ``pod`` in environment ``env`` (its namespace; its configured container by
    default), masked with every secret ``config`` points at. Nothing connects until the
    stream is iterated."""
    return PodLogStream(KubeSource(env.kubernetes), pod,
                        container=container or env.kubernetes.container, tail=tail,
                        follow=follow, redactor=redactor_for(config))


class PodLine(NamedTuple):
    """One line of the all-pods stream: which pod wrote it, and the (redacted) line."""

    pod: str
    text: str


FOLLOWABLE_PHASES = ("Running", "Succeeded", "Failed")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def split_stamp(line: str) -> tuple[str | None, str]:
    """``timestamps=true``'s RFC 3339 prefix and the line itself."""
    head, _, rest = line.partition(" ")
    return (head, rest) if STAMP.fullmatch(head) else (None, line)


class SelectorLogStream:
    """Every pod of ``selector`` followed at once, redacted, merged into one iterator of
    :class:`PodLine`; ``aclose()`` stops every follower and closes the source.

    The pods are listed every ``relist`` seconds: a new pod is followed from its last
    ``tail`` lines, a pod that is gone (or deleting) is dropped, and a pod whose stream
    ended or failed (a restart, a broken connection) is followed again from its last line
    (by the kubelet's timestamps), so a restarted container's first lines are not lost
    and none is shown twice. ``queue`` bounds the
    lines in flight. Pods that cannot be read are in :attr:`unreadable` with the reason; a
    listing that fails before any pod is followed ends the stream with its error."""

    def __init__(self, source: KubeSource, selector: str, *, container: str | None,
                 tail: int, redactor: Redactor, relist: float = 10.0,
                 queue: int = 1000) -> None:
        self._source = source
        self.selector = selector
        self.container = container
        self.tail = tail
        self.relist = relist
        self.unreadable: dict[str, str] = {}
        self._redact = redactor.text
        self._queue: asyncio.Queue[PodLine | BaseException] = asyncio.Queue(maxsize=queue)
        self._followers: dict[str, asyncio.Task[None]] = {}
        self._last: dict[str, str] = {}  # pod -> the kubelet's stamp of its last line
        self._lister: asyncio.Task[None] | None = None

    @property
    def pods(self) -> list[str]:
        """The pods followed now."""
        return sorted(name for name, task in self._followers.items() if not task.done())

    def __aiter__(self) -> AsyncIterator[PodLine]:
        return self._lines()

    async def _lines(self) -> AsyncIterator[PodLine]:
        if self._lister is None:
            self._lister = asyncio.create_task(self._list_pods(), name="log-pods")
        while True:
            item = await self._queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    async def _list_pods(self) -> None:
        path = f"/api/v1/namespaces/{self._source.namespace}/pods"
        listed_once = False
        while True:
            try:
                body = await self._source.get(path, labelSelector=self.selector)
            except Exception as exc:  # noqa: BLE001 - the first failure ends the stream
                if not listed_once:
                    await self._queue.put(exc)
                    return
                self.unreadable["(pod list)"] = str(exc)
            else:
                listed_once = True
                self.unreadable.pop("(pod list)", None)
                self._reconcile(body.get("items") or [])
            await asyncio.sleep(self.relist)

    def _reconcile(self, items: list[dict]) -> None:
        live = {}
        for pod in items:
            meta, status = pod.get("metadata") or {}, pod.get("status") or {}
            if meta.get("deletionTimestamp") or status.get("phase") not in FOLLOWABLE_PHASES:
                continue
            live[meta.get("name", "")] = pod
        for name in [n for n in self._followers if n not in live]:
            self._followers.pop(name).cancel()
            self._last.pop(name, None)
            self.unreadable.pop(name, None)
        for name in live:
            task = self._followers.get(name)
            if task is None or task.done():
                self._followers[name] = asyncio.create_task(self._follow(name),
                                                            name=f"log-{name}")

    async def _follow(self, pod: str) -> None:
        """Follow ``pod`` with the kubelet's timestamps: the first time from its last
        ``tail`` lines, again (after a restart or a broken stream) from the last line
        seen, skipping what was already shown."""
        last = self._last.get(pod)
        params: dict[str, Any] = {"tailLines": self.tail} if last is None else {
            "sinceTime": last[:19] + "Z"}
        path = f"/api/v1/namespaces/{self._source.namespace}/pods/{pod}/log"
        try:
            async for raw in self._source.lines(path, read_timeout=None, follow=True,
                                                timestamps=True, container=self.container,
                                                **params):
                stamp, text = split_stamp(raw)
                if stamp is not None:
                    if last is not None and stamp <= last:
                        continue  # shown before the stream was opened again
                    self._last[pod] = stamp
                await self._queue.put(PodLine(pod, self._redact(text)))
            self.unreadable.pop(pod, None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - one pod unreadable: said, the rest read
            self.unreadable[pod] = str(exc)

    async def aclose(self) -> None:
        tasks = [t for t in (self._lister, *self._followers.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._followers.clear()
        await self._source.close()


def open_selector_log(config: Any, env: Any, selector: str | None = None, *,
                      container: str | None = None, tail: int = 200,
                      relist: float = 10.0) -> SelectorLogStream:
    """Every pod of ``selector`` (the environment's app selector by default) in ``env``,
    followed and merged, masked as :func:`open_pod_log` masks. Nothing connects until the
    stream is iterated."""
    k = env.kubernetes
    return SelectorLogStream(KubeSource(k), selector or k.app_selector,
                             container=container or k.container, tail=tail,
                             redactor=redactor_for(config), relist=relist)
