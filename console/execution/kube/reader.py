"""Kubernetes reads for every wizard step: typed views, and raw JSON where a step needs it.

``await ctx.kube()`` gives a step this reader. Its views are the dashboard's own records,
made by the collectors' parsers (:mod:`console.collectors.kube_parse`, ``velero_parse``):
a :class:`DeploymentInfo` with its rollout state, :class:`PodInfo`, :class:`HpaInfo`,
:class:`NodeInfo`, :class:`EventInfo`, :class:`CertificateInfo`, Velero's
:class:`VeleroBackup` and :class:`VeleroRestore` — so "ready", "latest backup" or "CPU
target" mean the same in a wizard as on the screen. Where a step needs a whole object (a
secret's data, a restore's manifest) :meth:`KubeReader.raw` returns its JSON, and
:meth:`KubeReader.get` calls any ``read_*``/``list_*``/``get_*`` method of the generated
client by name. Nothing here can write: the reader has no raw client to hand out, its
generic calls accept only reads, and :meth:`KubeReader.exec_target` only commands that
read (see :mod:`console.execution.read_access`). Every call carries the configured
request timeout; a missing object is ``None`` where the method says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import watch as k8s_watch

from console.collectors import kube_parse, velero_parse
from console.collectors.backups_model import VeleroBackup, VeleroRestore
from console.collectors.kube_model import (
    CertificateInfo,
    DeploymentInfo,
    EventInfo,
    HpaInfo,
    NodeInfo,
    PodInfo,
)
from console.config.model import KubernetesSettings
from console.sources.kube import KubeError, status_error

from ..model import StepFailed
from ..read_access import NotPermitted, read_exec_problem
from .api import KubeApi
from .exec import ExecTarget

READ_METHOD = re.compile(r"^(read|list|get)_\w+$")
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"


def _now() -> datetime:
    return datetime.now(UTC)


async def response_json(response: Any) -> Any:
    """The JSON (or text, for logs) of a response read without preloading. The client does
    not raise on an error status then, so it is done here: a 403 on a scale must never pass
    for a scaled deployment. Raises :class:`KubeError` with the API's own message."""
    try:
        raw = await response.read()
        if not 200 <= response.status <= 299:
            raise status_error(response.status, raw.decode("utf-8", "replace"))
        return json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode("utf-8", "replace")
    finally:
        response.release()


class Revision:
    """One revision of a Deployment, as ``kubectl rollout history`` lists it."""

    def __init__(self, replica_set: dict[str, Any]):
        meta = replica_set.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        self.replica_set = str(meta.get("name", ""))
        self.number = int(annotations.get(REVISION) or 0)
        self.change_cause = str(annotations.get(CHANGE_CAUSE, ""))
        template = (replica_set.get("spec") or {}).get("template") or {}
        self.images = tuple(c.get("image", "") for c in
                            (template.get("spec") or {}).get("containers") or [])
        self.template = template
        self.annotations = dict(annotations)
        self.replicas = int((replica_set.get("spec") or {}).get("replicas") or 0)

    def __repr__(self) -> str:
        return f"Revision({self.number}, {self.replica_set}, {self.images})"


