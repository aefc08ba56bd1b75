"""Cluster reads and writes the recovery wizards need beyond the engine's reader and writer.

:class:`ClusterReads` wraps the :class:`~console.execution.kube.KubeReader` every step gets
(secrets, pods, claims, jobs, logs, events, Velero objects, a watch of one object) and works
only through the reader's read surface (``get``/``watch``/``exec_target``), never a raw
client, so nothing built on it can write;
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
from kubernetes_asyncio.client.exceptions import ApiException

from console.execution.kube import ExecTarget
from console.execution.kube import response_json as _json
from console.sources.kube import KubeError

VELERO = ("velero.io", "v1")
STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


async def _maybe(call: Any) -> dict[str, Any] | None:
    """The object (``call`` awaits to its JSON), or None on 404."""
    try:
        return await call
    except (ApiException, KubeError) as exc:
        if exc.status == 404:
            return None
        raise


class ClusterReads:
    def __init__(self, reader: Any):
        self._reader = reader
        self.settings = reader.settings
        self.namespace: str = reader.namespace
        self.timeout = reader.settings.request_timeout

    async def _core(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return await self._reader.get("CoreV1Api", method, *args, **kwargs)

    async def secret(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self._core("read_namespaced_secret", name, self.namespace))

    async def pod(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self._core("read_namespaced_pod", name, self.namespace))

    async def pods(self, selector: str) -> list[dict[str, Any]]:
        body = await self._core("list_namespaced_pod", self.namespace, label_selector=selector)
        return body.get("items", [])

    async def claim(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self._core("read_namespaced_persistent_volume_claim", name,
                                       self.namespace))

    async def service(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self._core("read_namespaced_service", name, self.namespace))

    async def job(self, name: str) -> dict[str, Any] | None:
        return await _maybe(self._reader.get("BatchV1Api", "read_namespaced_job", name,
                                             self.namespace))

    async def jobs(self) -> list[dict[str, Any]]:
        body = await self._reader.get("BatchV1Api", "list_namespaced_job", self.namespace)
        return body.get("items", [])

    async def pod_log(self, name: str, container: str | None = None) -> str:
        text = await self._core("read_namespaced_pod_log", name, self.namespace,
                                container=container)
        return text if isinstance(text, str) else json.dumps(text)

    async def events(self, namespace: str, involved: str) -> list[dict[str, Any]]:
        body = await self._core("list_namespaced_event", namespace)
        return [e for e in body.get("items", [])
                if (e.get("involvedObject") or {}).get("name") == involved]

    async def velero(self, plural: str, name: str) -> dict[str, Any] | None:
        return await _maybe(self._reader.get(
            "CustomObjectsApi", "get_namespaced_custom_object", *VELERO,
            self.settings.velero_namespace, plural, name))

    async def velero_list(self, plural: str) -> list[dict[str, Any]]:
        body = await self._reader.get("CustomObjectsApi", "list_namespaced_custom_object",
                                      *VELERO, self.settings.velero_namespace, plural)
        return body.get("items", [])

    async def watch_velero(self, plural: str, name: str,
                           timeout: int) -> AsyncIterator[dict[str, Any]]:
        """The Velero object now, then every change to it, for up to ``timeout`` s."""
        current = await self.velero(plural, name)
        if current is None:
            raise LookupError(f"{plural}.velero.io {name!r} not found")
        yield current
        async for obj in self._reader.watch(
                "CustomObjectsApi", "list_namespaced_custom_object", *VELERO,
                self.settings.velero_namespace, plural, name=name, timeout=timeout,
                resource_version=current["metadata"].get("resourceVersion")):
            yield obj

    def exec_target(self, pod: str, command: list[str],
                    container: str | None = None) -> ExecTarget:
        """A reading command (pg_isready, read-only psql) in ``pod``; see the reader."""
        return self._reader.exec_target(pod, command, container)


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

    def exec_target(self, pod: str, command: list[str],
                    container: str | None = None) -> ExecTarget:
        """Any command in ``pod`` (``kubectl exec``), e.g. pg_restore fed from S3."""
        return self.writer.exec_target(pod, command, container)

    async def create_velero(self, plural: str, manifest: dict[str, Any]) -> dict[str, Any]:
        """``velero backup|restore create``: the custom object the CLI would create."""
        custom = k8s.CustomObjectsApi(self.api)
        return await _json(await custom.create_namespaced_custom_object(
            *VELERO, self.settings.velero_namespace, plural, manifest, **self._opts))
