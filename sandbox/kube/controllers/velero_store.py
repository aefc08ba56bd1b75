"""Velero's object storage for the emulated backups: each backup's resource list.

Real Velero writes, next to a backup's tarball in its storage location's bucket,
``<prefix>/backups/<name>/<name>-resource-list.json.gz``: every item backed up, keyed by
``group/version/Kind`` (``apps/v1/Deployment``, ``v1/ConfigMap``) with ``namespace/name``
values — what ``velero backup describe --details`` prints as its "Resource List". The
emulator has no bucket of its own; whoever runs it with an S3 (the sandbox, with moto)
attaches one with :func:`attach_object_store`, and from then on every backup that
finishes (and every one already finished) has its resource list written there, so a
client reads it as it would from the real bucket.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

from ..store import Obj, Store
from .velero_content import COUNTED, RESTORED, namespaces_of

OBJECT_STORE = "velero.object_store"  # cluster.extras: put(bucket, key, body) -> None
FINISHED = ("Completed", "PartiallyFailed")
Put = Callable[[str, str, bytes], None]


def resource_list(store: Store, spec: Obj) -> dict[str, list[str]]:
    """Every object of the backup's namespaces, as Velero's resource list keys it."""
    out: dict[str, list[str]] = {}
    for ns in namespaces_of(store, spec):
        out.setdefault("v1/Namespace", []).append(ns)
        for resource in (*RESTORED, *COUNTED):
            for obj in store.iter(resource, ns):
                kind = f"{obj.get('apiVersion', 'v1')}/{obj.get('kind', resource)}"
                out.setdefault(kind, []).append(f"{ns}/{obj['metadata']['name']}")
    return {kind: sorted(names) for kind, names in sorted(out.items())}


def resource_list_key(prefix: str, backup: str) -> str:
    path = f"backups/{backup}/{backup}-resource-list.json.gz"
    return f"{prefix.strip('/')}/{path}" if prefix.strip("/") else path


def _location(store: Store, backup: Obj) -> Obj | None:
    name = (backup.get("spec") or {}).get("storageLocation") or "default"
    return store.peek("backupstoragelocations.velero.io", backup["metadata"]["namespace"], name)


def publish(cluster: Any, backup: Obj) -> bool:
    """Write ``backup``'s resource list into its location's bucket, if a store is
    attached and the location exists; True when written."""
    put: Put | None = cluster.extras.get(OBJECT_STORE)
    location = _location(cluster.store, backup)
    if put is None or location is None:
        return False
    storage = (location.get("spec") or {}).get("objectStorage") or {}
    body = gzip.compress(json.dumps(resource_list(cluster.store, backup.get("spec") or {}))
                         .encode())
    put(storage.get("bucket", ""), resource_list_key(storage.get("prefix", ""),
                                                     backup["metadata"]["name"]), body)
    return True


def attach_object_store(cluster: Any, put: Put) -> int:
    """From now on backups' resource lists go to ``put``; the finished ones are written
    at once. Returns how many were written."""
    cluster.extras[OBJECT_STORE] = put
    written = 0
    for backup in cluster.store.iter("backups.velero.io"):
        if (backup.get("status") or {}).get("phase") in FINISHED:
            written += publish(cluster, backup)
    return written
