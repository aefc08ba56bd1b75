"""StatefulSets, minimally: ordered pods ``<name>-0 .. <name>-N-1`` with stable names.

With the default ``OrderedReady`` policy pod *i* is only created once pods 0..i-1 are
Running and Ready, scale-down removes the highest ordinal first, and a template change
replaces pods from the highest ordinal down, one at a time, as upstream does.
"""

from __future__ import annotations

from ..store import Obj, WatchEvent
from . import podspec
from .base import Controller, Key, key_of
from .replicaset import begin_pod_deletion


def ordinal(pod: Obj, sts_name: str) -> int:
    suffix = pod["metadata"]["name"][len(sts_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


class StatefulSetController(Controller):
    primary = "statefulsets.apps"
    watches = ("pods",)
    component = "statefulset-controller"

    def keys_for(self, event: WatchEvent):
        if event.resource == self.primary:
            return (key_of(event.object),)
        for ref in event.object.get("metadata", {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "StatefulSet":
                return ((event.namespace, ref["name"]),)
        return ()

    def sync(self, key: Key) -> None:
        sts = self.store.peek(self.primary, *key)
        if sts is None or podspec.is_terminating(sts):
            return
        ns, name = key
        replicas = sts["spec"].get("replicas", 1)
        revision = f"{name}-{podspec.template_hash(sts['spec'].get('template') or {})}"
        ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        pods = {ordinal(p, name): p
                for p in self.index.owned_objects("pods", sts["metadata"]["uid"])}
        terminating = any(podspec.is_terminating(p) for p in pods.values())
        for i in range(replicas):
            pod = pods.get(i)
            if pod is None:
                if not (ordered and terminating):
                    self._create(sts, i, revision)
                if ordered:
                    break
                continue
            if ordered and not (podspec.is_ready(pod) and podspec.is_active(pod)):
                break
        else:
            self._shrink_or_update(sts, pods, replicas, revision, ordered, terminating)
        self._write_status(key, revision)

    def _shrink_or_update(self, sts: Obj, pods: dict[int, Obj], replicas: int, revision: str,
                          ordered: bool, terminating: bool) -> None:
        if terminating and ordered:
            return
        extra = sorted((i for i in pods if i >= replicas or i < 0), reverse=True)
        if extra:
            for i in extra[:1] if ordered else extra:
                begin_pod_deletion(self, key_of(pods[i]))
            return
        outdated = sorted((i for i, p in pods.items()
                           if (p["metadata"].get("labels") or {}).get(
                               "controller-revision-hash") != revision), reverse=True)
        if outdated and all(podspec.is_ready(p) for p in pods.values()):
            begin_pod_deletion(self, key_of(pods[outdated[0]]))

    def _create(self, sts: Obj, i: int, revision: str) -> None:
        ns, name = key_of(sts)
        pod_name = f"{name}-{i}"
        extra = {"controller-revision-hash": revision,
                 "statefulset.kubernetes.io/pod-name": pod_name,
                 "apps.kubernetes.io/pod-index": str(i)}
        pod = podspec.pod_from_template(sts["spec"].get("template"), name=pod_name,
                                        namespace=ns, owner=sts, extra_labels=extra)
        pod["spec"]["hostname"] = pod_name
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        if self.store.peek("pods", ns, pod_name) is None:
            self.store.create("pods", pod)
            self.event(sts, "Normal", "SuccessfulCreate",
                       f"create Pod {pod_name} in StatefulSet {name} successful")

    def _write_status(self, key: Key, revision: str) -> None:
        sts = self.store.peek(self.primary, *key)
        if sts is None:
            return
        pods = [p for p in self.index.owned_objects("pods", sts["metadata"]["uid"])
                if podspec.is_active(p)]
        ready = sum(1 for p in pods if podspec.is_ready(p))
        updated = sum(1 for p in pods if (p["metadata"].get("labels") or {}).get(
            "controller-revision-hash") == revision)
        old = sts.get("status") or {}
        current_revision = old.get("currentRevision") or revision
        if updated == len(pods) == sts["spec"].get("replicas", 1):
            current_revision = revision
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "currentReplicas": sum(1 for p in pods if (p["metadata"].get("labels") or {}).get(
                "controller-revision-hash") == current_revision),
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if ready:
            status["readyReplicas"] = ready
            status["availableReplicas"] = ready
        self.write_status(self.primary, key, status)
