"""PodDisruptionBudgets: the status the disruption controller maintains.

``kubectl drain`` evicts through ``pods/eviction``; the API server (``subresources.py``)
refuses with 429 when the budget allows no more disruptions, judging from the live pods,
and kubectl retries every 5 s until a replacement is Ready elsewhere. What operators read
(``kubectl get pdb``: ALLOWED DISRUPTIONS) is this controller's ``status``: expectedPods
(the owning controllers' scale when the budget is relative), currentHealthy,
desiredHealthy, disruptionsAllowed and the DisruptionAllowed condition, recomputed
whenever a covered pod changes.
"""

from __future__ import annotations

import math

from ..store import Obj, WatchEvent
from . import podspec, quantity
from .base import Controller, Key, key_of, set_condition


def matching_budgets(store, pod: Obj) -> list[Obj]:
    ns = pod["metadata"].get("namespace", "")
    labels = pod["metadata"].get("labels") or {}
    return [pdb for pdb in store.iter("poddisruptionbudgets.policy", ns)
            if pdb.get("spec", {}).get("selector") is not None
            and podspec.labels_match(pdb["spec"]["selector"], labels)]


def _expected_from_controllers(store, pods: list[Obj]) -> int:
    """The summed scale of the pods' top controllers (Deployment over ReplicaSet)."""
    seen: dict[tuple[str, str], int] = {}
    for pod in pods:
        ns = pod["metadata"].get("namespace", "")
        ref = next((r for r in pod["metadata"].get("ownerReferences") or []
                    if r.get("controller")), None)
        if ref is None:
            continue
        resource = {"ReplicaSet": "replicasets.apps", "StatefulSet": "statefulsets.apps",
                    "Deployment": "deployments.apps"}.get(ref.get("kind"))
        if resource is None:
            continue
        owner = store.peek(resource, ns, ref["name"])
        if owner is None:
            continue
        if resource == "replicasets.apps":
            top = next((r for r in owner["metadata"].get("ownerReferences") or []
                        if r.get("controller") and r.get("kind") == "Deployment"), None)
            parent = store.peek("deployments.apps", ns, top["name"]) if top else None
            if parent is not None:
                owner, resource = parent, "deployments.apps"
        seen[(resource, owner["metadata"]["name"])] = owner.get("spec", {}).get("replicas", 1)
    return sum(seen.values())


def budget_numbers(store, pdb: Obj) -> dict[str, int]:
    """expectedPods, currentHealthy, desiredHealthy and disruptionsAllowed, right now."""
    ns = pdb["metadata"].get("namespace", "")
    selector = pdb["spec"].get("selector") or {}
    pods = [p for p in store.iter("pods", ns) if podspec.is_active(p)
            and podspec.labels_match(selector, p["metadata"].get("labels"))]
    healthy = sum(1 for p in pods if podspec.is_ready(p))
    spec = pdb["spec"]
    percent = any(isinstance(spec.get(k), str) and str(spec.get(k)).endswith("%")
                  for k in ("minAvailable", "maxUnavailable"))
    if "maxUnavailable" in spec or percent:
        expected = _expected_from_controllers(store, pods) or len(pods)
    else:
        expected = len(pods)
    if "maxUnavailable" in spec:
        max_unavailable = spec["maxUnavailable"]
        if isinstance(max_unavailable, str) and max_unavailable.endswith("%"):
            max_unavailable = math.ceil(float(max_unavailable[:-1]) * expected / 100)
        desired = max(0, expected - int(max_unavailable))
    else:
        desired = quantity.int_or_percent(spec.get("minAvailable", 1), expected,
                                          round_up=True, default="1")
    allowed = max(0, healthy - desired)
    return {"expectedPods": expected, "currentHealthy": healthy, "desiredHealthy": desired,
            "disruptionsAllowed": allowed}


class DisruptionController(Controller):
    primary = "poddisruptionbudgets.policy"
    watches = ("pods",)
    component = "disruption-controller"

    def keys_for(self, event: WatchEvent):
        if event.resource == self.primary:
            return (key_of(event.object),)
        return [key_of(pdb) for pdb in matching_budgets(self.store, event.object)]

    def sync(self, key: Key) -> None:
        pdb = self.store.peek(self.primary, *key)
        if pdb is None:
            return
        now = self.now()
        numbers = budget_numbers(self.store, pdb)
        old = pdb.get("status") or {}
        status: Obj = {"observedGeneration": pdb["metadata"].get("generation", 1), **numbers}
        if numbers["disruptionsAllowed"] > 0:
            conds = set_condition(old.get("conditions") or [], "DisruptionAllowed", "True",
                                  "SufficientPods", "", now)
        else:
            conds = set_condition(old.get("conditions") or [], "DisruptionAllowed", "False",
                                  "InsufficientPods", "", now)
        for c in conds:
            c["observedGeneration"] = status["observedGeneration"]
        status["conditions"] = conds
        self.write_status(self.primary, key, status)
