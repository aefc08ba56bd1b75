"""Garbage collection: when an owner goes, its dependents go too.

``kubectl delete deployment`` (background propagation, kubectl's default) leaves the
ReplicaSets and pods to the garbage collector; without it a deleted Deployment would
leave orphaned pods running forever. Dependents are found through the owner index, pods
are deleted gracefully (they show Terminating), ReplicaSets at once.
"""

from __future__ import annotations

from ..store import WatchEvent
from .base import Controller, Key
from .index import OWNED
from .replicaset import begin_pod_deletion

OWNER_KINDS = ("deployments.apps", "replicasets.apps", "daemonsets.apps", "statefulsets.apps",
               "jobs.batch")


class GarbageCollector(Controller):
    primary = ""
    watches = OWNER_KINDS
    component = "garbage-collector"

    def keys_for(self, event: WatchEvent):
        if event.type == "DELETED":
            return ((event.namespace, event.object["metadata"].get("uid", "")),)
        return ()

    def all_keys(self):
        return ()

    def sync(self, key: Key) -> None:
        _, uid = key
        if not uid:
            return
        for resource in OWNED:
            for dep in self.index.dependents(resource, uid):
                if resource == "pods":
                    begin_pod_deletion(self, dep)
                else:
                    self.delete(resource, dep)
