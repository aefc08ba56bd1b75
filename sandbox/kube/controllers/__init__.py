"""The controllers of the emulated cluster, and the one loop that runs them all.

:class:`Controllers` subscribes to the store; every write is mapped (synchronously and
cheaply, without writing anything) to the keys of the controllers that care, which are
queued. One asyncio task drains the queue, fires delayed requeues on the cluster's
speedable clock, and periodically resyncs everything, yielding to the event loop every few
milliseconds so a burst of ten thousand pods never freezes the API server. Writes made by
a sync are themselves observed and queued, which is how Deployment -> ReplicaSet -> Pod ->
scheduler -> kubelet chains along without any controller calling another.

Keys the controllers keep in ``cluster.extras``: ``controllers`` (this object),
``hpa_actuation`` (False: the HPA reports but never scales), ``chaos`` (faults, see
:mod:`.chaos`), ``velero_contents`` (what each backup holds), ``pod_ip_next`` and
``node_cordon_seen`` (bookkeeping).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time

from ..store import WatchEvent
from .base import Controller, Key
from .events import EventRecorder
from .index import ClusterIndex

log = logging.getLogger(__name__)

SLICE = 0.008  # real seconds of sync work between yields to the event loop
MAX_WAIT = 0.2  # real seconds the loop sleeps at most, so clock.advance() is noticed
MIN_RESYNC_REAL = 10.0  # real seconds between full resyncs, however fast the clock runs


class Controllers:
    """Starts, feeds and stops every controller of one :class:`Cluster`."""

    def __init__(self, cluster):
        from .certificates import CertificateController
        from .daemonset import DaemonSetController
        from .deployment import DeploymentController
        from .disruption import DisruptionController
        from .garbage import GarbageCollector
        from .hpa import HorizontalPodAutoscalerController
        from .metrics import MetricsWriter
        from .nodes import NodeController
        from .pods import Kubelet
        from .replicaset import ReplicaSetController
        from .scheduler import Scheduler
        from .statefulset import StatefulSetController
        from .velero import BackupController, RestoreController

        self.cluster = cluster
        self.index = ClusterIndex(cluster.store)
        self.recorder = EventRecorder(cluster)
        cluster.extras.setdefault("hpa_actuation", True)
        self.controllers: list[Controller] = [
            cls(self)
            for cls in (
                DeploymentController, ReplicaSetController, Scheduler, Kubelet,
                NodeController, DaemonSetController, StatefulSetController,
                DisruptionController, GarbageCollector, HorizontalPodAutoscalerController,
                BackupController, RestoreController, CertificateController,
            )
        ]
        self.metrics = MetricsWriter(cluster, self.index)
        self._routes: dict[str, list[Controller]] = {}
        for ctrl in self.controllers:
            for resource in {ctrl.primary, *ctrl.watches} - {""}:
                self._routes.setdefault(resource, []).append(ctrl)
        self._queue: dict[tuple[Controller, Key], None] = {}
        self._due: dict[tuple[Controller, Key], float] = {}
        self._timers: list[tuple[float, int, Controller, Key]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._unsubscribe = None
        self._stopping = False
        self.errors: list[str] = []  # sync failures, kept for tests and diagnostics

    def get(self, cls: type[Controller]) -> Controller:
        return next(c for c in self.controllers if isinstance(c, cls))

    # ---- lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        self.index.rebuild()
        self._unsubscribe = self.cluster.store.subscribe(self._on_event)
        self.resync()
        self._task = asyncio.create_task(self._run(), name="kube-controllers")
        await self.metrics.start()

    async def stop(self) -> None:
        self._stopping = True
        if self._unsubscribe:
            self._unsubscribe()
            self._unsubscribe = None
        await self.metrics.stop()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    # ---- queueing ------------------------------------------------------------------
    def _on_event(self, event: WatchEvent) -> None:
        self.index.observe(event)
        for ctrl in self._routes.get(event.resource, ()):
            for key in ctrl.keys_for(event):
                self._queue[(ctrl, key)] = None
        self._wake.set()

    def enqueue(self, ctrl: Controller, key: Key) -> None:
        self._queue[(ctrl, key)] = None
        self._wake.set()

    def requeue_after(self, ctrl: Controller, key: Key, seconds: float) -> None:
        due = self.cluster.clock.now() + max(0.0, seconds)
        item = (ctrl, key)
        if item in self._due and self._due[item] <= due:
            return
        self._due[item] = due
        heapq.heappush(self._timers, (due, next(self._seq), ctrl, key))
        self._wake.set()

    def resync(self) -> None:
        """Queue every key of every controller (also what the periodic resync does)."""
        for ctrl in self.controllers:
            for key in ctrl.all_keys():
                self._queue[(ctrl, key)] = None
        self._wake.set()

    def poke(self, resource: str) -> None:
        """Queue every key of the controllers routed for ``resource`` (used by chaos)."""
        for ctrl in self._routes.get(resource, ()):
            for key in ctrl.all_keys():
                self._queue[(ctrl, key)] = None
        self._wake.set()

    def _fire_timers(self) -> float | None:
        """Move due timers to the queue; return the next due time, if any."""
        now = self.cluster.clock.now()
        while self._timers:
            due, _, ctrl, key = self._timers[0]
            if self._due.get((ctrl, key)) != due:
                heapq.heappop(self._timers)  # superseded by an earlier requeue
                continue
            if due > now:
                return due
            heapq.heappop(self._timers)
            del self._due[(ctrl, key)]
            self._queue[(ctrl, key)] = None
        return None

    # ---- the loop ------------------------------------------------------------------
    async def _run(self) -> None:
        clock = self.cluster.clock
        next_resync = time.monotonic() + MIN_RESYNC_REAL
        resync_emulated = clock.now() + 30.0
        while not self._stopping:
            next_due = self._fire_timers()
            if time.monotonic() >= next_resync and clock.now() >= resync_emulated:
                self.resync()
                self.recorder.prune()
                next_resync = time.monotonic() + MIN_RESYNC_REAL
                resync_emulated = clock.now() + 30.0
            if self._queue:
                await self._drain()
                continue
            wait = MAX_WAIT
            if next_due is not None:
                wait = min(wait, max(0.0, (next_due - clock.now()) / clock.speed))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.001))
            except TimeoutError:
                pass

    async def _drain(self) -> None:
        """Sync what is queued now (not what those syncs queue in turn: that waits for the
        next round, after due timers, so no chain of writes can starve them)."""
        started = time.monotonic()
        for _ in range(len(self._queue)):
            if not self._queue or self._stopping:
                break
            item = next(iter(self._queue))
            del self._queue[item]
            ctrl, key = item
            try:
                ctrl.sync(key)
            except Exception as err:  # a failing sync must not kill the other controllers
                log.exception("%s sync %s failed", ctrl.name, key)
                self.errors.append(f"{ctrl.name} {key}: {err!r}")
                del self.errors[:-50]
                self.requeue_after(ctrl, key, 1.0)
            if time.monotonic() - started > SLICE:
                await asyncio.sleep(0)
                started = time.monotonic()
        await asyncio.sleep(0)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait (real seconds) until the queue is empty: for tests that drive the store."""
        deadline = time.monotonic() + timeout
        while self._queue and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
