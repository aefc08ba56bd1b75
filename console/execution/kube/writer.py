"""The one Kubernetes writer: every change a wizard makes to a cluster goes through here.

``await ctx.mutations.kube()`` gives a granted change step this writer; nothing else can
build one (the executor grants it after the read-only check and the confirmation). It
speaks through the run's one client stack (:class:`~.api.KubeApi`, shared with the reader
and the collectors) and is GVK-generic: an object is addressed by kind (and apiVersion for
kinds the engine does not know), its path found by API discovery, so a Velero Backup or a
cert-manager Certificate is created like a Pod. Each method is the API call ``kubectl``
makes for the same command, and every call carries the configured request timeout and
raises :class:`~console.sources.kube.KubeError` (status, the API's message, its causes) on
an error status: a 403 on a scale never passes for a scaled deployment.

Operations (:mod:`.ops`) describe a change once, for the plan and for :meth:`apply`.

=========================================  =============================================
method                                     kubectl
=========================================  =============================================
``scale(name, n, kind=)``                  ``scale deployment/NAME --replicas=N``
``patch(kind, name, body, patch_type=)``   ``patch KIND NAME --type strategic|merge|json``
``create(manifest)``                       ``create -f -``
``apply_manifest(manifest)``               ``apply --server-side -f -``
``delete_object(kind, name)``              ``delete KIND NAME``
``annotate(kind, name, {k: v|None})``      ``annotate KIND/NAME k=v k-``
``set_image(name, container, image)``      ``set image deployment/NAME C=IMAGE``
``rollout_restart(name)``                  ``rollout restart deployment/NAME``
``rollout_undo(name, to_revision=)``       ``rollout undo deployment/NAME``
``cordon(node)`` / ``uncordon(node)``      ``cordon`` / ``uncordon``
``evict(pod)``                             (the Eviction subresource, as drain uses it)
``drain(node, DrainOptions)``              ``drain NODE --ignore-daemonsets ...``
``create_velero(manifest)``                ``velero backup|restore create``
``patch_secret(name, data)``               ``patch secret NAME --type merge``
``exec(pod, command, stdin=)``             ``exec -i POD -- COMMAND``
=========================================  =============================================

Reads (rollout status, logs, typed views) are the reader's: ``writer.reader``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from console.config.model import KubernetesSettings
from console.sources.kube import KubeError, status_error

from ..model import StepFailed
from .api import KubeApi
from .drain import DrainEvent, DrainOptions
from .drain import drain as _drain
from .exec import ExecTarget, PodExec
from .ops import KubeOp, PatchType
from .reader import REVISION, KubeReader

CONTENT_TYPES = {"strategic": "application/strategic-merge-patch+json",
                 "merge": "application/merge-patch+json",
                 "json": "application/json-patch+json",
                 "apply": "application/apply-patch+yaml"}
# annotations of a Deployment that an undo keeps from the Deployment, not the ReplicaSet
UNDO_KEEPS = ("kubectl.kubernetes.io/last-applied-configuration", REVISION,
              "deployment.kubernetes.io/revision-history",
              "deployment.kubernetes.io/desired-replicas",
              "deployment.kubernetes.io/max-replicas", "deprecated.deployment.rollback.to")
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
FIELD_MANAGER = "mcp-ops"


class KubeWriter:
    """The mutating calls. Only :class:`console.execution.context.Mutations` builds one."""

    def __init__(self, api: KubeApi, settings: KubernetesSettings, reader: KubeReader):
        self._api = api
        self.settings = settings
        self.namespace: str = settings.namespace
        self.reader = reader

    async def _send(self, verb: str, path: str, body: Any = None, *,
                    content_type: str = "application/json",
                    params: dict[str, Any] | None = None) -> dict[str, Any]:
        client = await self._api.client()
        query = [(k, str(v).lower() if isinstance(v, bool) else v)
                 for k, v in (params or {}).items() if v is not None]
        response = await client.call_api(
            path, verb, query_params=query, body=body,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            auth_settings=["BearerToken"], _preload_content=False,
            _request_timeout=self.settings.request_timeout)
        try:
            raw = await response.read()
        finally:
            response.release()
        if not 200 <= response.status <= 299:
            raise status_error(response.status, raw.decode("utf-8", "replace"))
        return json.loads(raw) if raw[:1] == b"{" else {}

    async def apply(self, op: KubeOp) -> str:
        """Run an operation of :mod:`.ops` (the one whose command the plan showed)."""
        return await op.run(self)

    # ---- objects -------------------------------------------------------------------------
    async def create(self, manifest: dict[str, Any], *,
                     namespace: str | None = None) -> dict[str, Any]:
        """``kubectl create -f -`` for any kind: POST to its collection."""
        kind, version = manifest["kind"], manifest.get("apiVersion")
        ns = namespace or (manifest.get("metadata") or {}).get("namespace")
        path = await self._api.path(kind, namespace=ns, api_version=version)
        return await self._send("POST", path, manifest)

    async def replace(self, manifest: dict[str, Any], *,
                      namespace: str | None = None) -> dict[str, Any]:
        """``kubectl replace -f -``: PUT the whole object. With ``metadata.resourceVersion``
        set, a change made since it was read is not overwritten: the API answers 409."""
        kind, version = manifest["kind"], manifest.get("apiVersion")
        ns = namespace or (manifest.get("metadata") or {}).get("namespace")
        path = await self._api.path(kind, manifest["metadata"]["name"], namespace=ns,
                                    api_version=version)
        return await self._send("PUT", path, manifest)

    async def apply_manifest(self, manifest: dict[str, Any], *,
                             namespace: str | None = None) -> dict[str, Any]:
        """``kubectl apply --server-side --force-conflicts``: the object is created or made
        to match ``manifest`` in the fields it names, owned by the field manager mcp-ops."""
        kind, version = manifest["kind"], manifest.get("apiVersion")
        ns = namespace or (manifest.get("metadata") or {}).get("namespace")
        path = await self._api.path(kind, manifest["metadata"]["name"], namespace=ns,
                                    api_version=version)
        return await self._send("PATCH", path, manifest, content_type=CONTENT_TYPES["apply"],
                                params={"fieldManager": FIELD_MANAGER, "force": True})

    async def patch(self, kind: str, name: str, body: Any, *,
                    patch_type: PatchType = "strategic", namespace: str | None = None,
                    api_version: str | None = None,
                    subresource: str | None = None) -> dict[str, Any]:
        """``kubectl patch KIND NAME --type TYPE -p BODY``: strategic merge (kubectl's
        default, built-in kinds only), JSON merge (RFC 7386) or JSON patch (RFC 6902, a
        list of operations — ``test`` included, so a patch can say what it expects)."""
        path = await self._api.path(kind, name, namespace=namespace, api_version=api_version,
                                    subresource=subresource)
        return await self._send("PATCH", path, body, content_type=CONTENT_TYPES[patch_type])

    async def delete_object(self, kind: str, name: str, *, namespace: str | None = None,
                            api_version: str | None = None,
                            propagation: str = "Background",
                            resource_version: str | None = None) -> dict[str, Any]:
        """``kubectl delete KIND NAME`` (dependents removed in the background, as kubectl);
        with ``resource_version``, only if the object has not changed since (else 409)."""
        path = await self._api.path(kind, name, namespace=namespace, api_version=api_version)
        body: dict[str, Any] = {"propagationPolicy": propagation}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        return await self._send("DELETE", path, body)

    async def annotate(self, kind: str, name: str, annotations: dict[str, str | None], *,
                       namespace: str | None = None) -> dict[str, Any]:
        """``kubectl annotate KIND/NAME k=v --overwrite`` (None removes the key)."""
        return await self.patch(kind, name, {"metadata": {"annotations": annotations}},
                                patch_type="merge", namespace=namespace)

    async def patch_secret(self, name: str, data: dict[str, str], *,
                           namespace: str | None = None) -> dict[str, Any]:
        """``kubectl patch secret NAME --type merge -p '{"data": {...}}'``: ``data`` values
        are base64, as the API requires (a plain string there is refused or garbled)."""
        return await self.patch("Secret", name, {"data": data}, patch_type="merge",
                                namespace=namespace)

    # ---- workloads -----------------------------------------------------------------------
    async def scale(self, name: str, replicas: int, *, kind: str = "Deployment",
                    namespace: str | None = None) -> int:
        """``kubectl scale KIND/NAME --replicas=N``: a patch of the scale subresource;
        returns ``spec.replicas`` as the API answered."""
        result = await self.patch(kind, name, {"spec": {"replicas": replicas}},
                                  patch_type="merge", namespace=namespace,
                                  subresource="scale")
        return int((result.get("spec") or {}).get("replicas") or 0)

    async def set_image(self, name: str, container: str, image: str, *,
                        namespace: str | None = None) -> dict[str, Any]:
        """``kubectl set image deployment/NAME CONTAINER=IMAGE``."""
        return await self.patch("Deployment", name, {"spec": {"template": {"spec": {
            "containers": [{"name": container, "image": image}]}}}}, namespace=namespace)

    async def rollout_restart(self, name: str, *, kind: str = "Deployment",
                              namespace: str | None = None, at: str | None = None) -> str:
        """``kubectl rollout restart``: stamp the pod template so every pod is replaced;
        returns the stamp."""
        at = at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        await self.patch(kind, name, {"spec": {"template": {"metadata": {"annotations": {
            RESTARTED_AT: at}}}}}, namespace=namespace)
        return at

    async def rollout_undo(self, name: str, *, to_revision: int = 0,
                           namespace: str | None = None) -> int:
        """``kubectl rollout undo deployment/NAME [--to-revision=N]``, as kubectl does it:
        the pod template of the ReplicaSet of that revision (0: the one before the current)
        is written back into the Deployment, with that ReplicaSet's annotations (its
        change-cause); the controller then scales that ReplicaSet up again. Returns the
        revision rolled back to."""
        reader = self.reader if namespace in (None, self.namespace) else None
        if reader is None:
            raise StepFailed("rollout undo works in the environment's namespace only")
        deployment = await reader.deployment_json(name)
        if (deployment.get("spec") or {}).get("paused"):
            raise StepFailed(f"deployment/{name} is paused: resume it before an undo")
        history = await reader.rollout_history(name)
        current = int((deployment["metadata"].get("annotations") or {}).get(REVISION) or 0)
        if to_revision:
            chosen = next((r for r in history if r.number == to_revision), None)
            if chosen is None:
                raise StepFailed(f"deployment/{name} has no revision {to_revision} "
                                 f"(known: {', '.join(str(r.number) for r in history)})")
        else:
            older = [r for r in history if r.number < current]
            if not older:
                raise StepFailed(f"deployment/{name} has no revision before {current} to "
                                 "roll back to")
            chosen = older[-1]
        template = json.loads(json.dumps(chosen.template))
        (template.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
        annotations = {k: v for k, v in (deployment["metadata"].get("annotations") or {}).items()
                       if k in UNDO_KEEPS}
        annotations |= {k: v for k, v in chosen.annotations.items() if k not in UNDO_KEEPS}
        await self.patch("Deployment", name, [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations}],
            patch_type="json")
        return chosen.number

    # ---- nodes ---------------------------------------------------------------------------
    async def cordon(self, node: str) -> dict[str, Any]:
        """``kubectl cordon NODE``: no new pod is scheduled there."""
        return await self.patch("Node", node, {"spec": {"unschedulable": True}},
                                patch_type="merge")

    async def uncordon(self, node: str) -> dict[str, Any]:
        return await self.patch("Node", node, {"spec": {"unschedulable": None}},
                                patch_type="merge")

    async def evict(self, pod: str, *, namespace: str | None = None,
                    grace_period: int | None = None) -> None:
        """One eviction (policy/v1 Eviction): honours PodDisruptionBudgets — a budget that
        would be broken answers 429, raised as :class:`KubeError` with its causes."""
        ns = namespace or self.namespace
        body: dict[str, Any] = {"apiVersion": "policy/v1", "kind": "Eviction",
                                "metadata": {"name": pod, "namespace": ns}}
        if grace_period is not None:
            body["deleteOptions"] = {"gracePeriodSeconds": grace_period}
        path = await self._api.path("Pod", pod, namespace=ns, subresource="eviction")
        await self._send("POST", path, body)

    def drain(self, node: str, options: DrainOptions | None = None) -> AsyncIterator[DrainEvent]:
        """``kubectl drain NODE``: cordon, then evict its pods (see :mod:`.drain`),
        yielding a :class:`DrainEvent` per step."""
        return _drain(self, node, options or DrainOptions())

    # ---- Velero --------------------------------------------------------------------------
    async def create_velero(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """``velero backup|restore create``: the custom object the CLI would create, in
        Velero's namespace."""
        return await self.create(manifest, namespace=self.settings.velero_namespace)

    # ---- exec ----------------------------------------------------------------------------
    def exec_target(self, pod: str, command: Sequence[str],
                    container: str | None = None) -> ExecTarget:
        """Any command in ``pod`` (``kubectl exec``): a granted step's means, e.g. the
        restore's ``pg_restore`` fed from S3."""
        return ExecTarget(self.namespace, pod, tuple(command), container, self._api)

    def exec(self, pod: str, command: Sequence[str], *, container: str | None = None,
             stdin: AsyncIterator[bytes] | None = None) -> PodExec:
        """``kubectl exec [-i] POD -- COMMAND``: iterate it for output lines (and bytes of
        stdin sent); ``stdin`` is streamed and then closed (v5 channel protocol)."""
        return PodExec(self.exec_target(pod, command, container), stdin=stdin)


__all__ = ["KubeError", "KubeWriter"]
