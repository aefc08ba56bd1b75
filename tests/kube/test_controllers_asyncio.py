"""The controller-driven operations through kubernetes-asyncio instead of kubectl: a scale
followed through a watch until the rollout is complete, ``rollout undo`` done the way a
client library does it, eviction against the budget, metrics, and a Velero Restore.
"""

from __future__ import annotations

import asyncio

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = [pytest.mark.timeout(90), pytest.mark.emulator(speed=40)]

NS = "mcp-production"
NAME = "mcp-server-production"


def rolled_out(d) -> bool:
    """The test ``kubectl rollout status`` applies, on a typed V1Deployment."""
    s = d.status
    return (s.observed_generation >= d.metadata.generation
            and (s.updated_replicas or 0) == d.spec.replicas
            and (s.replicas or 0) == d.spec.replicas
            and (s.available_replicas or 0) == d.spec.replicas)


async def watch_until_rolled_out(apps: client.AppsV1Api, rv: str) -> list[int]:
    """Follow the Deployment's watch from ``rv``; return the updatedReplicas seen."""
    seen: list[int] = []
    w = watch.Watch()
    async with asyncio.timeout(30):
        async for event in w.stream(apps.list_namespaced_deployment, NS,
                                    field_selector=f"metadata.name={NAME}",
                                    resource_version=rv, timeout_seconds=30):
            d = event["object"]
            seen.append(d.status.updated_replicas or 0)
            if rolled_out(d):
                w.stop()
                break
    return seen


async def test_scale_and_follow_the_rollout_through_a_watch(emulator, kube_api):
    emulator.cluster.extras["hpa_actuation"] = False
    apps = client.AppsV1Api(kube_api)
    scale = await apps.patch_namespaced_deployment_scale(NAME, NS, {"spec": {"replicas": 9}})
    assert scale.spec.replicas == 9
    seen = await watch_until_rolled_out(apps, scale.metadata.resource_version)
    assert seen[-1] == 9 and seen == sorted(seen)
    pods = await client.CoreV1Api(kube_api).list_namespaced_pod(NS, label_selector="app=mcp-server")
    assert len(pods.items) == 9
    assert all(p.status.phase == "Running" and p.spec.node_name for p in pods.items)


async def test_undo_by_writing_the_old_template_back(emulator, kube_api):
    """What ``kubectl rollout undo`` does, done with a client library: JSON-patch the
    previous ReplicaSet's template (minus its hash label) into the Deployment."""
    emulator.cluster.extras["hpa_actuation"] = False
    apps = client.AppsV1Api(kube_api)
    body = {"spec": {"template": {"spec": {"containers": [
        {"name": "mcp-server", "image": "pratiko/mcp-server:v1.2.0"}]}}}}
    d = await apps.patch_namespaced_deployment(NAME, NS, body)
    await watch_until_rolled_out(apps, d.metadata.resource_version)
    rss = (await apps.list_namespaced_replica_set(NS, label_selector="app=mcp-server")).items
    assert len(rss) == 2
    old = next(rs for rs in rss if rs.metadata.annotations["deployment.kubernetes.io/revision"] == "1")
    template = kube_api.sanitize_for_serialization(old.spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    d = await apps.patch_namespaced_deployment(
        NAME, NS, [{"op": "replace", "path": "/spec/template", "value": template}],
        _content_type="application/json-patch+json")
    await watch_until_rolled_out(apps, d.metadata.resource_version)
    rss = (await apps.list_namespaced_replica_set(NS, label_selector="app=mcp-server")).items
    assert len(rss) == 2  # the old ReplicaSet was reused, not copied
    revived = next(rs for rs in rss if rs.metadata.name == old.metadata.name)
    assert revived.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    assert revived.metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert revived.spec.replicas == 6


async def test_evictions_stop_at_the_disruption_budget(emulator, kube_api):
    core = client.CoreV1Api(kube_api)
    pods = (await core.list_namespaced_pod(NS, label_selector="app=mcp-server")).items
    first, second = sorted(p.metadata.name for p in pods)[:2]

    def eviction(name: str) -> client.V1Eviction:
        return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=NS))

    await core.create_namespaced_pod_eviction(first, NS, eviction(first))
    with pytest.raises(ApiException) as refused:
        await core.create_namespaced_pod_eviction(second, NS, eviction(second))
    assert refused.value.status == 429
    assert "disruption budget" in refused.value.body

    async def replacement_ready() -> bool:
        pods = (await core.list_namespaced_pod(NS, label_selector="app=mcp-server")).items
        return sum(1 for p in pods if any(c.type == "Ready" and c.status == "True"
                                          for c in p.status.conditions or [])) == 6

    async with asyncio.timeout(20):
        while not await replacement_ready():
            await asyncio.sleep(0.1)
    await core.create_namespaced_pod_eviction(second, NS, eviction(second))
    pdb = await client.PolicyV1Api(kube_api).read_namespaced_pod_disruption_budget(
        "mcp-server-pdb", NS)
    assert pdb.status.desired_healthy == 5 and pdb.status.expected_pods == 6


async def test_pod_and_node_metrics_and_a_velero_restore(emulator, kube_api):
    custom = client.CustomObjectsApi(kube_api)

    async def pod_metrics() -> list[dict]:
        listed = await custom.list_namespaced_custom_object("metrics.k8s.io", "v1beta1", NS,
                                                            "pods", label_selector="app=mcp-server")
        return listed["items"]

    async with asyncio.timeout(15):
        while len(await pod_metrics()) < 6:
            await asyncio.sleep(0.1)
    assert all(m["containers"][0]["usage"]["cpu"].endswith("m") for m in await pod_metrics())
    nodes = await custom.list_cluster_custom_object("metrics.k8s.io", "v1beta1", "nodes")
    assert sorted(n["metadata"]["name"] for n in nodes["items"]) == [
        "node-1", "node-2", "node-3", "node-4"]

    backups = await custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")
    newest = max((b for b in backups["items"] if b["metadata"]["name"].startswith("daily-")),
                 key=lambda b: b["metadata"]["creationTimestamp"])
    await custom.create_namespaced_custom_object("velero.io", "v1", "velero", "restores", {
        "apiVersion": "velero.io/v1", "kind": "Restore",
        "metadata": {"name": "asyncio-restore", "namespace": "velero"},
        "spec": {"backupName": newest["metadata"]["name"]}})
    async with asyncio.timeout(15):
        while True:
            restore = await custom.get_namespaced_custom_object(
                "velero.io", "v1", "velero", "restores", "asyncio-restore")
            if (restore.get("status") or {}).get("phase") == "Completed":
                break
            await asyncio.sleep(0.1)
    progress = restore["status"]["progress"]
    assert progress["itemsRestored"] == progress["totalItems"] == newest["status"]["progress"][
        "itemsBackedUp"]
