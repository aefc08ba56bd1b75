"""Deployment -> ReplicaSets: revisions, rolling updates, rollbacks, history pruning.

``kubectl rollout history|undo|status`` read nothing but what this controller writes:
ReplicaSets named ``<deployment>-<pod-template-hash>`` and controlled by the Deployment,
``deployment.kubernetes.io/revision`` on both, ``revision-history`` on a ReplicaSet that a
rollback brought back, and the Deployment's status counters and Progressing condition.
The rolling-update arithmetic (surge rounded up, unavailability rounded down, unhealthy
old replicas cleaned up first) follows the upstream controller so rollouts advance in the
same steps as on a real cluster. Status is computed in :mod:`.rollout_status`.
"""

from __future__ import annotations

import copy

from ..store import Obj, WatchEvent
from . import podspec, quantity
from .base import Controller, Key, key_of
from .rollout_status import deployment_status

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# annotations that belong to the Deployment object itself and are never copied to its RS
NOT_COPIED = {REVISION, REVISION_HISTORY, DESIRED, MAX_REPLICAS,
              "kubectl.kubernetes.io/last-applied-configuration",
              "deprecated.deployment.rollback.to"}


def revision(rs: Obj) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _controller_ref(obj: Obj, kind: str) -> str | None:
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind:
            return ref.get("name")
    return None


def surge_and_unavailable(d: Obj) -> tuple[int, int]:
    replicas = d["spec"].get("replicas", 1)
    ru = (d["spec"].get("strategy") or {}).get("rollingUpdate") or {}
    surge = quantity.int_or_percent(ru.get("maxSurge"), replicas, round_up=True, default="25%")
    unavail = quantity.int_or_percent(ru.get("maxUnavailable"), replicas, round_up=False,
                                      default="25%")
    if surge == 0 and unavail == 0:
        unavail = 1
    return surge, min(unavail, replicas)


