"""Small object builders for the API-server tests: a namespace, nodes, a deployment with
ready pods, an HPA, a PDB — written straight into the store, so the API tests do not depend
on the controllers or the seeded world."""

from __future__ import annotations

import time

NS = "mcp-production"


def stamp(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def namespace(store, name: str = NS) -> dict:
    return store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                       "metadata": {"name": name}, "status": {"phase": "Active"}})


def node(store, name: str, unschedulable: bool = False, ready: bool = True) -> dict:
    return store.create("nodes", {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"unschedulable": True} if unschedulable else {},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "nodeInfo": {"kubeletVersion": "v1.31.0", "kubeProxyVersion": "v1.31.0",
                                "architecture": "amd64", "operatingSystem": "linux",
                                "osImage": "Ubuntu 22.04.4 LTS", "kernelVersion": "5.15.0",
                                "containerRuntimeVersion": "containerd://1.7.13",
                                "bootID": name, "machineID": name, "systemUUID": name},
                   "addresses": [{"type": "InternalIP", "address": f"10.0.0.{name[-1]}"}]}})


def pod(store, name: str, node_name: str, *, labels: dict | None = None, ready: bool = True,
        restarts: int = 0, phase: str = "Running", ns: str = NS, owner: dict | None = None,
        age: float = 600) -> dict:
    now = store.clock.now()
    meta = {"name": name, "namespace": ns, "labels": labels or {"app": "mcp-server"},
            "creationTimestamp": stamp(now - age)}
    if owner:
        meta["ownerReferences"] = [owner]
    return store.create("pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": node_name,
                 "containers": [{"name": "mcp-server", "image": "pratiko/mcp-server:v1.1.0"}]},
        "status": {"phase": phase, "podIP": f"10.244.0.{len(name)}",
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "containerStatuses": [{"name": "mcp-server", "ready": ready,
                                          "image": "pratiko/mcp-server:v1.1.0",
                                          "imageID": "docker.io/pratiko/mcp-server@sha256:" + "0" * 64,
                                          "restartCount": restarts, "started": ready,
                                          "state": {"running": {"startedAt": stamp(now - age)}}}]}})


def deployment(store, name: str = "mcp-server-production", replicas: int = 6,
               labels: dict | None = None) -> dict:
    labels = labels or {"app": "mcp-server"}
    return store.create("deployments.apps", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": dict(labels)},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [{"name": "mcp-server",
                                                       "image": "pratiko/mcp-server:v1.1.0"}]}}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "updatedReplicas": replicas,
                   "availableReplicas": replicas}})


def hpa(store, name: str = "mcp-server-hpa", target: str = "mcp-server-production") -> dict:
    return store.create("horizontalpodautoscalers.autoscaling", {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "minReplicas": 6, "maxReplicas": 12,
                 "metrics": [{"type": "Resource", "resource": {
                     "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": {"currentReplicas": 6, "desiredReplicas": 6,
                   "currentMetrics": [{"type": "Resource", "resource": {
                       "name": "cpu", "current": {"averageUtilization": 45}}}]}})


def pdb(store, name: str = "mcp-server-pdb", min_available=5, labels: dict | None = None) -> dict:
    return store.create("poddisruptionbudgets.policy", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"minAvailable": min_available,
                 "selector": {"matchLabels": labels or {"app": "mcp-server"}}}})


def small_world(store, pods: int = 6) -> None:
    """A namespace, four nodes, a deployment whose pods spread over them, an HPA."""
    namespace(store)
    for i in range(1, 5):
        node(store, f"node-{i}")
    deployment(store, replicas=pods)
    for i in range(pods):
        pod(store, f"mcp-server-production-abc12-{i:05d}", f"node-{i % 4 + 1}", restarts=i % 3)
    hpa(store)
