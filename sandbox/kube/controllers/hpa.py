"""HorizontalPodAutoscalers (autoscaling/v2) driven by the PodMetrics of their targets.

Every 15 emulated seconds, as the upstream controller: utilisation = summed usage /
summed requests of the target's ready pods; outside a 10 % tolerance the recommendation
is ``ceil(ready * utilisation / target)``, bounded by min/max replicas, limited on the way
up (double, or +4) and held on the way down by a 300 s stabilisation window so a noisy
minute does not flap the Deployment. ``status`` carries currentMetrics and the
AbleToScale / ScalingActive / ScalingLimited conditions ``kubectl describe hpa`` shows.
A target at 0 replicas (minReplicas not 0) disables scaling (``ScalingActive`` False,
``ScalingDisabled``) until it has replicas again, as upstream. Set
``cluster.extras["hpa_actuation"] = False`` to compute status without scaling, for
tests (and rehearsals) that scale by hand.
"""

from __future__ import annotations

import math

from ..store import Obj
from . import podspec, quantity
from .base import Controller, Key, set_condition

SYNC_SECONDS = 15.0
TOLERANCE = 0.1
DOWNSCALE_WINDOW = 300.0
TARGETS = {"Deployment": "deployments.apps", "StatefulSet": "statefulsets.apps",
           "ReplicaSet": "replicasets.apps"}


def _selector_of(target: Obj) -> Obj:
    return target.get("spec", {}).get("selector") or {}


