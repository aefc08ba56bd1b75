"""Deletion as the apiserver and its garbage collector do it: propagation policies,
finalizers holding an object, preconditions, deletecollection by selector, namespaces."""

from __future__ import annotations

import json

import api_objects as w
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

pytestmark = [pytest.mark.timeout(30), pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"


def owner(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True}


@pytest.fixture
async def world(emulator):
    store = emulator.store
    w.namespace(store)
    w.node(store, "node-1")
    dep = w.deployment(store, replicas=2)
    rs = store.create("replicasets.apps", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "mcp-server-production-abc12", "namespace": NS, "ownerReferences": [owner(dep)]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "mcp-server"}},
                 "template": dep["spec"]["template"]}})
    for i in range(2):
        w.pod(store, f"mcp-server-production-abc12-{i}", "node-1", owner=owner(rs))
    return emulator


async def test_orphan_keeps_dependents_and_drops_their_owner_reference(world, kube_api):
    apps = client.AppsV1Api(kube_api)
    await apps.delete_namespaced_deployment("mcp-server-production", NS, propagation_policy="Orphan")
    rs = world.store.get("replicasets.apps", NS, "mcp-server-production-abc12")
    assert "ownerReferences" not in rs["metadata"]
    assert world.store.peek("pods", NS, "mcp-server-production-abc12-0") is not None


async def test_background_cascades_through_replica_sets_to_pods(world, kube_api):
    status = await client.AppsV1Api(kube_api).delete_namespaced_deployment("mcp-server-production", NS)
    assert status.status == "Success" and status.details.kind == "deployments"
    assert not world.store.iter("replicasets.apps") and not world.store.iter("pods")


async def test_finalizers_hold_an_object_until_removed(world, kube_api):
    core = client.CoreV1Api(kube_api)
    await core.create_namespaced_config_map(NS, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="held", finalizers=["example.com/hold"])))
    resp = await core.delete_namespaced_config_map("held", NS, _preload_content=False)
    held = json.loads(await resp.read())  # the object itself, not a Status: it still exists
    assert held["kind"] == "ConfigMap" and held["metadata"]["deletionTimestamp"]
    assert world.store.peek("configmaps", NS, "held") is not None
    await core.patch_namespaced_config_map("held", NS, {"metadata": {"finalizers": None}},
                                           _content_type="application/merge-patch+json")
    assert world.store.peek("configmaps", NS, "held") is None


async def test_preconditions_and_dry_run(world, kube_api):
    core = client.CoreV1Api(kube_api)
    with pytest.raises(ApiException) as err:
        await core.delete_namespaced_pod("mcp-server-production-abc12-0", NS,
                                         body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="wrong")))
    assert err.value.status == 409 and "Precondition failed" in json.loads(err.value.body)["message"]
    await core.delete_namespaced_pod("mcp-server-production-abc12-0", NS, dry_run="All")
    assert world.store.peek("pods", NS, "mcp-server-production-abc12-0") is not None


async def test_delete_collection_by_label(world, kube_api):
    core = client.CoreV1Api(kube_api)
    for name, tier in (("a", "web"), ("b", "web"), ("c", "db")):
        await core.create_namespaced_config_map(NS, client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name=name, labels={"tier": tier})))
    await core.delete_collection_namespaced_config_map(NS, label_selector="tier=web")
    assert [c["metadata"]["name"] for c in world.store.iter("configmaps", NS)] == ["c"]


async def test_deleting_a_namespace_deletes_what_is_in_it(world, kube_api):
    core = client.CoreV1Api(kube_api)
    await core.delete_namespace(NS)
    assert world.store.peek("namespaces", "", NS) is None
    assert not world.store.iter("pods") and not world.store.iter("deployments.apps")
    assert world.store.peek("nodes", "", "node-1") is not None
