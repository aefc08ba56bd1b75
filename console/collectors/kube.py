"""Kubernetes collector: deployment, HPA, pods, nodes and Warning events, plus CPU and
memory from metrics.k8s.io.

With ``watch=True`` (the dashboard) the objects come from :class:`Informer` caches kept up
to date by watch streams, and a refresh only reads the caches and asks metrics.k8s.io for
usage (metrics cannot be watched). With ``watch=False`` (``mcp-ops check``, one shot) every
collection is listed once. Either way the result is a frozen :class:`KubeSnapshot`.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from console.config.model import KubernetesSettings
from console.sources.kube import KubeError, KubeSource

from . import kube_parse as parse
from .base import describe_error, utcnow
from .kube_informer import Informer
from .kube_model import CertificateInfo, KubeSnapshot

MAX_EVENTS = 20


class KubeCollector:
    def __init__(self, settings: KubernetesSettings, *, watch: bool = True,
                 timeout: float = 3.0, source: KubeSource | None = None) -> None:
        self.settings = settings
        self.watch = watch
        self.timeout = timeout
        self.source = source or KubeSource(settings, timeout=timeout)
        ns = settings.namespace
        self.paths = {
            "deployments": (f"/apis/apps/v1/namespaces/{ns}/deployments", {}),
            "hpas": (f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers", {}),
            "pods": (f"/api/v1/namespaces/{ns}/pods", {"labelSelector": settings.app_selector}),
            "nodes": ("/api/v1/nodes", {}),
            "events": (f"/api/v1/namespaces/{ns}/events", {}),
        }
        self.informers: dict[str, Informer] = {}
        self._restarts: dict[str, int] = {}

    async def close(self) -> None:
        await asyncio.gather(*(i.stop() for i in self.informers.values()))
        self.informers.clear()
        await self.source.close()

    async def collect(self) -> KubeSnapshot:
        try:
            objects = await (self._cached() if self.watch else self._listed())
            (usage, metrics_error), certificate = await asyncio.gather(
                self._metrics(), self._certificate())
            return replace(self._snapshot(objects, usage, metrics_error), certificate=certificate)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a snapshot
            return KubeSnapshot.failed(describe_error(exc), namespace=self.settings.namespace)

    async def _listed(self) -> dict[str, list[dict]]:
        bodies = await asyncio.gather(*(self.source.get(path, **params)
                                        for path, params in self.paths.values()))
        return {name: body.get("items", []) for name, body in zip(self.paths, bodies, strict=True)}

    async def _cached(self) -> dict[str, list[dict]]:
        if not self.informers:
            for name, (path, params) in self.paths.items():
                self.informers[name] = Informer(self.source, path, **params)
        for informer in self.informers.values():
            informer.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        for informer in self.informers.values():
            if informer.synced.is_set():
                continue
            try:
                await asyncio.wait_for(informer.synced.wait(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                errors = [i.error for i in self.informers.values() if i.error]
                raise KubeError(0, errors[0] if errors else "the API did not answer in time") from None
        errors = [i.error for i in self.informers.values() if i.error]
        if errors:  # the caches may be stale: say so, keep the panel's last data
            raise KubeError(0, errors[0])
        return {name: i.values() for name, i in self.informers.items()}

    async def _metrics(self) -> tuple[dict[str, dict], str | None]:
        ns = self.settings.namespace
        try:
            pods, nodes = await asyncio.gather(
                self.source.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods",
                                labelSelector=self.settings.app_selector),
                self.source.get("/apis/metrics.k8s.io/v1beta1/nodes"),
            )
        except KubeError as exc:
            return {}, f"metrics.k8s.io: {exc}"
        usage = {f"pod/{m['metadata']['name']}": m for m in pods.get("items", [])}
        usage |= {f"node/{m['metadata']['name']}": m for m in nodes.get("items", [])}
        return usage, None

    async def _certificate(self) -> CertificateInfo | None:
        """The TLS certificate named in the config, when cert-manager has it (one GET)."""
        s = self.settings
        try:
            obj = await self.source.get(
                f"/apis/cert-manager.io/v1/namespaces/{s.namespace}/certificates/{s.certificate}")
        except KubeError:
            return None  # no cert-manager, no such certificate, or not ours to read
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
            nodes=tuple(parse.node(o, usage.get(f"node/{o['metadata']['name']}"))
                        for o in sorted(objects["nodes"], key=lambda o: o["metadata"]["name"])),
            events=tuple(warnings[:MAX_EVENTS]),
            metrics_error=metrics_error if not usage else None,
        )
