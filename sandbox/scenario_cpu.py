"""The ``high-cpu`` scenario: CPU load on the MCP-server pods the autoscaler cannot absorb.

Traffic tripled (a customer's batch integration went live) and last week's values change
left the HorizontalPodAutoscaler's ``maxReplicas`` at its ``minReplicas``, 6: every
MCP-server pod now runs at about three times its usual CPU — some 140 % of its 500m
request, under its 2-CPU limit — and the HPA, at its maximum, cannot add a pod. The load
is the emulator's chaos load (``chaos.set_load``) on the app's pods, new ones included, so
``kubectl top``, the PodMetrics and the HPA's own status all show it; ``mcp-ops check``
reports the pods' average CPU as CRITICAL and ``alert-high-cpu-memory`` names the pods
and the HPA at its maximum. Raising ``maxReplicas`` (the scaling wizard's ``hpa_max``)
spreads the load; ``revert`` takes the load rule back and restores the HPA's maximum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .kube.controllers import chaos

if TYPE_CHECKING:
    from .platform import Sandbox

NAMESPACE = "mcp-production"
HPA = "mcp-server-hpa"
APP_LABELS = {"app": "mcp-server"}
CPU_FACTOR = 3.0  # usual ~48 % of the request -> ~145 %
STATE = "high-cpu"


def _cluster(sandbox: Sandbox):
    return sandbox.clusters.production.cluster


def _wake(cluster) -> None:
    controllers = cluster.extras.get("controllers")
    if controllers is not None:  # the metrics and the HPA see it at once
        controllers.metrics.wake()
        controllers.poke("horizontalpodautoscalers.autoscaling")


def _set_max(cluster, replicas: int | None) -> int | None:
    """Set the HPA's maxReplicas (None: leave it); returns the value it had."""
    hpa = cluster.store.peek("horizontalpodautoscalers.autoscaling", NAMESPACE, HPA)
    if hpa is None:
        return None
    before = int(hpa["spec"].get("maxReplicas") or 0) or None
    if replicas is not None:
        cluster.store.mutate("horizontalpodautoscalers.autoscaling", NAMESPACE, HPA,
                             lambda o: o["spec"].update(maxReplicas=replicas))
    return before


async def high_cpu_apply(sandbox: Sandbox) -> None:
    cluster = _cluster(sandbox)
    hpa = cluster.store.peek("horizontalpodautoscalers.autoscaling", NAMESPACE, HPA)
    floor = int(((hpa or {}).get("spec") or {}).get("minReplicas") or 6)
    before = _set_max(cluster, floor)
    chaos.set_load(cluster, CPU_FACTOR, namespace=NAMESPACE, selector=dict(APP_LABELS))
    rule = chaos.state(cluster).load[-1]
    sandbox.scenario_state[STATE] = (rule, before)
    _wake(cluster)


async def high_cpu_revert(sandbox: Sandbox) -> None:
    held = sandbox.scenario_state.pop(STATE, None)
    if held is None:
        return
    rule, before = held
    cluster = _cluster(sandbox)
    state = chaos.state(cluster)
    state.load = [r for r in state.load if r is not rule]
    controllers = cluster.extras.get("controllers")
    if controllers is not None:
        # the usual load is published before the HPA may grow again: with its maximum back
        # and the tripled figures still in the PodMetrics it would double the deployment
        await controllers.metrics.scrape()
    if before is not None:
        _set_max(cluster, before)
    _wake(cluster)
