"""Indexes kept current from the store's change stream, so controllers stay cheap at scale.

With ten thousand pods a controller must not scan every pod to find the few a ReplicaSet
owns, or to add up what a node already runs. The manager feeds every :class:`WatchEvent`
to :meth:`ClusterIndex.observe` (synchronously, before controllers run), and controllers ask
the index instead of the store.
"""

from __future__ import annotations

from collections import defaultdict

from ..store import Obj, Store, WatchEvent
from . import quantity

Key = tuple[str, str]  # (namespace, name)

# resource keys whose objects are owned by a controller and are looked up by owner
OWNED = ("pods", "replicasets.apps")


def controller_uid(obj: Obj) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def pod_requests(pod: Obj) -> tuple[int, int]:
    """(cpu millicores, memory bytes) requested by a pod's containers."""
    cpu = mem = 0
    for c in pod.get("spec", {}).get("containers") or []:
        req = (c.get("resources") or {}).get("requests") or {}
        cpu += quantity.cpu_millis(req.get("cpu"))
        mem += quantity.memory_bytes(req.get("memory"))
    return cpu, mem


def pod_occupies_node(pod: Obj) -> bool:
    """A pod counts against its node until it has finished."""
    return bool(pod.get("spec", {}).get("nodeName")) and pod.get("status", {}).get(
        "phase"
    ) not in ("Succeeded", "Failed")


class ClusterIndex:
    """Owner -> dependents, and node -> pods with their summed requests."""

    def __init__(self, store: Store):
        self.store = store
        self._dependents: dict[tuple[str, str], dict[Key, None]] = defaultdict(dict)
        self._owner: dict[tuple[str, Key], str] = {}
        self._pod_node: dict[Key, tuple[str, int, int]] = {}
        self._node_pods: dict[str, dict[Key, None]] = defaultdict(dict)
        self._node_usage: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        self._spread: dict[tuple[str, str], int] = defaultdict(int)  # (owner uid, node)
        self._pod_owner: dict[Key, str] = {}

    def rebuild(self) -> None:
        for resource in OWNED:
            for obj in self.store.iter(resource):
                self._track(resource, obj, deleted=False)

    def observe(self, event: WatchEvent) -> None:
        if event.resource in OWNED:
            self._track(event.resource, event.object, deleted=event.type == "DELETED")

    # ---- maintenance -------------------------------------------------------------
    def _track(self, resource: str, obj: Obj, *, deleted: bool) -> None:
        meta = obj.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        old_owner = self._owner.pop((resource, key), None)
        if old_owner is not None:
            bucket = self._dependents.get((resource, old_owner))
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self._dependents[(resource, old_owner)]
        if not deleted:
            owner = controller_uid(obj)
            if owner:
                self._owner[(resource, key)] = owner
                self._dependents[(resource, owner)][key] = None
        if resource == "pods":
            self._track_node(key, obj, deleted=deleted)

    def _track_node(self, key: Key, pod: Obj, *, deleted: bool) -> None:
        old = self._pod_node.pop(key, None)
        if old is not None:
            node, cpu, mem = old
            self._node_pods[node].pop(key, None)
            usage = self._node_usage[node]
            usage[0] -= cpu
            usage[1] -= mem
            owner = self._pod_owner.pop(key, None)
            if owner:
                self._spread[(owner, node)] -= 1
        if not deleted and pod_occupies_node(pod):
            node = pod["spec"]["nodeName"]
            cpu, mem = pod_requests(pod)
            self._pod_node[key] = (node, cpu, mem)
            self._node_pods[node][key] = None
            usage = self._node_usage[node]
            usage[0] += cpu
            usage[1] += mem
            owner = controller_uid(pod)
            if owner:
                self._pod_owner[key] = owner
                self._spread[(owner, node)] += 1

    # ---- queries -----------------------------------------------------------------
    def dependents(self, resource: str, owner_uid: str) -> list[Key]:
        return list(self._dependents.get((resource, owner_uid), {}))

    def owned_objects(self, resource: str, owner_uid: str) -> list[Obj]:
        """The stored (uncopied) objects controlled by ``owner_uid``. Read only."""
        out = []
        for ns, name in self.dependents(resource, owner_uid):
            obj = self.store.peek(resource, ns, name)
            if obj is not None:
                out.append(obj)
        return out

    def pods_on_node(self, node: str) -> list[Key]:
        return list(self._node_pods.get(node, {}))

    def siblings_on_node(self, owner_uid: str | None, node: str) -> int:
        """How many pods of the same controller already run on ``node`` (for spreading)."""
        return self._spread.get((owner_uid, node), 0) if owner_uid else 0

    def node_usage(self, node: str) -> tuple[int, int, int]:
        """(pod count, cpu millicores requested, memory bytes requested) on ``node``."""
        usage = self._node_usage.get(node, [0, 0])
        return len(self._node_pods.get(node, {})), usage[0], usage[1]