class HorizontalPodAutoscalerController(Controller):
    primary = "horizontalpodautoscalers.autoscaling"
    component = "horizontal-pod-autoscaler"

    def __init__(self, manager):
        super().__init__(manager)
        self._recommendations: dict[Key, list[tuple[float, int]]] = {}

    def sync(self, key: Key) -> None:
        self.requeue(key, SYNC_SECONDS)
        hpa = self.store.peek(self.primary, *key)
        if hpa is None:
            self._recommendations.pop(key, None)
            return
        spec = hpa.get("spec") or {}
        ref = spec.get("scaleTargetRef") or {}
        resource = TARGETS.get(ref.get("kind", ""))
        target = self.store.peek(resource, key[0], ref.get("name", "")) if resource else None
        now = self.now()
        old = hpa.get("status") or {}
        conds = old.get("conditions") or []
        if target is None:
            conds = set_condition(conds, "AbleToScale", "False", "FailedGetScale",
                                  f'the HPA controller was unable to get the target\'s current '
                                  f'scale: {resource or ref.get("kind")} "{ref.get("name")}" '
                                  "not found", now)
            self.write_status(self.primary, key, {**old, "conditions": conds,
                                                  "currentReplicas": 0,
                                                  "desiredReplicas": 0})
            return
        current = target["spec"].get("replicas", 1)
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas", current)
        if current == 0 and lo != 0:
            # as upstream: a target scaled to zero by hand switches the autoscaler off until
            # someone gives it replicas again (how traffic is stopped for a recovery)
            conds = set_condition(conds, "AbleToScale", "True", "SucceededGetScale",
                                  "the HPA controller was able to get the target's current "
                                  "scale", now)
            conds = set_condition(conds, "ScalingActive", "False", "ScalingDisabled",
                                  "scaling is disabled since the replica count of the target "
                                  "is zero", now)
            status = {"currentReplicas": 0, "desiredReplicas": 0, "conditions": conds}
            if "lastScaleTime" in old:
                status["lastScaleTime"] = old["lastScaleTime"]
            self.write_status(self.primary, key, status)
            return
        pods = self._target_pods(key[0], target, resource)
        # samples from before the last rescale describe the old replica count: acting on
        # them would overshoot (upstream waits out pods' CPU initialisation for the same
        # reason); until fresh ones arrive the recommendation is the current size
        proposals, metrics, failure = self._evaluate(spec, key[0], pods, current,
                                                     old.get("lastScaleTime"))
        if failure and "lastScaleTime" in old and metrics == [] and "no metrics" in failure:
            proposals, metrics, failure = [current], old.get("currentMetrics") or [], None
        status: Obj = {"currentReplicas": current}
        if metrics:
            status["currentMetrics"] = metrics
        conds = set_condition(conds, "AbleToScale", "True", "ReadyForNewScale",
                              "recommended size matches current size", now)
        if failure:
            conds = set_condition(conds, "ScalingActive", "False", "FailedGetResourceMetric",
                                  failure, now)
            status["desiredReplicas"] = current
        else:
            conds = set_condition(conds, "ScalingActive", "True", "ValidMetricFound",
                                  "the HPA was able to successfully calculate a replica count "
                                  f"from {self._metric_words(spec)}", now)
            raw = max(proposals) if proposals else current
            desired, conds = self._bound(key, raw, current, lo, hi, conds, now)
            status["desiredReplicas"] = desired
            if desired != current and self.cluster.extras.get("hpa_actuation", True):
                self.mutate(resource, (key[0], ref["name"]),
                            lambda o: o["spec"].__setitem__("replicas", desired))
                status["lastScaleTime"] = now
                conds = set_condition(conds, "AbleToScale", "True", "SucceededRescale",
                                      f"the HPA controller was able to update the target scale "
                                      f"to {desired}", now)
                self.event(hpa, "Normal", "SuccessfulRescale",
                           f"New size: {desired}; reason: {self._metric_words(spec)} above target"
                           if desired > current else
                           f"New size: {desired}; reason: All metrics below target")
        if "lastScaleTime" in old and "lastScaleTime" not in status:
            status["lastScaleTime"] = old["lastScaleTime"]
        status["conditions"] = conds
        self.write_status(self.primary, key, status)

    def _target_pods(self, ns: str, target: Obj, resource: str) -> list[Obj]:
        """The target's live pods: through the owner index for a Deployment (cheap with
        ten thousand pods in the namespace), by label selector otherwise."""
        if resource == "deployments.apps":
            pods = [p for rs in self.index.owned_objects("replicasets.apps",
                                                         target["metadata"]["uid"])
                    for p in self.index.owned_objects("pods", rs["metadata"]["uid"])]
        else:
            selector = _selector_of(target)
            pods = [p for p in self.store.iter("pods", ns)
                    if podspec.labels_match(selector, p["metadata"].get("labels"))]
        return [p for p in pods if podspec.is_active(p)]

    def _metric_words(self, spec: Obj) -> str:
        names = [m.get("resource", {}).get("name", "cpu") for m in spec.get("metrics") or []
                 if m.get("type") == "Resource"] or ["cpu"]
        return " and ".join(f"{n} resource utilization (percentage of request)" for n in names)

    def _evaluate(self, spec: Obj, ns: str, pods: list[Obj], current: int,
                  fresh_after: str | None = None):
        metrics_out, proposals = [], []
        ready = [p for p in pods if podspec.is_ready(p)]
        for metric in spec.get("metrics") or [
                {"type": "Resource", "resource": {"name": "cpu", "target": {
                    "type": "Utilization", "averageUtilization": 80}}}]:
            if metric.get("type") != "Resource":
                continue
            name = metric["resource"]["name"]
            target = metric["resource"].get("target") or {}
            used = requested = 0.0
            counted = 0
            for pod in ready:
                pm = self.store.peek("pods.metrics.k8s.io", ns, pod["metadata"]["name"])
                if pm is None or (fresh_after and (pm.get("timestamp") or "") <= fresh_after):
                    continue  # no sample, or one taken before the last rescale
                counted += 1
                for c in pm.get("containers") or []:
                    used += quantity.parse(c.get("usage", {}).get(name))
                for c in pod["spec"].get("containers") or []:
                    req = ((c.get("resources") or {}).get("requests") or {}).get(name)
                    requested += quantity.parse(req)
            if not counted:
                return [], [], (f"the HPA was unable to compute the replica count: failed to get "
                                f"{name} utilization: unable to get metrics for resource {name}: "
                                "no metrics returned from resource metrics API")
            average = used / counted
            current_block: Obj = {"averageValue": _fmt(name, average)}
            if target.get("type") == "Utilization":
                if not requested:
                    return [], [], (f"the HPA was unable to compute the replica count: failed to "
                                    f"get {name} utilization: missing request for {name}")
                utilisation = used / requested * 100
                current_block["averageUtilization"] = round(utilisation)
                goal = float(target.get("averageUtilization", 80)) / 100 * requested / counted
            else:
                goal = quantity.parse(target.get("averageValue")) or 1.0
            proposals.append(_recommend(used, counted, len(ready), goal, current))
            metrics_out.append({"type": "Resource",
                                "resource": {"name": name, "current": current_block}})
        return proposals, metrics_out, None

    def _bound(self, key: Key, raw: int, current: int, lo: int, hi: int, conds, now):
        history = self._recommendations.setdefault(key, [])
        t = self.clock.now()
        history.append((t, raw))
        history[:] = [(at, n) for at, n in history if t - at <= DOWNSCALE_WINDOW]
        desired = raw
        if raw < current:
            stabilised = max(n for _, n in history)
            if stabilised > raw:
                desired = min(current, stabilised)
                conds = set_condition(conds, "AbleToScale", "True", "ScaleDownStabilized",
                                      "recent recommendations were higher than current one, "
                                      "applying the highest recent recommendation", now)
        desired = min(desired, max(current * 2, current + 4))
        if desired > hi:
            conds = set_condition(conds, "ScalingLimited", "True", "TooManyReplicas",
                                  "the desired replica count is more than the maximum replica "
                                  "count", now)
            desired = hi
        elif desired < lo:
            conds = set_condition(conds, "ScalingLimited", "True", "TooFewReplicas",
                                  "the desired replica count is less than the minimum replica "
                                  "count", now)
            desired = lo
        else:
            conds = set_condition(conds, "ScalingLimited", "False", "DesiredWithinRange",
                                  "the desired count is within the acceptable range", now)
        return desired, conds


def _recommend(used: float, counted: int, ready: int, goal: float, current: int) -> int:
    """Upstream's replica calculation for one metric: ``ceil(ratio * ready)`` outside the
    tolerance, where ready pods without a (fresh) sample count as using nothing when
    scaling up and their full target when scaling down, so a half-measured workload
    never overshoots; if that reverses the direction, keep the current size."""
    ratio = used / counted / goal
    if abs(ratio - 1) <= TOLERANCE:
        return current
    missing = ready - counted
    if missing > 0:
        filled = used + (goal * missing if ratio < 1 else 0.0)
        adjusted = filled / ready / goal
        if abs(adjusted - 1) <= TOLERANCE or (adjusted - 1) * (ratio - 1) < 0:
            return current
        ratio = adjusted
    return math.ceil(ratio * ready)


def _fmt(name: str, value: float) -> str:
    return quantity.format_cpu(value * 1000) if name == "cpu" else quantity.format_memory(value)
