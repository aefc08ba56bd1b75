"""A minimal OpenAPI v3 index, enough for ``kubectl apply`` / ``create -f``.

kubectl validates manifests either on the server (when the OpenAPI v3 document shows the
``fieldValidation`` query parameter on the type's PATCH operation) or on the client from
the full OpenAPI v2 schema; with neither it refuses to apply. So each group version gets
a document listing its operations with that parameter and the
``x-kubernetes-group-version-kind`` extension kubectl matches on — and no schemas: without
them kubectl computes strategic merge patches from its compiled-in types (built-in kinds)
or JSON merge patches (custom resources), as it does against a real server for CRDs.
kubectl 1.27/1.28 read only ``/openapi/v2``, as protobuf: :func:`v2_document` encodes
the same operations in gnostic's Document message.
"""

from __future__ import annotations

import hashlib
import json

from . import protowire as pw
from .resources import REGISTRY, ResourceType

_QUERY_PARAMS = ["fieldValidation", "fieldManager", "dryRun", "pretty"]


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _operation(rt: ResourceType, action: str) -> dict:
    return {
        "operationId": f"{action}{rt.kind}",
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                       for p in _QUERY_PARAMS],
        "responses": {"200": {"description": "OK"}},
    }


def group_version_document(group: str, version: str, minor: int) -> dict | None:
    types = [rt for rt in REGISTRY.in_version(group, version) if "create" in rt.verbs]
    if not REGISTRY.in_version(group, version):
        return None
    paths: dict[str, dict] = {}
    for rt in types:
        base = "/" + _gv_path(group, version)
        if rt.namespaced:
            base += "/namespaces/{namespace}"
        collection, item = f"{base}/{rt.plural}", f"{base}/{rt.plural}/{{name}}"
        paths[collection] = {"post": _operation(rt, "post")}
        if "patch" in rt.verbs:
            paths[item] = {"put": _operation(rt, "put"), "patch": _operation(rt, "patch")}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": f"v1.{minor}.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


def _hash(group: str, version: str, minor: int) -> str:
    doc = group_version_document(group, version, minor)
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:64].upper()


def root_document(minor: int) -> dict:
    paths = {}
    for group, versions in REGISTRY.group_versions().items():
        for version in versions:
            gv = _gv_path(group, version)
            paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(group, version, minor)}"}
    return {"paths": paths}


def lookup(tail: str, minor: int) -> dict | None:
    """The document for ``/openapi/v3/<tail>`` (empty tail: the root index), or None."""
    parts = [p for p in tail.split("/") if p]
    if not parts:
        return root_document(minor)
    if parts[0] == "api" and len(parts) == 2:
        return group_version_document("", parts[1], minor)
    if parts[0] == "apis" and len(parts) == 3:
        return group_version_document(parts[1], parts[2], minor)
    return None


# ---- OpenAPI v2, protobuf (kubectl 1.27 / 1.28) ------------------------------------------

V2_CONTENT_TYPE = "application/octet-stream"  # what kube-openapi serves the protobuf as


def _v2_operation(rt: ResourceType) -> bytes:
    gvk = f'group: "{rt.group}"\nkind: {rt.kind}\nversion: {rt.version}\n'
    extension = pw.field_bytes(1, "x-kubernetes-group-version-kind") + pw.field_bytes(
        2, pw.field_bytes(2, gvk))
    params = b"".join(
        pw.field_bytes(8, pw.field_bytes(1, pw.field_bytes(2, pw.field_bytes(3, (
            pw.field_bytes(2, "query") + pw.field_bytes(4, name) + pw.field_bytes(6, "string"))))))
        for name in _QUERY_PARAMS
    )
    return pw.field_bytes(5, f"patch{rt.kind}") + params + pw.field_bytes(13, extension)


def v2_document(minor: int) -> bytes:
    """A gnostic OpenAPI v2 Document with, per type, a PATCH operation carrying the GVK
    extension and the ``fieldValidation`` parameter — no definitions (see module doc)."""
    paths = b""
    for rt in REGISTRY.types:
        if "patch" not in rt.verbs:
            continue
        base = "/" + _gv_path(rt.group, rt.version)
        if rt.namespaced:
            base += "/namespaces/{namespace}"
        item = pw.field_bytes(8, _v2_operation(rt))
        paths += pw.field_bytes(2, pw.field_bytes(1, f"{base}/{rt.plural}/{{name}}") + pw.field_bytes(2, item))
    info = pw.field_bytes(1, "Kubernetes") + pw.field_bytes(2, f"v1.{minor}.0")
    return pw.field_bytes(1, "2.0") + pw.field_bytes(2, info) + pw.field_bytes(8, paths)
