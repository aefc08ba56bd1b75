"""Cluster reads and writes the recovery wizards need beyond the engine's reader and writer.

:class:`ClusterReads` wraps the :class:`~console.execution.kube.KubeReader` every step gets
(secrets, pods, claims, jobs, logs, events, Velero objects, a watch of one object);
:class:`ClusterWrites` can only be built from the :class:`~console.execution.kube.KubeWriter`
that ``ctx.mutations`` hands a granted step, so a read step cannot create or patch anything
through it. Both return plain JSON dicts, like ``kubectl get -o json``, and put the
configured request timeout on every call. A missing object is ``None``, not an error.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import watch as k8s_watch
from kubernetes_asyncio.client.exceptions import ApiException

from console.execution.kube import response_json as _json
from console.sources.kube import KubeError

VELERO = ("velero.io", "v1")
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


async def _maybe(call: Any) -> dict[str, Any] | None:
    """The object, or None on 404."""
    try:
        return await _json(await call)
    except (ApiException, KubeError) as exc:
        if exc.status == 404:
            return None
        raise


class ClusterReads:
    def __init__(self, reader: Any):
        self.api = reader.api
        self.settings = reader.settings
        self.namespace: str = reader.namespace
        self.timeout = reader.settings.request_timeout
        self._opts = {"_request_timeout": self.timeout, "_preload_content": False}

    @property
    def core(self) -> k8s.CoreV1Api:
        return k8s.CoreV1Api(self.api)

    async def secret(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self.core.read_namespaced_secret(name, self.namespace, **self._opts))

    async def pod(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self.core.read_namespaced_pod(name, self.namespace, **self._opts))

    async def pods(self, selector: str) -> list[dict[str, Any]]:
        body = await _json(await self.core.list_namespaced_pod(
            self.namespace, label_selector=selector, **self._opts))
        return body.get("items", [])

    async def claim(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self.core.read_namespaced_persistent_volume_claim(
            name, self.namespace, **self._opts))

    async def service(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self.core.read_namespaced_service(name, self.namespace,
                                                              **self._opts))

    async def job(self, name: str) -> dict[str, Any] | None:
        batch = k8s.BatchV1Api(self.api)
        return await _maybe(batch.read_namespaced_job(name, self.namespace, **self._opts))

    async def jobs(self) -> list[dict[str, Any]]:
        batch = k8s.BatchV1Api(self.api)
        body = await _json(await batch.list_namespaced_job(self.namespace, **self._opts))
        return body.get("items", [])

    async def pod_log(self, name: str, container: str | None = None) -> str:
        text = await _json(await self.core.read_namespaced_pod_log(
            name, self.namespace, container=container, **self._opts))
        return text if isinstance(text, str) else json.dumps(text)

    async def events(self, namespace: str, involved: str) -> list[dict[str, Any]]:
        body = await _json(await self.core.list_namespaced_event(namespace, **self._opts))
        return [e for e in body.get("items", [])
                if (e.get("involvedObject") or {}).get("name") == involved]

    async def velero(self, plural: str, name: str) -> dict[str, Any] | None:
        custom = k8s.CustomObjectsApi(self.api)
        return await _maybe(custom.get_namespaced_custom_object(
            *VELERO, self.settings.velero_namespace, plural, name, **self._opts))

    async def velero_list(self, plural: str) -> list[dict[str, Any]]:
        custom = k8s.CustomObjectsApi(self.api)
        body = await _json(await custom.list_namespaced_custom_object(
            *VELERO, self.settings.velero_namespace, plural, **self._opts))
        return body.get("items", [])

    async def watch_velero(self, plural: str, name: str,
                           timeout: int) -> AsyncIterator[dict[str, Any]]:
        """The Velero object now, then every change to it, for up to ``timeout`` s."""
        current = await self.velero(plural, name)
        if current is None:
            raise LookupError(f"{plural}.velero.io {name!r} not found")
        yield current
        custom = k8s.CustomObjectsApi(self.api)
        watcher = k8s_watch.Watch()
        try:
            async for event in watcher.stream(
                custom.list_namespaced_custom_object, *VELERO,
                self.settings.velero_namespace, plural,
                field_selector=f"metadata.name={name}", timeout_seconds=timeout,
                resource_version=current["metadata"].get("resourceVersion"),
                _request_timeout=timeout + 5,
            ):
                obj = event.get("raw_object") or event.get("object")
                if isinstance(obj, dict) and obj.get("metadata", {}).get("name") == name:
                    yield obj
        finally:
            watcher.stop()
            await watcher.close()


class ClusterWrites:
    """The mutating calls of the recovery wizards; built only from a granted KubeWriter."""

    def __init__(self, writer: Any):
        from console.execution.kube import KubeWriter

        if not isinstance(writer, KubeWriter):
            raise TypeError("ClusterWrites needs the KubeWriter of a granted step "
                            "(await ctx.mutations.kube())")
        self.writer = writer
        self.api = writer.api
        self.settings = writer.settings
        self.namespace: str = writer.namespace
        self._opts = {"_request_timeout": self.settings.request_timeout,
                      "_preload_content": False}

    async def annotate_deployment(self, annotations: dict[str, str | None],
                                  name: str | None = None) -> dict[str, Any]:
        """``kubectl annotate deployment/NAME k=v`` (None removes a key)."""
        return await self.writer.patch_deployment(
            {"metadata": {"annotations": annotations}}, name)

    async def scale(self, replicas: int, name: str | None = None) -> dict[str, Any]:
        """``kubectl scale deployment/NAME --replicas=N`` (the engine's writer, checked)."""
        return await self.writer.scale_deployment(replicas, name)

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Create a core/v1 Pod, PersistentVolumeClaim, Service or Secret in the namespace."""
        core = k8s.CoreV1Api(self.api)
        kind = manifest["kind"]
        method = {"Pod": core.create_namespaced_pod,
                  "PersistentVolumeClaim": core.create_namespaced_persistent_volume_claim,
                  "Service": core.create_namespaced_service,
                  "Secret": core.create_namespaced_secret}[kind]
        return await _json(await method(self.namespace, manifest, **self._opts))

    async def patch_secret(self, name: str, data: dict[str, str]) -> dict[str, Any]:
        """``kubectl patch secret NAME --type merge -p '{"data": {...}}'`` (base64 values)."""
        core = k8s.CoreV1Api(self.api)
        return await _json(await core.patch_namespaced_secret(
            name, self.namespace, {"data": data}, _content_type=MERGE, **self._opts))

    async def create_velero(self, plural: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """``velero backup|restore create``: the custom object the CLI would create."""
        custom = k8s.CustomObjectsApi(self.api)
        return await _json(await custom.create_namespaced_custom_object(
            *VELERO, self.settings.velero_namespace, plural, manifest, **self._opts))
