"""What a Velero backup holds, and what restoring it puts back.

A backup counts every object of its namespaces (Velero backs up pods, ReplicaSets and
events too, so ``totalItems`` is realistically large) but keeps, for restoring, the
objects an operator would lose: workloads, services, configuration, secrets, volumes
claims, autoscalers, budgets, policies, certificates. Restoring re-creates those that are
missing (labelled ``velero.io/backup-name`` / ``velero.io/restore-name``) and reports the
ones that already exist, which Velero counts as warnings.
"""

from __future__ import annotations

import copy

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
    for field in _DROP_META:
        meta.pop(field, None)
    if namespace is not None and "namespace" in meta:
        meta["namespace"] = namespace
    meta.setdefault("labels", {}).update({"velero.io/backup-name": backup,
                                          "velero.io/restore-name": restore})
    if obj.get("kind") not in ("Certificate",):
        obj.pop("status", None)
    return obj


def restore_items(store: Store, items: list[tuple[str, Obj]], spec: Obj,
                  restore_name: str = "") -> tuple[int, int]:
    """Create what is missing; return (created, already existing)."""
    mapping = spec.get("namespaceMapping") or {}
    wanted = set(spec.get("includedNamespaces") or ["*"])
    excluded = set(spec.get("excludedNamespaces") or [])
    created = existing = 0
    for resource, obj in items:
        src_ns = obj["metadata"].get("namespace") or obj["metadata"]["name"]
        if ("*" not in wanted and src_ns not in wanted) or src_ns in excluded:
            continue
        target_ns = mapping.get(src_ns, src_ns)
        if resource == "namespaces":
            clean = _clean(obj, spec.get("backupName", ""), restore_name, None)
            clean["metadata"]["name"] = target_ns
            clean.pop("spec", None)
        else:
            clean = _clean(obj, spec.get("backupName", ""), restore_name, target_ns)
        ns = clean["metadata"].get("namespace", "")
        if store.peek(resource, ns, clean["metadata"]["name"]) is not None:
            existing += 1
            continue
        try:
            store.create(resource, clean)
            created += 1
        except ApiError:
            existing += 1
    return created, existing
