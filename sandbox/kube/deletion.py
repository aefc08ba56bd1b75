"""Deleting objects as the apiserver and its garbage collector do together.

Dependents are found by ``metadata.ownerReferences[].uid``: with the Background or
Foreground policy they are deleted too (recursively: Deployment -> ReplicaSets -> Pods),
with Orphan their owner reference is removed. Deleting a namespace deletes everything in
it. An object with finalizers only gets a ``deletionTimestamp``; it goes once an update
removes its last finalizer (see :func:`finish_if_finalized`).
"""

from __future__ import annotations

from typing import Any

from .resources import REGISTRY
from .store import ApiError, Store

Obj = dict[str, Any]

_KEYS = sorted({rt.key for rt in REGISTRY.types})


class _Owners:
    """owner uid -> dependents, built in one pass over the store when first asked, and
    shared by a whole cascade (so deleting a ReplicaSet of 10,000 pods is one pass)."""

    def __init__(self, store: Store):
        self.store = store
        self._map: dict[str, list[tuple[str, Obj]]] | None = None

    def dependents(self, uid: str) -> list[tuple[str, Obj]]:
        if self._map is None:
            self._map = {}
            for key in _KEYS:
                for obj in self.store.iter(key):
                    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
                        self._map.setdefault(ref.get("uid", ""), []).append((key, obj))
        return self._map.get(uid, [])


def check_preconditions(obj: Obj, options: Obj | None) -> None:
    pre = (options or {}).get("preconditions") or {}
    meta = obj.get("metadata", {})
    if pre.get("uid") and pre["uid"] != meta.get("uid"):
        raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, "
                                        f"UID in object meta: {meta.get('uid')}")
    if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
        raise ApiError(409, "Conflict", "Precondition failed: ResourceVersion in precondition: "
                                        f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                        f"{meta.get('resourceVersion')}")


def delete_object(store: Store, key: str, namespace: str, name: str, policy: str | None,
                  owners: _Owners | None = None) -> Obj:
    """Delete one object and (by policy) its dependents; returns the final state of the
    object: gone, or marked for deletion when finalizers hold it."""
    owners = owners or _Owners(store)
    obj = store.get(key, namespace, name)
    meta = obj["metadata"]
    if meta.get("finalizers"):
        if meta.get("deletionTimestamp"):
            return obj
        return store.mutate(key, namespace, name, _mark_deleting(store))
    uid = meta.get("uid", "")
    if key == "namespaces":
        for other in _KEYS:
            rt = REGISTRY.by_key(other)
            if rt is not None and rt.namespaced:
                for dep in list(store.iter(other, name)):
                    _delete_quietly(store, other, name, dep["metadata"]["name"], "Background", owners)
    elif policy == "Orphan":
        for dep_key, dep in owners.dependents(uid):
            dm = dep["metadata"]
            if store.peek(dep_key, dm.get("namespace", ""), dm["name"]) is not None:
                store.mutate(dep_key, dm.get("namespace", ""), dm["name"], _drop_owner(uid))
    else:
        for dep_key, dep in owners.dependents(uid):
            dm = dep["metadata"]
            _delete_quietly(store, dep_key, dm.get("namespace", ""), dm["name"], policy, owners)
    return store.delete(key, namespace, name)


def _delete_quietly(store: Store, key: str, namespace: str, name: str, policy: str | None,
                    owners: _Owners) -> None:
    try:
        delete_object(store, key, namespace, name, policy, owners)
    except ApiError as err:
        if err.code != 404:
            raise


def _mark_deleting(store: Store):
    def mark(obj: Obj) -> None:
        obj["metadata"]["deletionTimestamp"] = store.clock.timestamp()
        obj["metadata"]["deletionGracePeriodSeconds"] = 0

    return mark


def _drop_owner(uid: str):
    def drop(obj: Obj) -> None:
        refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            obj["metadata"]["ownerReferences"] = refs
        else:
            obj["metadata"].pop("ownerReferences", None)

    return drop


def finish_if_finalized(store: Store, key: str, obj: Obj) -> Obj:
    """After an update: an object being deleted whose finalizers are now empty is removed."""
    meta = obj.get("metadata", {})
    if meta.get("deletionTimestamp") and not meta.get("finalizers"):
        return store.delete(key, meta.get("namespace", ""), meta["name"])
    return obj
