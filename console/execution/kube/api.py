"""One wizard run's Kubernetes API: the client stack the reader and the writer share.

It is the :class:`~console.sources.kube.KubeSource` the dashboard's collectors read through
(one kubernetes-asyncio ``ApiClient`` from the environment's kubeconfig and context: GET,
streams and watches, every failure a :class:`KubeError`), plus what a wizard needs on top:
the REST path of any object by its apiVersion and kind, found through API discovery (so a
custom resource — Velero's Backup, cert-manager's Certificate — is addressed like a Pod),
and a 404 read as "absent". Only GET is sent from here; the writes are
:class:`~console.execution.kube.writer.KubeWriter`'s own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio.client import ApiClient
from kubernetes_asyncio.config import new_client_from_config

from console.config.model import KubernetesSettings
from console.sources.kube import KubeError, KubeSource, kubeconfig_path

# the apiVersion of the kinds wizards name by kind alone
API_VERSIONS = {
    "Pod": "v1", "Service": "v1", "Secret": "v1", "ConfigMap": "v1", "Node": "v1",
    "Namespace": "v1", "PersistentVolumeClaim": "v1", "Event": "v1", "ServiceAccount": "v1",
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
    "Job": "batch/v1", "CronJob": "batch/v1", "PodDisruptionBudget": "policy/v1",
    "NetworkPolicy": "networking.k8s.io/v1", "Ingress": "networking.k8s.io/v1",
    "Backup": "velero.io/v1", "Restore": "velero.io/v1", "Schedule": "velero.io/v1",
    "Certificate": "cert-manager.io/v1", "Lease": "coordination.k8s.io/v1",
}


@dataclass(frozen=True)
class Resource:
    """One kind as the API serves it (from discovery)."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str | None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        if self.namespaced:
            if not namespace:
                raise ValueError(f"{self.kind} is namespaced: a namespace is needed")
            base += f"/namespaces/{namespace}"
        path = f"{base}/{self.plural}"
        if name:
            path += f"/{name}"
            if subresource:
                path += f"/{subresource}"
        return path


async def api_client(settings: KubernetesSettings) -> ApiClient:
    """A fresh ApiClient for ``settings`` (the start-up probe's own, closed after it)."""
    return await new_client_from_config(config_file=kubeconfig_path(settings),
                                        context=settings.context, persist_config=False)


def api_version_of(kind: str, api_version: str | None = None) -> str:
    if api_version:
        return api_version
    try:
        return API_VERSIONS[kind]
    except KeyError:
        raise ValueError(f"the apiVersion of kind {kind!r} must be given") from None


class KubeApi:
    """GET, watch and discovery for one run; shared by its reader, writer and collectors."""

    def __init__(self, settings: KubernetesSettings, source: KubeSource | None = None):
        self.settings = settings
        self.source = source or KubeSource(settings)
        self._resources: dict[str, dict[str, Resource]] = {}

    async def client(self) -> ApiClient:
        return await self.source.client()

    async def close(self) -> None:
        await self.source.close()

    async def get(self, path: str, **params: Any) -> dict[str, Any]:
        return await self.source.get(path, **params)

    async def get_text(self, path: str, **params: Any) -> str:
        return await self.source.get_text(path, **params)

    async def maybe(self, path: str, **params: Any) -> dict[str, Any] | None:
        """The object, or None when the API answers 404."""
        try:
            return await self.source.get(path, **params)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def lines(self, path: str, *, read_timeout: float | None,
              **params: Any) -> AsyncIterator[str]:
        """A streaming GET's lines as they arrive (a followed log)."""
        return self.source.lines(path, read_timeout=read_timeout, **params)

    def watch(self, path: str, resource_version: str, *, seconds: int,
              **params: Any) -> AsyncIterator[dict[str, Any]]:
        return self.source.watch(path, resource_version, seconds=seconds, **params)

    async def resource(self, kind: str, api_version: str | None = None) -> Resource:
        """The plural and scope of ``kind`` in ``api_version``, from API discovery."""
        version = api_version_of(kind, api_version)
        if version not in self._resources:
            path = "/api/v1" if version == "v1" else f"/apis/{version}"
            try:
                body = await self.source.get(path)
            except KubeError as exc:
                if exc.status == 404:
                    raise KubeError(404, f"the API does not serve {version}") from exc
                raise
            self._resources[version] = {
                r["kind"]: Resource(version, r["kind"], r["name"], bool(r.get("namespaced")))
                for r in body.get("resources", []) if "/" not in r.get("name", "/")}
        try:
            return self._resources[version][kind]
        except KeyError:
            raise KubeError(404, f"the API does not serve kind {kind} in {version}") from None

    async def path(self, kind: str, name: str | None = None, *, namespace: str | None = None,
                   api_version: str | None = None, subresource: str | None = None) -> str:
        """The REST path of an object (or, without ``name``, of its collection); a namespaced
        kind without ``namespace`` is in the environment's namespace."""
        resource = await self.resource(kind, api_version)
        return resource.path(namespace or self.settings.namespace, name, subresource)
