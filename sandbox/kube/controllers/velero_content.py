"""What a Velero backup holds, and what restoring it puts back.

A backup counts every object of its namespaces (Velero backs up pods, ReplicaSets and
events too, so ``totalItems`` is realistically large) but keeps, for restoring, the
objects an operator would lose: workloads, services, configuration, secrets, volumes
claims, autoscalers, budgets, policies, certificates. Restoring re-creates those that are
missing (labelled ``velero.io/backup-name`` / ``velero.io/restore-name``). An object that
already exists is Velero's ``existingResourcePolicy`` decision:

- ``none`` (the default): left alone; when it differs from the backed-up version Velero
  warns ("already exists and is different from backed up version"), when it is the same
  it is skipped silently;
- ``update``: a differing object is patched back to the backed-up content (its spec, data,
  labels and annotations) and labelled with the backup and restore names; the same one is
  skipped.

``includedResources`` (plural names, ``deployments`` or ``deployments.apps``) and
``namespaceMapping`` scope a restore as Velero's do. Each item's action (created, updated,
skipped, failed) is kept per restore, as Velero's restore resource list records it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from ..store import ApiError, Obj, Store

COUNTED = ("pods", "replicasets.apps", "events", "endpoints")
RESTORED = (
    "serviceaccounts", "configmaps", "secrets", "persistentvolumeclaims", "services",
    "deployments.apps", "statefulsets.apps", "daemonsets.apps",
    "horizontalpodautoscalers.autoscaling", "poddisruptionbudgets.policy",
    "networkpolicies.networking.k8s.io", "certificates.cert-manager.io",
)
_DROP_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields",
              "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")


def namespaces_of(store: Store, spec: Obj) -> list[str]:
    included = spec.get("includedNamespaces") or ["*"]
    excluded = set(spec.get("excludedNamespaces") or [])
    every = [ns["metadata"]["name"] for ns in store.iter("namespaces")]
    chosen = every if "*" in included else [n for n in included if n in every]
    return [n for n in chosen if n not in excluded]


def count_items(store: Store, spec: Obj) -> int:
    total = 0
    for ns in namespaces_of(store, spec):
        total += 1  # the namespace object itself
        for resource in (*RESTORED, *COUNTED):
            total += len(store.iter(resource, ns))
    return total


def snapshot(store: Store, spec: Obj) -> list[tuple[str, Obj]]:
    """Deep copies of the restorable objects of the backup's namespaces."""
    items: list[tuple[str, Obj]] = []
    for ns in namespaces_of(store, spec):
        ns_obj = store.peek("namespaces", "", ns)
        if ns_obj is not None:
            items.append(("namespaces", copy.deepcopy(ns_obj)))
        for resource in RESTORED:
            for obj in store.iter(resource, ns):
                if any(r.get("controller") for r in obj["metadata"].get("ownerReferences") or []):
                    continue  # recreated by its controller
                items.append((resource, copy.deepcopy(obj)))
    return items


def _clean(obj: Obj, backup: str, restore: str, namespace: str | None) -> Obj:
    obj = copy.deepcopy(obj)
    meta = obj["metadata"]
    for key in _DROP_META:
        meta.pop(key, None)
    if namespace is not None and "namespace" in meta:
        meta["namespace"] = namespace
    meta.setdefault("labels", {}).update({"velero.io/backup-name": backup,
                                          "velero.io/restore-name": restore})
    if obj.get("kind") not in ("Certificate",):
        obj.pop("status", None)
    return obj


CONTENT = ("spec", "data", "binaryData", "stringData", "type", "immutable")


def _content(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items()
              if not k.startswith("velero.io/")}
    return {"labels": labels, "annotations": meta.get("annotations") or {},
            **{k: obj[k] for k in CONTENT if k in obj}}


def _included(resource: str, spec: Obj) -> bool:
    wanted = spec.get("includedResources") or ["*"]
    excluded = spec.get("excludedResources") or []
    short = resource.split(".", 1)[0]

    def named(names: list[str]) -> bool:
        return "*" in names or resource in names or short in names

    return named(wanted) and not (excluded and named(excluded))


def _update_to(backed_up: Obj) -> Callable[[Obj], None]:
    def apply(live: Obj) -> None:
        for key in CONTENT:
            if key in backed_up:
                live[key] = copy.deepcopy(backed_up[key])
            else:
                live.pop(key, None)
        meta, want = live["metadata"], backed_up["metadata"]
        meta["labels"] = dict(want.get("labels") or {})
        if want.get("annotations"):
            meta["annotations"] = dict(want["annotations"])
        else:
            meta.pop("annotations", None)
    return apply


@dataclass
class RestoreResult:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    items: dict[str, list[str]] = field(default_factory=dict)  # "v1/ConfigMap" -> ["ns/n(created)"]

    def record(self, obj: Obj, action: str) -> None:
        meta = obj["metadata"]
        kind = f"{obj.get('apiVersion', 'v1')}/{obj.get('kind', '?')}"
        where = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        self.items.setdefault(kind, []).append(f"{where}({action})")


def restore_items(store: Store, items: list[tuple[str, Obj]], spec: Obj,
                  restore_name: str = "") -> RestoreResult:
    """Create what is missing, and decide on what exists by ``existingResourcePolicy``."""
    mapping = spec.get("namespaceMapping") or {}
    wanted = set(spec.get("includedNamespaces") or ["*"])
    excluded = set(spec.get("excludedNamespaces") or [])
    update = spec.get("existingResourcePolicy") == "update"
    result = RestoreResult()
    for resource, obj in items:
        src_ns = obj["metadata"].get("namespace") or obj["metadata"]["name"]
        if ("*" not in wanted and src_ns not in wanted) or src_ns in excluded:
            continue
        if resource != "namespaces" and not _included(resource, spec):
            continue
        target_ns = mapping.get(src_ns, src_ns)
        if resource == "namespaces":
            clean = _clean(obj, spec.get("backupName", ""), restore_name, None)
            clean["metadata"]["name"] = target_ns
            clean.pop("spec", None)
        else:
            clean = _clean(obj, spec.get("backupName", ""), restore_name, target_ns)
        ns, name = clean["metadata"].get("namespace", ""), clean["metadata"]["name"]
        live = store.peek(resource, ns, name)
        if live is not None:
            backed_up = copy.deepcopy(obj)
            backed_up["metadata"] = clean["metadata"]
            if resource == "namespaces" or _content(live) == _content(obj):
                result.skipped += 1
                result.record(clean, "skipped")
            elif update:
                store.mutate(resource, ns, name, _update_to(backed_up))
                result.updated += 1
                result.record(clean, "updated")
            else:
                result.skipped += 1
                result.record(clean, "skipped")
                result.warnings.append(
                    f"could not restore, {clean.get('kind')} \"{name}\" already exists. "
                    "Warning: the in-cluster version is different than the backed-up version")
            continue
        try:
            store.create(resource, clean)
            result.created += 1
            result.record(clean, "created")
        except ApiError as err:
            result.skipped += 1
            result.record(clean, "failed")
            result.warnings.append(f"could not restore {resource} {name}: {err}")
    return result
