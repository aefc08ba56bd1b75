"""Cluster-level controllers driven through the store: scheduling (cordon, capacity,
FailedScheduling), sick nodes and taint-based eviction, the metrics load model, the HPA
(scaling, stabilisation, actuation switched off), PDB status and crash events.
"""

from __future__ import annotations

import pytest
from waiting import until

from sandbox.kube.controllers import chaos, podspec, quantity
from sandbox.kube.controllers.metrics import NODE_OVERHEAD

pytestmark = pytest.mark.timeout(60)

NS = "mcp-production"


def bare_pod(name: str, cpu: str = "100m") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                     "resources": {"requests": {"cpu": cpu}}}]},
            "status": {"phase": "Pending"}}


def scheduled(store, name: str) -> str | None:
    return (store.peek("pods", NS, name) or {}).get("spec", {}).get("nodeName")


async def test_unschedulable_pods_wait_with_the_schedulers_reason(world):
    store = world.store
    for n in ("node-1", "node-2", "node-3", "node-4"):
        store.mutate("nodes", "", n, lambda o: o["spec"].__setitem__("unschedulable", True))
    store.create("pods", bare_pod("stuck"))

    def reason():
        cond = podspec.condition(store.get("pods", NS, "stuck"), "PodScheduled") or {}
        return cond if cond.get("reason") == "Unschedulable" else None

    cond = await until(reason)
    assert cond["status"] == "False"
    assert cond["message"].startswith("0/4 nodes are available: 4 node(s) were unschedulable.")
    events = [e for e in store.iter("events", NS) if e["involvedObject"]["name"] == "stuck"]
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "FailedScheduling")]
    assert store.get("pods", NS, "stuck")["status"]["phase"] == "Pending"

    store.mutate("nodes", "", "node-3", lambda o: o["spec"].pop("unschedulable"))
    assert await until(lambda: scheduled(store, "stuck")) == "node-3"
    await until(lambda: podspec.is_ready(store.get("pods", NS, "stuck")))


async def test_a_pod_too_big_for_any_node_reports_insufficient_cpu(world):
    store = world.store
    store.create("pods", bare_pod("huge", cpu="16"))

    def message():
        cond = podspec.condition(store.get("pods", NS, "huge"), "PodScheduled") or {}
        return cond.get("message")

    assert "4 Insufficient cpu" in await until(message)
    assert scheduled(store, "huge") is None


