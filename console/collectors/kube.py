"""Kubernetes collector: deployment, HPA, pods, nodes and Warning events, plus CPU and
memory from metrics.k8s.io.

Only the deployment and its pods are essential. The HPA, nodes, events, metrics and the
certificate are read when they can be and their failures are recorded in the snapshot
(``hpa_error``, ``nodes_error``, ``events_error``, ``metrics_error``, ``disk_error``), so
credentials that may not list nodes, or one slow metrics-server, do not blank the Pods panel.
When metrics cannot be read, ``/version`` is asked: an API server that does not answer
that either (refused, hung, cut off, 5xx) fails the whole snapshot, even with watch caches
at hand: it leaves its watch streams silent, not broken, and the caches would otherwise be
shown as fresh for minutes.

Disk use comes from each node's kubelet Summary API through the API server
(``/api/v1/nodes/NODE/proxy/stats/summary``, permission ``get nodes/proxy``): at most
:data:`DISK_CONCURRENCY` at a time, and, for the dashboard, once every
:data:`DISK_REFRESH` seconds (the kubelet itself refreshes its figures about every 10-15 s,
and disks fill slowly), so a large cluster costs no request per node per poll.

With ``watch=True`` (the dashboard) the objects come from :class:`Informer` caches kept up
to date by watch streams, and a refresh only reads the caches and asks metrics.k8s.io for
usage (metrics cannot be watched). With ``watch=False`` (``mcp-ops check``, one shot) every
collection is listed once. Either way the result is a frozen :class:`KubeSnapshot`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

from console.config.model import KubernetesSettings
from console.sources.kube import KubeError, KubeSource

from . import kube_parse as parse
from .base import describe_error, utcnow
from .kube_informer import Informer
from .kube_model import CertificateInfo, KubeSnapshot

MAX_EVENTS = 20
# without these there is no Pods panel; the others are shown when they can be read: nodes
# are cluster-scoped (namespace-only read credentials get 403), an HPA may not be served
REQUIRED = ("deployments", "pods")
OPTIONAL = ("hpas", "nodes", "events")
DISK_REFRESH = 30.0  # seconds between readings of the nodes' disks (dashboard)
DISK_CONCURRENCY = 8


class KubeCollector:
    def __init__(self, settings: KubernetesSettings, *, watch: bool = True,
                 timeout: float = 3.0, source: KubeSource | None = None) -> None:
        self.settings = settings
        self.watch = watch
        self.timeout = timeout
        self.source = source or KubeSource(settings, timeout=timeout)
        ns = settings.namespace
        # selectors, so the server sends (and watches) only what the panel shows: our
        # deployment and HPA, the app's pods, Warning events
        self.paths: dict[str, tuple[str, dict[str, str]]] = {
            "deployments": (f"/apis/apps/v1/namespaces/{ns}/deployments",
                            {"fieldSelector": f"metadata.name={settings.deployment}"}),
            "hpas": (f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers",
                     {"fieldSelector": f"metadata.name={settings.hpa}"}),
            "pods": (f"/api/v1/namespaces/{ns}/pods", {"labelSelector": settings.app_selector}),
            "nodes": ("/api/v1/nodes", {}),
            "events": (f"/api/v1/namespaces/{ns}/events", {"fieldSelector": "type=Warning"}),
        }
        self.informers: dict[str, Informer] = {}
        self._restarts: dict[str, int] = {}
        self._disk: dict[str, float] = {}
        self._disk_error: str | None = None
        self._disk_read_at: float | None = None
        self._disk_task: asyncio.Task | None = None
        # set once the first snapshot's requests are answered: the watches open after them,
        # so a single-threaded or busy API server serves the snapshot's lists first
        self._first_done = asyncio.Event()

    async def close(self) -> None:
        if self._disk_task is not None:
            self._disk_task.cancel()
            await asyncio.gather(self._disk_task, return_exceptions=True)
        await asyncio.gather(*(i.stop() for i in self.informers.values()))
        self.informers.clear()
        await self.source.close()

    async def collect(self) -> KubeSnapshot:
        # metrics and the certificate need no list: asked at once, beside the lists
        metrics = asyncio.ensure_future(self._metrics())
        certificate_read = asyncio.ensure_future(self._certificate())
        try:
            objects, unread = await (self._cached() if self.watch else self._listed())
            names = sorted(o["metadata"]["name"] for o in objects["nodes"])
            if self.watch:  # the disks' large documents are read only once the rest is in
                (usage, metrics_error), certificate = await asyncio.gather(
                    metrics, certificate_read)
                await self._disks(names)
            else:
                (usage, metrics_error), certificate, _ = await asyncio.gather(
                    metrics, certificate_read, self._disks(names))
            snap = self._snapshot(objects, usage, metrics_error)
            return replace(snap, certificate=certificate, hpa_error=unread.get("hpas"),
                           nodes_error=unread.get("nodes"), events_error=unread.get("events"),
                           disk_error=self._disk_error if names else None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a snapshot
            return KubeSnapshot.failed(describe_error(exc), namespace=self.settings.namespace)
        finally:
            for task in (metrics, certificate_read):
                task.cancel()
            await asyncio.gather(metrics, certificate_read, return_exceptions=True)
            self._first_done.set()

    async def _listed(self) -> tuple[dict[str, list[dict]], dict[str, str]]:
        bodies = await asyncio.gather(*(self.source.get(path, **params)
                                        for path, params in self.paths.values()),
                                      return_exceptions=True)
        objects: dict[str, list[dict]] = {}
        unread: dict[str, str] = {}
        for name, body in zip(self.paths, bodies, strict=True):
            if isinstance(body, BaseException):
                if name in REQUIRED or not isinstance(body, Exception):
                    raise body
                objects[name], unread[name] = [], describe_error(body)
            else:
                objects[name] = body.get("items", [])
        return objects, unread

    async def _cached(self) -> tuple[dict[str, list[dict]], dict[str, str]]:
        if not self.informers:
            for name, (path, params) in self.paths.items():
                self.informers[name] = Informer(self.source, path, params=params,
                                                watch_after=self._first_done)
        for informer in self.informers.values():
            informer.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for name in (*REQUIRED, *OPTIONAL):  # the ones the panel cannot do without first
            informer = self.informers[name]
            if informer.synced.is_set():
                continue
            # an optional collection is waited for until its first answer, even a refusal
            awaited = informer.synced if name in REQUIRED else informer.settled
            try:
                await asyncio.wait_for(awaited.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                if name not in REQUIRED:
                    continue
                errors = [e for n in REQUIRED if (e := self.informers[n].error)]
                raise KubeError(0, errors[0] if errors else "the API did not answer in time") from None
        errors = [e for n in REQUIRED if (e := self.informers[n].error)]
        if errors:  # the caches may be stale: say so, keep the panel's last data
            raise KubeError(0, errors[0])
        unread = {}
        for name in OPTIONAL:
            informer = self.informers[name]
            if informer.error or not informer.synced.is_set():
                unread[name] = informer.error or f"no answer within {self.timeout:g}s"
        return {name: i.values() for name, i in self.informers.items()}, unread

    async def _metrics(self) -> tuple[dict[str, dict], str | None]:
        """Pod usage, and node usage when it may be read (metrics for nodes are
        cluster-scoped, like nodes: their failure costs only the nodes' figures)."""
        ns = self.settings.namespace
        pods: Any
        nodes: Any
        pods, nodes = await asyncio.gather(
            self.source.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
                            labelSelector=self.settings.app_selector),
            self.source.get("/apis/metrics.k8s.io/v1beta1/nodes"),
            return_exceptions=True,
        )
        for result in (pods, nodes):
            if isinstance(result, BaseException) and not isinstance(result, KubeError):
                raise result
        if isinstance(pods, KubeError):
            await self._api_answers()
            return {}, f"metrics.k8s.io: {pods}"
        usage = {f"pod/{m['metadata']['name']}": m for m in pods.get("items", [])}
        if not isinstance(nodes, KubeError):
            usage |= {f"node/{m['metadata']['name']}": m for m in nodes.get("items", [])}
        return usage, None

    async def _api_answers(self) -> None:
        """Raise when the API server itself does not answer. Metrics failing may be only
        metrics-server (down: 503, or hung), but it may be the whole API server, whose
        watch streams then fall silent, not broken: the caches must not pass for fresh."""
        try:
            await self.source.get("/version")
        except KubeError as exc:
            raise KubeError(exc.status, f"the API server does not answer: {exc}") from None

    async def _disks(self, names: list[str]) -> None:
        """Read the nodes' disk use into ``self._disk`` when due. The dashboard (``watch``)
        does not wait for it: the readings (a large document per node) come in the
        background and show from the next snapshot on, so the first one is not held back
        by the slowest kubelet; a one-shot ``check`` waits, as it has one look only."""
        now = time.monotonic()
        if self.watch and self._disk_read_at is not None \
                and now - self._disk_read_at < DISK_REFRESH:
            return
        self._disk_read_at = now
        if not self.watch:
            await self._read_disks(names)
        elif self._disk_task is None or self._disk_task.done():
            self._disk_task = asyncio.create_task(self._read_disks(names),
                                                  name="kube-node-disks")

    async def _read_disks(self, names: list[str]) -> None:
        gate = asyncio.Semaphore(DISK_CONCURRENCY)

        async def one(name: str) -> float | None | BaseException:
            async with gate:
                try:
                    return parse.disk_pct(parse.summary_node(await self.source.get_text(
                        f"/api/v1/nodes/{name}/proxy/stats/summary")))
                except KubeError as exc:
                    return exc

        results = await asyncio.gather(*(one(n) for n in names))
        errors = [r for r in results if isinstance(r, KubeError)]
        self._disk = {n: r for n, r in zip(names, results, strict=True)
                      if isinstance(r, float)}
        self._disk_error = None if not errors else (
            describe_error(errors[0]) if len(errors) == len(names) else
            f"{len(errors)} of {len(names)} nodes: {describe_error(errors[0])}")

    async def _certificate(self) -> CertificateInfo | None:
        """The TLS certificate named in the config, when cert-manager has it (one GET)."""
        s = self.settings
        try:
            obj = await self.source.get(
                f"/apis/cert-manager.io/v1/namespaces/{s.namespace}/certificates/{s.certificate}")
        except KubeError:
            return None  # no cert-manager, no such certificate, not ours to read, no answer
        return parse.certificate(obj, utcnow())

    def _snapshot(self, objects: dict[str, list[dict]], usage: dict[str, dict],
                  metrics_error: str | None) -> KubeSnapshot:
        now = utcnow()
        s = self.settings
        dep = next((o for o in objects["deployments"] if o["metadata"]["name"] == s.deployment), None)
        hpa = next((o for o in objects["hpas"] if o["metadata"]["name"] == s.hpa), None)
        pods = []
        for obj in sorted(objects["pods"], key=lambda o: o["metadata"]["name"]):
            name = obj["metadata"]["name"]
            info = parse.pod(obj, now, usage.get(f"pod/{name}"), self._restarts.get(name))
            self._restarts[name] = info.restarts
            pods.append(info)
        self._restarts = {p.name: p.restarts for p in pods}
        warnings = [parse.event(o, now) for o in objects["events"] if o.get("type") == "Warning"]
        warnings.sort(key=lambda e: e.age_seconds)
        return KubeSnapshot(
            collected_at=now,
            namespace=s.namespace,
            deployment=parse.deployment(dep, s.container) if dep else None,
            deployment_note="" if dep else f"deployment {s.deployment} not found in {s.namespace}",
            hpa=parse.hpa(hpa) if hpa else None,
            pods=tuple(pods),
            nodes=tuple(parse.node(o, usage.get(f"node/{o['metadata']['name']}"),
                                   self._disk.get(o["metadata"]["name"]))
                        for o in sorted(objects["nodes"], key=lambda o: o["metadata"]["name"])),
            events=tuple(warnings[:MAX_EVENTS]),
            metrics_error=metrics_error if not usage else None,
        )
