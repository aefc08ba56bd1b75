"""Kubernetes access for wizard steps: a reader for every step, a writer only via the executor.

Both speak to the API through one kubernetes-asyncio ``ApiClient`` built from the
environment's kubeconfig and context, and return plain dicts (raw JSON, not generated
models), so a step's code reads like the ``kubectl get -o json`` output the guide shows.
Every call carries the configured request timeout. :class:`KubeWriter` holds the mutating
calls; it is constructed only by :class:`console.execution.context.Mutations`, which the
executor grants to a step after the read-only check and the confirmation.

The reader keeps its ``ApiClient`` private and offers reads only: its named methods, a
generic :meth:`KubeReader.get` / :meth:`KubeReader.watch` that accept only ``read_*``,
``list_*`` and ``get_*`` methods of the generated client (so wizard helpers such as
``ClusterReads`` are built on the reader, not on the raw client), and an
:class:`ExecTarget` for a command that only reads (see :mod:`.read_access`).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config
from kubernetes_asyncio import watch as k8s_watch
from kubernetes_asyncio.stream import WsApiClient

from console.sources.kube import KubeError, kubeconfig_path, status_message

from .read_access import NotPermitted, read_exec_problem

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
READ_METHOD = re.compile(r"^(read|list|get)_\w+$")


async def api_client(settings: Any) -> k8s.ApiClient:
    """An ApiClient for ``settings`` (console.config KubernetesSettings)."""
    return await k8s_config.new_client_from_config(
        config_file=kubeconfig_path(settings), context=settings.context,
        persist_config=False,
    )


async def response_json(response: Any) -> Any:
    """The JSON (or text, for logs) of a response read without preloading. The client does
    not raise on an error status then, so it is done here: a 403 on a scale must never pass
    for a scaled deployment. Raises :class:`KubeError` with the API's own message."""
    try:
        raw = await response.read()
        if not 200 <= response.status <= 299:
            raise KubeError(response.status, status_message(raw.decode("utf-8", "replace")))
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode("utf-8", "replace")
    finally:
        response.release()


@dataclass(frozen=True)
class ExecTarget:
    """A command to exec in a pod, as the reader (read commands only) or the writer made
    it; :meth:`websocket` opens the exec connection with the environment's credentials."""

    namespace: str
    pod: str
    command: tuple[str, ...]
    container: str | None = None
    _configuration: Any = field(default=None, repr=False, compare=False)

    def websocket(self) -> WsApiClient:
        return WsApiClient(configuration=self._configuration)


