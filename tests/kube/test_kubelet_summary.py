"""The kubelet Summary API behind ``nodes/NODE/proxy``, as the real kubectl reads it, and
the console's disk figures from it: the fullest node judged by DESIGN.md's disk row."""

from __future__ import annotations

import json

import pytest
from kube_support import kubectl

from console.collectors.kube import KubeCollector
from console.config.model import KubernetesSettings, Thresholds
from console.health import Status
from console.health.evaluate import evaluate_component
from sandbox.kube.kubelet import set_disk_fill

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(60)]


async def summary(emulator, node: str, kubeconfig=None) -> dict:
    done = await kubectl(emulator, "get", "--raw", f"/api/v1/nodes/{node}/proxy/stats/summary",
                         **({"kubeconfig": kubeconfig} if kubeconfig else {}))
    return json.loads(done.stdout)


async def test_kubectl_reads_a_node_summary_and_a_scenario_fills_the_disk(emulator):
    body = await summary(emulator, "node-2")
    fs = body["node"]["fs"]
    assert body["node"]["nodeName"] == "node-2"
    assert fs["capacityBytes"] == 100 * 2**30  # the node's ephemeral-storage capacity
    assert fs["usedBytes"] + fs["availableBytes"] == fs["capacityBytes"]
    assert 0.35 < fs["usedBytes"] / fs["capacityBytes"] < 0.70
    assert body["pods"] and all("ephemeral-storage" in p for p in body["pods"])

    set_disk_fill(emulator.cluster, "node-2", 0.93)
    fs = (await summary(emulator, "node-2"))["node"]["fs"]
    assert fs["usedBytes"] == int(0.93 * 100 * 2**30)
    missing = await kubectl(emulator, "get", "--raw", "/api/v1/nodes/node-9/proxy/stats/summary",
                            check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr


async def test_the_collector_judges_the_fullest_node_and_names_each_full_one(emulator):
    settings = KubernetesSettings(kubeconfig=str(emulator.kubeconfig), request_timeout=5)
    c = KubeCollector(settings, watch=False)
    try:
        snap = await c.collect()
        health = evaluate_component("pods", snap, Thresholds())
        disk = {f.check: f for f in health.findings if f.check.startswith("disk")}
        assert list(disk) == ["disk"] and disk["disk"].status is Status.HEALTHY
        fullest = max(snap.nodes, key=lambda n: n.disk_pct or 0)
        assert disk["disk"].reason.startswith(f"fullest node disk: {fullest.name} ")

        set_disk_fill(emulator.cluster, "node-2", 0.97)
        set_disk_fill(emulator.cluster, "node-3", 0.88)
        snap = await c.collect()
    finally:
        await c.close()
    health = evaluate_component("pods", snap, Thresholds())
    disk = {f.check: f for f in health.findings if f.check.startswith("disk")}
    assert disk["disk"].status is Status.CRITICAL and "node-2 97% > 95%" in disk["disk"].reason
    assert disk["disk.node-3"].status is Status.WARNING and "node-3 88% ≥ 85%" in \
        disk["disk.node-3"].reason
    assert health.status is Status.CRITICAL


async def test_credentials_that_may_not_proxy_to_nodes_get_no_disk_and_a_note(emulator):
    """Like Kubernetes' own ``view`` role: nodes may be listed, ``nodes/proxy`` may not."""
    from sandbox.kube.auth import EVERYONE, User

    authz = emulator.server.ctx.authorizer
    authz.tokens["node-viewer-token"] = User("node-viewer", (EVERYONE,))
    authz.user_rules["node-viewer"] = [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"],
                                        "resources": ["nodes", "pods", "deployments", "events",
                                                      "horizontalpodautoscalers"]}]
    kubeconfig = emulator.server.write_kubeconfig(emulator.kubeconfig.with_name("kc-nodes"),
                                                  "node-viewer-token")
    refused = await kubectl(emulator, "get", "--raw", "/api/v1/nodes/node-1/proxy/stats/summary",
                            kubeconfig=kubeconfig, check=False)
    assert refused.returncode != 0 and "nodes/proxy" in refused.stderr
    c = KubeCollector(KubernetesSettings(kubeconfig=str(kubeconfig), request_timeout=5),
                      watch=False)
    try:
        snap = await c.collect()
    finally:
        await c.close()
    assert snap.nodes and all(n.disk_pct is None for n in snap.nodes)
    assert snap.disk_error.startswith("HTTP 403")
    findings = evaluate_component("pods", snap, Thresholds()).findings
    note = next(f for f in findings if f.check == "unread.disk")
    assert note.status is Status.HEALTHY
    assert note.reason.startswith("node disks not checked (these credentials may not read them)")
    assert not any(f.check == "disk" for f in findings)


async def test_the_dashboard_reads_disks_in_the_background_and_shows_them_next(emulator):
    """``watch`` (the dashboard): the snapshot does not wait for every kubelet's summary;
    the readings arrive in the background and show from a later snapshot on."""
    import asyncio

    set_disk_fill(emulator.cluster, "node-1", 0.91)
    settings = KubernetesSettings(kubeconfig=str(emulator.kubeconfig), request_timeout=5)
    c = KubeCollector(settings, watch=True)
    try:
        snap = await c.collect()
        assert snap.error is None and snap.nodes
        for _ in range(100):
            if any(n.disk_pct is not None for n in snap.nodes):
                break
            await asyncio.sleep(0.1)
            snap = await c.collect()
    finally:
        await c.close()
    assert {n.name: round(n.disk_pct or 0) for n in snap.nodes}["node-1"] == 91
    health = evaluate_component("pods", snap, Thresholds())
    disk = {f.check: f for f in health.findings if f.check.startswith("disk")}
    assert disk["disk"].status is Status.WARNING and "node-1 91%" in disk["disk"].reason


def test_a_summary_is_read_up_to_its_node_and_whole_when_node_is_not_first():
    from console.collectors.kube_parse import disk_pct, summary_node

    node = {"nodeName": "node-1", "fs": {"usedBytes": 91, "availableBytes": 9}}
    # the pods after the node are not decoded: a cut or odd tail does not matter
    cut = json.dumps({"node": node}, indent=1)[:-2] + ', "pods": [{"podRef": '
    assert summary_node(cut) == {"node": node}
    assert disk_pct(summary_node(cut)) == 91.0
    reordered = json.dumps({"pods": [{"podRef": {"name": "a"}}], "node": node})
    assert summary_node(reordered)["pods"][0]["podRef"]["name"] == "a"
    assert disk_pct(summary_node(reordered)) == 91.0
    with pytest.raises(ValueError):
        summary_node('{"pods": [')  # neither: the decoder's error, as before
