"""``kubectl drain`` against the eviction API: cordon, DaemonSet pods left alone, a PDB
refusing with 429 while kubectl retries, then succeeding once the budget allows."""

from __future__ import annotations

import asyncio

import api_objects as w
import pytest
from kube_support import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.slow, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"


def owned_by(obj: dict) -> dict:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": True}


@pytest.fixture
async def world(emulator):
    store = emulator.store
    w.namespace(store)
    w.namespace(store, "security")
    for i in range(1, 5):
        w.node(store, f"node-{i}")
    rs = store.create("replicasets.apps", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "mcp-server-production-abc12", "namespace": NS},
        "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "mcp-server"}},
                 "template": {"metadata": {"labels": {"app": "mcp-server"}},
                              "spec": {"containers": [{"name": "mcp-server", "image": "x:1"}]}}}})
    for i in range(6):
        w.pod(store, f"mcp-server-production-abc12-{i:05d}", f"node-{i % 4 + 1}", owner=owned_by(rs))
    ds = store.create("daemonsets.apps", {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "falco", "namespace": "security"},
        "spec": {"selector": {"matchLabels": {"app": "falco"}},
                 "template": {"metadata": {"labels": {"app": "falco"}},
                              "spec": {"containers": [{"name": "falco", "image": "falco:0.37"}]}}}})
    for i in range(1, 5):
        w.pod(store, f"falco-{i}", f"node-{i}", ns="security", labels={"app": "falco"}, owner=owned_by(ds))
    w.pdb(store, min_available=6)
    return emulator


async def test_drain_retries_on_the_budget_then_evicts(world):
    store = world.store
    ctx = world.cluster.extras["api_server"]
    drain = asyncio.create_task(kubectl(world, "drain", "node-1", "--ignore-daemonsets",
                                        "--delete-emptydir-data", "--timeout=60s", timeout=90))
    for _ in range(300):
        if any(not allowed for _, _, allowed in ctx.evictions):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("drain never hit the disruption budget")
    assert store.get("nodes", "", "node-1")["spec"]["unschedulable"] is True
    store.mutate("poddisruptionbudgets.policy", NS, "mcp-server-pdb",
                 lambda p: p["spec"].update(minAvailable=4))
    res = await drain
    assert "node/node-1 drained" in res.stdout
    assert "Cannot evict pod as it would violate the pod's disruption budget." in res.stderr
    assert "will retry after 5s" in res.stderr
    assert "ignoring DaemonSet-managed Pods: security/falco-1" in res.stderr
    on_node_1 = [p["metadata"]["name"] for p in store.iter("pods") if p["spec"]["nodeName"] == "node-1"]
    assert on_node_1 == ["falco-1"]
    evicted = {pod for _, pod, allowed in ctx.evictions if allowed}
    assert evicted == {"mcp-server-production-abc12-00000", "mcp-server-production-abc12-00004"}
    await kubectl(world, "uncordon", "node-1")
    assert not store.get("nodes", "", "node-1")["spec"].get("unschedulable")