class KubeReader:
    """Read-only calls in the environment's namespace (the names default to the config's)."""

    def __init__(self, api: k8s.ApiClient, settings: Any):
        self._api = api
        self.settings = settings
        self.namespace: str = settings.namespace
        self._opts = {"_request_timeout": settings.request_timeout, "_preload_content": False}

    def _read_method(self, api_class: str, method: str) -> Any:
        """``api_class.method`` bound to the private client, if it is a read."""
        cls = getattr(k8s, api_class, None) if api_class.endswith("Api") else None
        if cls is None:
            raise NotPermitted(f"{api_class!r} is not a Kubernetes API group class")
        if not READ_METHOD.match(method) or not hasattr(cls, method):
            raise NotPermitted(f"{api_class}.{method} is not a read; a step that needs it "
                               "must be a change step (ctx.mutations.kube())")
        return getattr(cls(self._api), method)

    async def get(self, api_class: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """One read of the generated client by name, e.g. ``get("CoreV1Api",
        "read_namespaced_secret", name, namespace)``: JSON, the request timeout applied,
        an error status raised as :class:`KubeError`."""
        call = self._read_method(api_class, method)
        return await response_json(await call(*args, **{**self._opts, **kwargs}))

    async def watch(self, api_class: str, method: str, *args: Any, name: str,
                    resource_version: str | None, timeout: int) -> AsyncIterator[dict[str, Any]]:
        """Every change to the object ``name`` listed by ``method`` (a ``list_*``), from
        ``resource_version``, for up to ``timeout`` seconds."""
        if not method.startswith("list_"):
            raise NotPermitted(f"{method} cannot be watched (a list_* method is needed)")
        call = self._read_method(api_class, method)
        watcher = k8s_watch.Watch()
        try:
            async for event in watcher.stream(
                call, *args, field_selector=f"metadata.name={name}", timeout_seconds=timeout,
                resource_version=resource_version, _request_timeout=timeout + 5,
            ):
                obj = event.get("raw_object") or event.get("object")
                if isinstance(obj, dict) and obj.get("metadata", {}).get("name") == name:
                    yield obj
        finally:
            watcher.stop()
            await watcher.close()  # releases the stream (and the Watch's own idle client)

    def exec_target(self, pod: str, command: Sequence[str],
                    container: str | None = None) -> ExecTarget:
        """A command that only reads (``pg_isready``, read-only ``psql``) to exec in
        ``pod``; anything else raises :class:`NotPermitted` before a socket is opened."""
        problem = read_exec_problem(list(command))
        if problem:
            raise NotPermitted(f"exec in pod {pod}: {problem}; a step that needs it must be "
                               "a change step (ctx.mutations.kube())")
        return ExecTarget(self.namespace, pod, tuple(command), container,
                          self._api.configuration)

    async def deployment(self, name: str | None = None) -> dict[str, Any]:
        apps = k8s.AppsV1Api(self._api)
        return await response_json(await apps.read_namespaced_deployment(
            name or self.settings.deployment, self.namespace, **self._opts))

    async def pods(self, selector: str | None = None) -> list[dict[str, Any]]:
        core = k8s.CoreV1Api(self._api)
        body = await response_json(await core.list_namespaced_pod(
            self.namespace, label_selector=selector or self.settings.app_selector, **self._opts))
        return body.get("items", [])

    async def hpa(self, name: str | None = None) -> dict[str, Any]:
        autoscaling = k8s.AutoscalingV2Api(self._api)
        return await response_json(await autoscaling.read_namespaced_horizontal_pod_autoscaler(
            name or self.settings.hpa, self.namespace, **self._opts))

    async def events(self) -> list[dict[str, Any]]:
        core = k8s.CoreV1Api(self._api)
        body = await response_json(await core.list_namespaced_event(self.namespace, **self._opts))
        return body.get("items", [])

    async def custom_objects(self, group: str, version: str, plural: str,
                             namespace: str | None = None) -> list[dict[str, Any]]:
        custom = k8s.CustomObjectsApi(self._api)
        body = await response_json(await custom.list_namespaced_custom_object(
            group, version, namespace or self.namespace, plural, **self._opts))
        return body.get("items", [])

    async def watch_deployment(self, name: str | None = None,
                               timeout: int = 300) -> AsyncIterator[dict[str, Any]]:
        """The deployment now, then every change to it, until ``timeout`` seconds."""
        name = name or self.settings.deployment
        current = await self.deployment(name)
        yield current
        async for obj in self.watch("AppsV1Api", "list_namespaced_deployment", self.namespace,
                                    name=name, timeout=timeout,
                                    resource_version=current["metadata"].get("resourceVersion")):
            yield obj


class KubeWriter:
    """The mutating calls. Only :class:`console.execution.context.Mutations` builds one."""

    def __init__(self, api: k8s.ApiClient, settings: Any):
        self.api = api
        self.settings = settings
        self.namespace: str = settings.namespace
        self._opts = {"_request_timeout": settings.request_timeout, "_preload_content": False}

    async def scale_deployment(self, replicas: int, name: str | None = None) -> dict[str, Any]:
        """``kubectl scale deployment/NAME --replicas=N``: a patch of the scale subresource."""
        apps = k8s.AppsV1Api(self.api)
        return await response_json(await apps.patch_namespaced_deployment_scale(
            name or self.settings.deployment, self.namespace, {"spec": {"replicas": replicas}},
            _content_type=MERGE, **self._opts))

    async def patch_hpa(self, patch: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """``kubectl patch hpa NAME -p '...'``: a strategic merge patch, as kubectl sends."""
        autoscaling = k8s.AutoscalingV2Api(self.api)
        return await response_json(await autoscaling.patch_namespaced_horizontal_pod_autoscaler(
            name or self.settings.hpa, self.namespace, patch, _content_type=STRATEGIC,
            **self._opts))

    async def patch_deployment(self, patch: dict[str, Any],
                               name: str | None = None) -> dict[str, Any]:
        apps = k8s.AppsV1Api(self.api)
        return await response_json(await apps.patch_namespaced_deployment(
            name or self.settings.deployment, self.namespace, patch, _content_type=STRATEGIC,
            **self._opts))

    async def rollout_restart(self, at: str, name: str | None = None) -> dict[str, Any]:
        """``kubectl rollout restart``: stamp the pod template so every pod is replaced."""
        return await self.patch_deployment(
            {"spec": {"template": {"metadata": {"annotations": {
                "kubectl.kubernetes.io/restartedAt": at}}}}}, name)

    def exec_target(self, pod: str, command: Sequence[str],
                    container: str | None = None) -> ExecTarget:
        """Any command in ``pod`` (``kubectl exec``): a granted step's means, e.g. the
        restore's ``pg_restore`` fed from S3."""
        return ExecTarget(self.namespace, pod, tuple(command), container,
                          self.api.configuration)