class DeploymentController(Controller):
    primary = "deployments.apps"
    watches = ("replicasets.apps", "pods")
    component = "deployment-controller"

    def keys_for(self, event: WatchEvent):
        if event.resource == self.primary:
            return (key_of(event.object),)
        obj = event.object
        if event.resource == "pods":
            # only a pod going away matters here: a Recreate rollout waits for that
            if event.type != "DELETED":
                return ()
            rs_ref = _controller_ref(obj, "ReplicaSet")
            obj = self.store.peek("replicasets.apps", event.namespace, rs_ref) if rs_ref else None
            if obj is None:
                return ()
        owner = _controller_ref(obj, "Deployment")
        return ((event.namespace, owner),) if owner else ()

    def sync(self, key: Key) -> None:
        d = self.store.peek(self.primary, *key)
        if d is None or podspec.is_terminating(d):
            return
        uid = d["metadata"]["uid"]
        rss = self.index.owned_objects("replicasets.apps", uid)
        template = d["spec"].get("template") or {}
        new = next((rs for rs in sorted(rss, key=revision, reverse=True)
                    if podspec.templates_equal(rs["spec"].get("template"), template)), None)
        created = False
        if not d["spec"].get("paused"):
            if new is None:
                new = self._create_replica_set(d, rss)
                created = new is not None
            else:
                self._stamp_annotations(d, new, rss)
            if new is not None:
                self._roll(d, new["metadata"]["name"])
        rss = self.index.owned_objects("replicasets.apps", uid)
        new = next((rs for rs in rss if new and rs["metadata"]["name"] == new["metadata"]["name"]),
                   None)
        if new is not None:
            self._stamp_deployment_revision(d, new)
        d = self.store.peek(self.primary, *key)
        if d is None:
            return
        status, recheck = deployment_status(d, new, rss, self.clock, created=created)
        self.write_status(self.primary, key, status)
        if recheck is not None:
            self.requeue(key, recheck)
        if status.get("conditions") and any(
                c["type"] == "Progressing" and c["reason"] == "NewReplicaSetAvailable"
                for c in status["conditions"]):
            self._prune_history(d, new, rss)

    # ---- replica sets --------------------------------------------------------------
    def _copied_annotations(self, d: Obj) -> dict[str, str]:
        return {k: v for k, v in (d["metadata"].get("annotations") or {}).items()
                if k not in NOT_COPIED}

    def _create_replica_set(self, d: Obj, rss: list[Obj]) -> Obj | None:
        ns, dname = key_of(d)
        template = copy.deepcopy(d["spec"].get("template") or {})
        collisions = int(d.get("status", {}).get("collisionCount") or 0)
        while True:
            h = podspec.template_hash(template, collisions)
            name = f"{dname}-{h}"
            if self.store.peek("replicasets.apps", ns, name) is None:
                break
            collisions += 1  # a different template hashed to the same name
        if collisions != int(d.get("status", {}).get("collisionCount") or 0):
            self.mutate(self.primary, key_of(d), lambda o: o.setdefault("status", {}).update(
                collisionCount=collisions))
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels[podspec.HASH_LABEL] = h
        template.setdefault("metadata", {})["labels"] = labels
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[podspec.HASH_LABEL] = h
        replicas = d["spec"].get("replicas", 1)
        surge, _ = surge_and_unavailable(d)
        annotations = self._copied_annotations(d)
        annotations.update({
            REVISION: str(max((revision(rs) for rs in rss), default=0) + 1),
            DESIRED: str(replicas),
            MAX_REPLICAS: str(replicas + surge),
        })
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "annotations": annotations,
                         "ownerReferences": [podspec.owner_ref(d)]},
            "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                     "selector": selector, "template": template},
            "status": {"replicas": 0},
        }
        return self.store.create("replicasets.apps", rs)

    def _stamp_annotations(self, d: Obj, new: Obj, rss: list[Obj]) -> None:
        """On a reused ReplicaSet (a rollback), move it to the next revision and remember
        the old number; keep copied annotations and desired counts current."""
        olds = [rs for rs in rss if rs["metadata"]["uid"] != new["metadata"]["uid"]]
        next_rev = max((revision(rs) for rs in olds), default=0) + 1
        replicas = d["spec"].get("replicas", 1)
        surge, _ = surge_and_unavailable(d)
        current = dict(new["metadata"].get("annotations") or {})
        wanted = {**current, **self._copied_annotations(d)}
        old_rev = revision(new)
        if old_rev < next_rev:
            wanted[REVISION] = str(next_rev)
            if old_rev:
                history = [x for x in current.get(REVISION_HISTORY, "").split(",") if x]
                wanted[REVISION_HISTORY] = ",".join([*history, str(old_rev)])
        wanted[DESIRED] = str(replicas)
        wanted[MAX_REPLICAS] = str(replicas + surge)
        if wanted != current:
            self.mutate("replicasets.apps", key_of(new),
                        lambda o: o["metadata"].__setitem__("annotations", wanted))

    def _stamp_deployment_revision(self, d: Obj, new: Obj) -> None:
        rev = (new["metadata"].get("annotations") or {}).get(REVISION)
        if rev and (d["metadata"].get("annotations") or {}).get(REVISION) != rev:
            self.mutate(self.primary, key_of(d), lambda o: o["metadata"].setdefault(
                "annotations", {}).__setitem__(REVISION, rev))

    def _scale(self, rs: Obj, to: int, d: Obj) -> None:
        frm = rs["spec"].get("replicas", 0)
        if frm == to:
            return
        self.mutate("replicasets.apps", key_of(rs), lambda o: o["spec"].__setitem__("replicas", to))
        direction = "up" if to > frm else "down"
        self.event(d, "Normal", "ScalingReplicaSet",
                   f"Scaled {direction} replica set {rs['metadata']['name']} from {frm} to {to}")

    # ---- rollout -------------------------------------------------------------------
    def _roll(self, d: Obj, new_name: str) -> None:
        rss = self.index.owned_objects("replicasets.apps", d["metadata"]["uid"])
        new = next(rs for rs in rss if rs["metadata"]["name"] == new_name)
        olds = sorted((rs for rs in rss if rs is not new),
                      key=lambda rs: rs["metadata"].get("creationTimestamp", ""))
        desired = d["spec"].get("replicas", 1)
        strategy = (d["spec"].get("strategy") or {}).get("type", "RollingUpdate")
        active_olds = [rs for rs in olds if rs["spec"].get("replicas", 0) > 0]
        if strategy == "Recreate":
            if active_olds:
                for rs in active_olds:
                    self._scale(rs, 0, d)
                return
            if any(p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
                   for rs in olds for p in self.index.owned_objects("pods", rs["metadata"]["uid"])):
                return  # wait until old pods are gone, terminating ones included
            self._scale(new, desired, d)
            return
        new_replicas = new["spec"].get("replicas", 0)
        if not active_olds or new_replicas > desired:
            self._scale(new, desired, d)  # a plain scaling event, or scaled down mid-rollout
            if not active_olds:
                return
            new_replicas = desired
        surge, unavail = surge_and_unavailable(d)
        total = new_replicas + sum(rs["spec"].get("replicas", 0) for rs in olds)
        if new_replicas < desired and total < desired + surge:
            self._scale(new, min(desired, new_replicas + desired + surge - total), d)
            return  # like upstream: scale up now, scale down on a later sync
        self._scale_down_olds(d, new, new_replicas, olds, desired, unavail)

    def _scale_down_olds(self, d: Obj, new: Obj, new_replicas: int, olds: list[Obj],
                         desired: int, unavail: int) -> None:
        plan = {rs["metadata"]["name"]: rs["spec"].get("replicas", 0) for rs in olds}
        all_count = new_replicas + sum(plan.values())
        min_available = desired - unavail
        new_unavailable = new_replicas - new.get("status", {}).get("availableReplicas", 0)
        budget = all_count - min_available - new_unavailable
        if budget <= 0:
            return
        # first remove old replicas that are not available anyway
        for rs in olds:
            name = rs["metadata"]["name"]
            unhealthy = plan[name] - rs.get("status", {}).get("availableReplicas", 0)
            if budget <= 0 or unhealthy <= 0:
                continue
            step = min(budget, unhealthy)
            plan[name] -= step
            budget -= step
        # then scale down available old replicas while availability allows it
        available = new.get("status", {}).get("availableReplicas", 0) + sum(
            min(plan[rs["metadata"]["name"]], rs.get("status", {}).get("availableReplicas", 0))
            for rs in olds)
        room = available - min_available
        for rs in olds:
            name = rs["metadata"]["name"]
            if room <= 0:
                break
            step = min(plan[name], room)
            plan[name] -= step
            room -= step
        for rs in olds:
            self._scale(rs, plan[rs["metadata"]["name"]], d)

    def _prune_history(self, d: Obj, new: Obj | None, rss: list[Obj]) -> None:
        limit = d["spec"].get("revisionHistoryLimit", 10)
        dead = sorted((rs for rs in rss if rs is not new and rs["spec"].get("replicas", 0) == 0
                       and rs.get("status", {}).get("replicas", 0) == 0),
                      key=revision)
        for rs in dead[: max(0, len(dead) - limit)]:
            self.delete("replicasets.apps", key_of(rs))