async def test_not_ready_node_gets_tainted_and_its_pods_evicted_after_300s(world):
    store = world.store
    world.extras["hpa_actuation"] = False
    on_node = [p["metadata"]["name"] for p in store.iter("pods", NS)
               if p["spec"].get("nodeName") == "node-1"
               and p["metadata"]["labels"].get("app") == "mcp-server"]
    assert on_node
    chaos.set_node_ready(world, "node-1", "Unknown")

    def node_unknown():
        node = store.get("nodes", "", "node-1")
        return {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"] == "Unknown"

    await until(node_unknown)
    taints = {(t["key"], t["effect"]) for t in store.get("nodes", "", "node-1")["spec"]["taints"]}
    assert taints == {("node.kubernetes.io/unreachable", "NoSchedule"),
                      ("node.kubernetes.io/unreachable", "NoExecute")}
    # the pod sync that marks a pod not ready weighs eviction first, in the same call: so
    # once they are all not ready, each was judged and kept (300 s toleration)
    await until(lambda: all(not podspec.is_ready(store.get("pods", NS, n)) for n in on_node))
    assert all(store.peek("pods", NS, n) for n in on_node)
    world.clock.advance(301)
    await until(lambda: not any(store.peek("pods", NS, n) for n in on_node))

    def replaced_elsewhere():
        pods = [p for p in store.iter("pods", NS) if p["metadata"]["labels"].get("app") ==
                "mcp-server" and podspec.is_ready(p)]
        return len(pods) == 6 and all(p["spec"]["nodeName"] != "node-1" for p in pods)

    await until(replaced_elsewhere)
    falco = [p for p in store.iter("pods", "security") if p["spec"]["nodeName"] == "node-1"]
    assert len(falco) == 1  # DaemonSet pods tolerate an unreachable node forever
    chaos.set_node_ready(world, "node-1", "True")
    await until(lambda: not store.get("nodes", "", "node-1")["spec"].get("taints"))


async def test_metrics_follow_the_load_model_and_the_pods(world):
    store = world.store
    await until(lambda: len(store.iter("pods.metrics.k8s.io", NS)) == 9)
    pm = store.get("pods.metrics.k8s.io", NS, next(
        p["metadata"]["name"] for p in store.iter("pods", NS)
        if p["metadata"]["labels"].get("app") == "mcp-server"))
    assert pm["kind"] == "PodMetrics" and pm["window"] and pm["timestamp"]
    usage = pm["containers"][0]["usage"]
    assert usage["cpu"].endswith("m") and usage["memory"].endswith("Mi")
    assert 150 <= quantity.cpu_millis(usage["cpu"]) <= 350

    def node_sum_matches():
        node = store.peek("nodes.metrics.k8s.io", "", "node-3")
        pods = [m for m in store.iter("pods.metrics.k8s.io")
                if store.peek("pods", m["metadata"]["namespace"], m["metadata"]["name"])
                ["spec"]["nodeName"] == "node-3"]
        if node is None or any(m["timestamp"] != node["timestamp"] for m in pods):
            return False
        total = sum(quantity.cpu_millis(c["usage"]["cpu"]) for m in pods for c in m["containers"])
        return abs(quantity.cpu_millis(node["usage"]["cpu"]) - total - NODE_OVERHEAD[0]) <= 1 + len(pods)

    await until(node_sum_matches)
    redis = next(p for p in store.iter("pods", NS) if p["metadata"]["labels"].get("app") == "redis")
    store.delete("pods", NS, redis["metadata"]["name"])
    await until(lambda: store.peek("pods.metrics.k8s.io", NS, redis["metadata"]["name"]) is None)


async def test_hpa_scales_out_under_load_and_holds_the_scale_down(world):
    store = world.store
    chaos.set_load(world, 2.5, namespace=NS, selector={"app": "mcp-server"})

    def scaled_out():
        return store.get("deployments.apps", NS, "mcp-server-production")["spec"]["replicas"] > 6

    await until(scaled_out)
    hpa = store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")
    current = hpa["status"]["currentMetrics"][0]["resource"]["current"]
    assert current["averageUtilization"] > 70
    assert hpa["status"]["lastScaleTime"]
    reasons = {c["type"]: c["reason"] for c in hpa["status"]["conditions"]}
    assert reasons["ScalingActive"] == "ValidMetricFound"
    assert any(e["reason"] == "SuccessfulRescale" for e in store.iter("events", NS))
    # demand is shared: 2.5 x 48 % on 6 pods is ~120 %, which 11 pods carry at ~65 % < 70 %
    def settled():
        h = store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")["status"]
        util = h.get("currentMetrics", [{}])[0].get("resource", {}).get("current", {}).get(
            "averageUtilization", 999)
        return h.get("desiredReplicas") == h.get("currentReplicas") > 6 and util <= 77

    await until(settled)
    peak = store.get("deployments.apps", NS, "mcp-server-production")["spec"]["replicas"]
    assert 9 <= peak <= 14
    chaos.set_load(world, 1.0)

    def stabilised():
        h = store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")
        return {c["type"]: c["reason"] for c in h["status"]["conditions"]}.get(
            "AbleToScale") == "ScaleDownStabilized"

    await until(stabilised)
    assert store.get("deployments.apps", NS, "mcp-server-production")["spec"]["replicas"] >= peak
    world.clock.advance(330)  # past the 300 s window
    await until(lambda: store.get("deployments.apps", NS, "mcp-server-production")["spec"][
        "replicas"] == 6)


async def test_hpa_with_actuation_off_reports_but_does_not_scale(world):
    store = world.store
    world.extras["hpa_actuation"] = False
    chaos.set_load(world, 3.0, namespace=NS, selector={"app": "mcp-server"})

    def wants_more():
        h = store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")
        return h["status"].get("desiredReplicas", 0) > 6

    await until(wants_more)
    assert store.get("deployments.apps", NS, "mcp-server-production")["spec"]["replicas"] == 6


async def test_pdb_status_tracks_healthy_pods(world):
    store = world.store

    def status():
        return store.get("poddisruptionbudgets.policy", NS, "mcp-server-pdb").get("status") or {}

    await until(lambda: status().get("expectedPods") == 6)
    s = status()
    assert (s["currentHealthy"], s["desiredHealthy"], s["disruptionsAllowed"]) == (6, 5, 1)
    victim = sorted(p["metadata"]["name"] for p in store.iter("pods", NS)
                    if p["metadata"]["labels"].get("app") == "mcp-server")[0]
    chaos.crashloop(world, NS, pod=victim)
    await until(lambda: status().get("disruptionsAllowed") == 0)
    cond = next(c for c in status()["conditions"] if c["type"] == "DisruptionAllowed")
    assert (cond["status"], cond["reason"]) == ("False", "InsufficientPods")


async def test_crashloop_events_repeat_with_a_rising_count(world):
    store = world.store
    chaos.crashloop(world, NS, selector={"app": "redis"})
    pod = next(p["metadata"]["name"] for p in store.iter("pods", NS)
               if p["metadata"]["labels"].get("app") == "redis")

    def backoffs():
        return [e for e in store.iter("events", NS) if e["involvedObject"]["name"] == pod
                and e["reason"] == "BackOff"]

    await until(lambda: backoffs() and backoffs()[0]["count"] >= 2)
    (event,) = backoffs()
    assert event["type"] == "Warning" and event["lastTimestamp"] > event["firstTimestamp"]
    assert event["source"] == {"component": "kubelet", "host": store.get("pods", NS, pod)[
        "spec"]["nodeName"]}
    cs = store.get("pods", NS, pod)["status"]["containerStatuses"][0]
    assert cs["restartCount"] >= 2
    chaos.heal(world)
    await until(lambda: podspec.is_ready(store.get("pods", NS, pod)))