class KubeReader:
    """Reads in the environment's namespace (names default to the config's)."""

    def __init__(self, api: KubeApi, settings: KubernetesSettings):
        self._api = api
        self.settings = settings
        self.namespace: str = settings.namespace
        self._opts = {"_request_timeout": settings.request_timeout, "_preload_content": False}

    # ---- typed views ---------------------------------------------------------------------
    async def deployment(self, name: str | None = None) -> DeploymentInfo:
        """``kubectl get deployment/NAME``; raises :class:`KubeError` 404 when absent."""
        return kube_parse.deployment(await self.deployment_json(name), self.settings.container)

    async def deployment_json(self, name: str | None = None) -> dict[str, Any]:
        """The Deployment's whole object (its pod template, for an undo or a diff)."""
        return await self._api.get(await self._api.path(
            "Deployment", name or self.settings.deployment))

    async def statefulsets(self, selector: str) -> list[DeploymentInfo]:
        """StatefulSets matching ``selector``, read with the deployment parser (the replica
        fields are the same: spec.replicas, status.readyReplicas...)."""
        body = await self._api.get(await self._api.path("StatefulSet"), labelSelector=selector)
        return [kube_parse.deployment(o, self.settings.container)
                for o in body.get("items", [])]

    async def pods(self, selector: str | None = None, *, node: str | None = None,
                   all_namespaces: bool = False) -> list[PodInfo]:
        """Pods by label selector (default: the application's), on one node, or in every
        namespace; sorted by name."""
        params: dict[str, Any] = {}
        if node is None or selector is not None:
            params["labelSelector"] = selector or self.settings.app_selector
        if node is not None:
            params["fieldSelector"] = f"spec.nodeName={node}"
        path = "/api/v1/pods" if all_namespaces else await self._api.path("Pod")
        body = await self._api.get(path, **params)
        now = _now()
        return sorted((kube_parse.pod(o, now, None, None) for o in body.get("items", [])),
                      key=lambda p: (p.namespace, p.name))

    async def pod(self, name: str, namespace: str | None = None) -> PodInfo | None:
        obj = await self._api.maybe(await self._api.path("Pod", name, namespace=namespace))
        return kube_parse.pod(obj, _now(), None, None) if obj else None

    async def hpa(self, name: str | None = None) -> HpaInfo:
        """``kubectl get hpa/NAME`` (autoscaling/v2); raises :class:`KubeError` when absent."""
        return kube_parse.hpa(await self._api.get(await self._api.path(
            "HorizontalPodAutoscaler", name or self.settings.hpa)))

    async def nodes(self) -> list[NodeInfo]:
        body = await self._api.get("/api/v1/nodes")
        return sorted((kube_parse.node(o, None) for o in body.get("items", [])),
                      key=lambda n: n.name)

    async def node(self, name: str) -> NodeInfo | None:
        obj = await self._api.maybe(f"/api/v1/nodes/{name}")
        return kube_parse.node(obj, None) if obj else None

    async def events(self, involved: str | None = None, *, namespace: str | None = None,
                     warnings_only: bool = False) -> list[EventInfo]:
        """Events of the namespace (of one involved object by name), newest first."""
        body = await self._api.get(await self._api.path("Event", namespace=namespace))
        now = _now()
        items = [o for o in body.get("items", [])
                 if (involved is None or (o.get("involvedObject") or {}).get("name") == involved)
                 and (not warnings_only or o.get("type") == "Warning")]
        return sorted((kube_parse.event(o, now) for o in items), key=lambda e: e.age_seconds)

    async def certificate(self, name: str | None = None) -> CertificateInfo | None:
        obj = await self._api.maybe(await self._api.path(
            "Certificate", name or self.settings.certificate))
        return kube_parse.certificate(obj, _now()) if obj else None

    async def backups(self) -> list[VeleroBackup]:
        """Velero backups oldest first, as ``kubectl get backups --sort-by=
        .metadata.creationTimestamp`` lists them (the dashboard's order)."""
        items = await self.raw_list("Backup", namespace=self.settings.velero_namespace)
        now = _now()
        return [velero_parse.velero_backup(o, now) for o in velero_parse.by_creation(items)]

    async def backup(self, name: str) -> VeleroBackup | None:
        obj = await self.raw("Backup", name, namespace=self.settings.velero_namespace)
        return velero_parse.velero_backup(obj, _now()) if obj else None

    async def restores(self) -> list[VeleroRestore]:
        """Velero restores oldest first."""
        items = await self.raw_list("Restore", namespace=self.settings.velero_namespace)
        return [velero_parse.velero_restore(o) for o in velero_parse.by_creation(items)]

    async def restore(self, name: str) -> VeleroRestore | None:
        obj = await self.raw("Restore", name, namespace=self.settings.velero_namespace)
        return velero_parse.velero_restore(obj) if obj else None

    async def rollout_history(self, name: str | None = None) -> list[Revision]:
        """The Deployment's revisions, oldest first: its ReplicaSets (those it controls)."""
        deployment = await self.deployment_json(name)
        uid = deployment["metadata"].get("uid")
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        selector = ",".join(f"{k}={v}" for k, v in labels.items())
        owned = [rs for rs in await self.raw_list("ReplicaSet", selector=selector or None)
                 if any(r.get("uid") == uid and r.get("controller")
                        for r in rs["metadata"].get("ownerReferences") or [])]
        return sorted((Revision(rs) for rs in owned), key=lambda r: r.number)

    async def rules_review(self, namespace: str | None = None, *,
                           as_user: str | None = None) -> dict[str, Any]:
        """``kubectl auth can-i --list [--as USER] -n NS``: a SelfSubjectRulesReview — a
        question the API server answers, nothing is stored — impersonating ``as_user``
        (``system:serviceaccount:NS:NAME``; the caller needs the ``impersonate`` verb)."""
        api = k8s.AuthorizationV1Api(await self._api.client())
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": namespace or self.namespace}}
        headers = {"Impersonate-User": as_user} if as_user else {}
        call: Any = api.create_self_subject_rules_review  # its stub lacks the _headers option
        review = await response_json(await call(body, _headers=headers, **self._opts))
        status: dict[str, Any] = review.get("status") or {}
        return status

    # ---- raw JSON ------------------------------------------------------------------------
    async def raw(self, kind: str, name: str, *, namespace: str | None = None,
                  api_version: str | None = None) -> dict[str, Any] | None:
        """Any object's JSON by kind (and apiVersion, for kinds not in the usual list), or
        None when it does not exist: a secret's data, a claim, a Job, a restore manifest."""
        return await self._api.maybe(await self._api.path(
            kind, name, namespace=namespace, api_version=api_version))

    async def raw_list(self, kind: str, *, selector: str | None = None,
                       namespace: str | None = None,
                       api_version: str | None = None) -> list[dict[str, Any]]:
        body = await self._api.get(await self._api.path(kind, namespace=namespace,
                                                        api_version=api_version),
                                   labelSelector=selector)
        return list(body.get("items", []))

    async def secret(self, name: str) -> dict[str, Any] | None:
        return await self.raw("Secret", name)

    async def pod_log(self, name: str, container: str | None = None, *,
                      previous: bool = False, tail: int | None = None,
                      since_seconds: int | None = None, namespace: str | None = None) -> str:
        """``kubectl logs POD [-c C] [--previous] [--tail N] [--since Ns]``."""
        path = await self._api.path("Pod", name, namespace=namespace, subresource="log")
        return await self._api.get_text(path, container=container, previous=previous or None,
                                        tailLines=tail, sinceSeconds=since_seconds)

    async def stream_log(self, name: str, container: str | None = None, *,
                         follow: bool = False, tail: int | None = None,
                         since_seconds: int | None = None, previous: bool = False,
                         namespace: str | None = None) -> AsyncIterator[str]:
        """``kubectl logs [-f] [--tail N] [--since Ns]``: the lines as they arrive, one at a
        time (memory stays flat however long the log); ``follow`` waits for new ones."""
        path = await self._api.path("Pod", name, namespace=namespace, subresource="log")
        async for line in self._api.lines(
                path, read_timeout=None if follow else self.settings.request_timeout,
                container=container, follow=follow or None, tailLines=tail,
                sinceSeconds=since_seconds, previous=previous or None):
            yield line

    async def watch_object(self, kind: str, name: str, *, timeout: int,
                           namespace: str | None = None,
                           api_version: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """The object now, then every change to it (one watch stream), for up to
        ``timeout`` seconds; LookupError when it does not exist."""
        current = await self.raw(kind, name, namespace=namespace, api_version=api_version)
        if current is None:
            raise LookupError(f"{kind} {name!r} not found")
        yield current
        path = await self._api.path(kind, namespace=namespace, api_version=api_version)
        async for event in self._api.watch(
                path, current["metadata"].get("resourceVersion", ""), seconds=timeout,
                fieldSelector=f"metadata.name={name}"):
            obj = event.get("object") or {}
            if event.get("type") in ("ADDED", "MODIFIED") and \
                    (obj.get("metadata") or {}).get("name") == name:
                yield obj
            elif event.get("type") == "DELETED":
                raise LookupError(f"{kind} {name!r} was deleted")

    async def watch_deployment(self, name: str | None = None,
                               timeout: int = 300) -> AsyncIterator[DeploymentInfo]:
        """The deployment now, then every change to it, until ``timeout`` seconds."""
        async for obj in self.watch_object("Deployment", name or self.settings.deployment,
                                           timeout=timeout):
            yield kube_parse.deployment(obj, self.settings.container)

    async def follow_rollout(self, name: str | None = None, *, timeout: int = 300,
                             replicas: int | None = None) -> AsyncIterator[DeploymentInfo]:
        """``kubectl rollout status``: the deployment at each change until its rollout is
        complete. :class:`StepFailed` when the watch ends first, when the controller
        reports ``ProgressDeadlineExceeded``, or when ``spec.replicas`` moves away from
        ``replicas`` (an HPA or another operator scaled it)."""
        last = None
        async for deployment in self.watch_deployment(name, timeout=timeout):
            last = deployment
            if replicas is not None and deployment.desired != replicas:
                raise StepFailed(
                    f"spec.replicas changed to {deployment.desired} during the rollout (asked "
                    f"for {replicas}): the HPA or another operator scaled it; set the HPA's "
                    f"minimum to at least {replicas} to hold it")
            yield deployment
            if deployment.rollout_complete:
                return
            # as kubectl: a deadline counts only once the controller saw the latest spec
            # (right after an undo the status still holds the failed rollout's condition)
            if (deployment.rollout == "ProgressDeadlineExceeded"
                    and deployment.observed_generation >= deployment.generation):
                raise StepFailed(f"deployment {deployment.name} exceeded its progress "
                                 f"deadline: {deployment.rollout_message or deployment.rollout_text}")
        raise StepFailed(f"the rollout did not settle within {timeout}s "
                         f"({last.rollout_text if last else 'no answer'})")

    # ---- generic reads of the generated client -----------------------------------------
    async def _read_method(self, api_class: str, method: str) -> Any:
        """``api_class.method`` bound to the private client, if it is a read."""
        cls = getattr(k8s, api_class, None) if api_class.endswith("Api") else None
        if cls is None:
            raise NotPermitted(f"{api_class!r} is not a Kubernetes API group class")
        if not READ_METHOD.match(method) or not hasattr(cls, method):
            raise NotPermitted(f"{api_class}.{method} is not a read; a step that needs it "
                               "must be a change step (ctx.mutations.kube())")
        return getattr(cls(await self._api.client()), method)

    async def get(self, api_class: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """One read of the generated client by name, e.g. ``get("CoreV1Api",
        "read_namespaced_secret", name, namespace)``: JSON, the request timeout applied,
        an error status raised as :class:`KubeError`."""
        call = await self._read_method(api_class, method)
        return await response_json(await call(*args, **{**self._opts, **kwargs}))

    async def watch(self, api_class: str, method: str, *args: Any, name: str,
                    resource_version: str | None, timeout: int) -> AsyncIterator[dict[str, Any]]:
        """Every change to the object ``name`` listed by ``method`` (a ``list_*``), from
        ``resource_version``, for up to ``timeout`` seconds."""
        if not method.startswith("list_"):
            raise NotPermitted(f"{method} cannot be watched (a list_* method is needed)")
        call = await self._read_method(api_class, method)
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

    # ---- exec ----------------------------------------------------------------------------
    def exec_target(self, pod: str, command: Sequence[str],
                    container: str | None = None) -> ExecTarget:
        """A command that only reads (``pg_isready``, read-only ``psql``) to exec in
        ``pod``; anything else raises :class:`NotPermitted` before a socket is opened."""
        problem = read_exec_problem(list(command))
        if problem:
            raise NotPermitted(f"exec in pod {pod}: {problem}; a step that needs it must be "
                               "a change step (ctx.mutations.kube())")
        return ExecTarget(self.namespace, pod, tuple(command), container, self._api)


__all__ = ["KubeError", "KubeReader", "Revision", "response_json"]
