"""The ``outage`` scenario: a release that takes the whole service down.

Someone applied release 2.5.0 of the MCP server with ``strategy: Recreate``: every old pod
was stopped first, and every new one crashes a few seconds after it starts
(CrashLoopBackOff, restarts rising; between crashes a pod is ``Running`` but not Ready,
which the runbook's ``kubectl get pods -A | grep -v Running`` hides). With no Ready pod
the front door answers ``/health`` with 503. A ``kubectl rollout undo`` brings back the
previous template (the crash belongs to the release's pods), the pods become Ready and
the service answers again: the ``service-outage`` wizard's recovery works for real.

:func:`maintenance_manifest` is the runbook's ``k8s/maintenance-mode.yaml`` for the
sandbox: a small maintenance-page Deployment and Service.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .kube.controllers import chaos

if TYPE_CHECKING:
    from .platform import Sandbox

NAMESPACE, DEPLOYMENT = "mcp-production", "mcp-server-production"
RELEASE = "2.5.0"
CAUSE = "kubectl apply -f k8s/mcp-server-2.5.0.yaml"
STATE = "outage"


def ready_app_pods(cluster: Any) -> int:
    count = 0
    for pod in cluster.store.iter("pods", NAMESPACE):
        if (pod["metadata"].get("labels") or {}).get("app") != "mcp-server" or \
                pod["metadata"].get("deletionTimestamp"):
            continue
        if any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or []):
            count += 1
    return count


def break_release(cluster: Any) -> dict[str, Any]:
    """Roll the Deployment to the crashing release; returns what to put back."""
    saved: dict[str, Any] = {}

    def edit(deployment: dict) -> None:
        saved["strategy"] = copy.deepcopy(deployment["spec"].get("strategy"))
        template = deployment["spec"]["template"]
        template["metadata"].setdefault("labels", {})["release"] = RELEASE
        container = template["spec"]["containers"][0]
        container["image"] = container["image"].rsplit(":", 1)[0] + ":" + RELEASE
        deployment["spec"]["strategy"] = {"type": "Recreate"}
        deployment["metadata"].setdefault("annotations", {})[
            "kubernetes.io/change-cause"] = CAUSE

    chaos.crashloop(cluster, NAMESPACE, selector={"app": "mcp-server", "release": RELEASE})
    cluster.store.mutate("deployments.apps", NAMESPACE, DEPLOYMENT, edit)
    return saved


def heal_release(cluster: Any, saved: dict[str, Any]) -> None:
    state = chaos.state(cluster)
    state.crashes = [t for t in state.crashes if (t.selector or {}).get("release") != RELEASE]

    def edit(deployment: dict) -> None:
        template = deployment["spec"]["template"]
        labels = template["metadata"].get("labels") or {}
        if labels.pop("release", None) is not None:
            container = template["spec"]["containers"][0]
            container["image"] = container["image"].rsplit(":", 1)[0] + ":2.4.1"
        if saved.get("strategy") is not None:
            deployment["spec"]["strategy"] = saved["strategy"]

    if cluster.store.peek("deployments.apps", NAMESPACE, DEPLOYMENT) is not None:
        cluster.store.mutate("deployments.apps", NAMESPACE, DEPLOYMENT, edit)


async def outage_apply(sandbox: Sandbox) -> None:
    assert sandbox.clusters is not None and sandbox.simulator is not None
    cluster = sandbox.clusters.production.cluster
    sandbox.scenario_state[STATE] = break_release(cluster)
    sandbox.simulator.health_probe = lambda: None if ready_app_pods(cluster) else \
        "no Ready mcp-server pod behind the load balancer"


async def outage_revert(sandbox: Sandbox) -> None:
    saved = sandbox.scenario_state.pop(STATE, None)
    if sandbox.simulator is not None:
        sandbox.simulator.health_probe = None
    if saved is not None and sandbox.clusters is not None:
        heal_release(sandbox.clusters.production.cluster, saved)


def maintenance_manifest() -> list[dict[str, Any]]:
    labels = {"app": "maintenance-page"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "maintenance-page", "namespace": NAMESPACE, "labels": labels},
         "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels},
                               "spec": {"containers": [{
                                   "name": "nginx", "image": "nginx:1.27-alpine",
                                   "ports": [{"containerPort": 80}]}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "maintenance-page", "namespace": NAMESPACE, "labels": labels},
         "spec": {"selector": labels, "ports": [{"name": "http", "port": 80,
                                                 "targetPort": 80}]}},
    ]
