"""ReplicaSet -> Pods: keep the number of live pods at ``spec.replicas``.

Pods are named ``<replicaset>-<5 safe characters>`` and controlled by the ReplicaSet
(ownerReferences with ``controller: true``), which is how ``kubectl drain`` knows a pod
will come back and how ``kubectl rollout`` finds a Deployment's pods. When scaling down,
the pods least worth keeping go first (unscheduled, pending, not ready, newest), as
upstream ranks them. Deleted pods get a ``deletionTimestamp`` and are removed by the
kubelet after a short grace period, so ``kubectl get pods`` shows them Terminating.
"""

from __future__ import annotations

from ..store import ApiError, Obj, WatchEvent
from . import podspec
from .base import Controller, Key, key_of, parse_time

BURST = 500  # pods created per sync; the rest on the next one, so the loop stays responsive
_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def begin_pod_deletion(ctrl: Controller, key: Key) -> None:
    """Graceful delete: mark the pod terminating; the kubelet finishes the job."""
    pod = ctrl.store.peek("pods", *key)
    if pod is None or podspec.is_terminating(pod):
        return
    grace = pod["spec"].get("terminationGracePeriodSeconds", 30)

    def mark(obj: Obj) -> None:
        obj["metadata"]["deletionTimestamp"] = ctrl.clock.timestamp(ctrl.clock.now() + grace)
        obj["metadata"]["deletionGracePeriodSeconds"] = grace

    ctrl.mutate("pods", key, mark)


def _deletion_rank(pod: Obj) -> tuple:
    status = pod.get("status", {})
    ready = podspec.condition(pod, "Ready") or {}
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    return (
        1 if pod["spec"].get("nodeName") else 0,
        _PHASE_RANK.get(status.get("phase"), 0),
        1 if ready.get("status") == "True" else 0,
        -(parse_time(ready.get("lastTransitionTime")) or 0),  # ready for less time goes first
        -restarts,
        # newest first: invert the timestamp by sorting on its negation
        -(parse_time(pod["metadata"].get("creationTimestamp")) or 0),
    )


def available(pod: Obj, min_ready: int, now: float) -> bool:
    if min_ready <= 0:
        return podspec.is_ready(pod)
    ready = podspec.condition(pod, "Ready")
    if not ready or ready.get("status") != "True":
        return False
    if min_ready <= 0:
        return True
    since = parse_time(ready.get("lastTransitionTime")) or now
    return since + min_ready <= now


class ReplicaSetController(Controller):
    primary = "replicasets.apps"
    watches = ("pods",)
    component = "replicaset-controller"

    def keys_for(self, event: WatchEvent):
        if event.resource == self.primary:
            return (key_of(event.object),)
        for ref in event.object.get("metadata", {}).get("ownerReferences") or []:
            if ref.get("controller") and ref.get("kind") == "ReplicaSet":
                return ((event.namespace, ref["name"]),)
        return ()

    def sync(self, key: Key) -> None:
        rs = self.store.peek(self.primary, *key)
        if rs is None or podspec.is_terminating(rs):
            return
        desired = rs["spec"].get("replicas", 1)
        pods = self._active_pods(rs)
        diff = len(pods) - desired
        if diff < 0:
            for _ in range(min(-diff, BURST)):
                self._create_pod(rs)
            if -diff > BURST:
                self.enqueue(key)
        elif diff > 0:
            victims = sorted(pods, key=_deletion_rank)[:diff]
            for pod in victims:
                begin_pod_deletion(self, key_of(pod))
                self.event(rs, "Normal", "SuccessfulDelete",
                           f"Deleted pod: {pod['metadata']['name']}")
        if diff:
            pods = self._active_pods(rs)
        self._write_status(key, rs, pods)

    def _active_pods(self, rs: Obj) -> list[Obj]:
        return [p for p in self.index.owned_objects("pods", rs["metadata"]["uid"])
                if podspec.is_active(p)]

    def _create_pod(self, rs: Obj) -> None:
        ns, rs_name = key_of(rs)
        for _ in range(5):
            name = f"{rs_name}-{podspec.random_suffix()}"
            pod = podspec.pod_from_template(rs["spec"].get("template"), name=name,
                                            namespace=ns, owner=rs)
            try:
                self.store.create("pods", pod)
            except ApiError as err:
                if err.code == 409:
                    continue  # name taken: draw another suffix
                raise
            self.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {name}")
            return

    def _write_status(self, key: Key, rs: Obj, pods: list[Obj]) -> None:
        """One pass over the pods (a ReplicaSet may own ten thousand of them)."""
        now = self.clock.now()
        min_ready = rs["spec"].get("minReadySeconds", 0)
        template_labels = ((rs["spec"].get("template") or {}).get("metadata") or {}).get(
            "labels") or {}
        labeled = ready = avail = 0
        for p in pods:
            labels = p["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                labeled += 1
            for cond in p.get("status", {}).get("conditions") or ():
                if cond.get("type") == "Ready":
                    if cond.get("status") == "True":
                        ready += 1
                        if available(p, min_ready, now):
                            avail += 1
                    break
        status: Obj = {"replicas": len(pods)}
        if labeled:
            status["fullyLabeledReplicas"] = labeled
        if ready:
            status["readyReplicas"] = ready
        if avail:
            status["availableReplicas"] = avail
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        self.write_status(self.primary, key, status)
        if avail < ready:
            self.requeue(key, 1.0)  # a pod will become available when minReadySeconds pass
