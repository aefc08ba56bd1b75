"""Node and pod operations through the real kubectl, with the controllers running: drain
(with its PodDisruptionBudget retry) and uncordon, ``kubectl top``, and the symptoms chaos
produces — CrashLoopBackOff with rising restarts, OOMKilled, NotReady nodes.
"""

from __future__ import annotations

import json
import re

import pytest
from kube_support import eventually, kubectl

from sandbox.kube.controllers import chaos

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120), pytest.mark.emulator(speed=40)]

NS = "mcp-production"


async def get_json(emu, *args) -> dict:
    return json.loads((await kubectl(emu, "get", *args, "-o", "json")).stdout)


def owner_kind(pod: dict) -> str | None:
    return next((r["kind"] for r in pod["metadata"].get("ownerReferences") or []
                 if r.get("controller")), None)


@pytest.mark.slow
# At the module's 40x a replacement is Ready 90 ms after the first eviction, and a loop stall
# between kubectl's two concurrent evictions lets both through; at 2x it takes 1.75 s, as
# pods that start in seconds make the budget bite on a real cluster.
@pytest.mark.emulator(speed=2)
async def test_drain_evicts_retries_on_the_budget_and_pods_reappear_elsewhere(emulator):
    on_node = await get_json(emulator, "pods", "-A", "--field-selector", "spec.nodeName=node-1")
    servers = [p for p in on_node["items"] if p["metadata"]["labels"].get("app") == "mcp-server"]
    assert len(servers) == 2  # two replicas share node-1, so the budget of 1 must bite

    res = await kubectl(emulator, "drain", "node-1", "--ignore-daemonsets",
                        "--delete-emptydir-data", "--timeout=90s")
    assert "node/node-1 drained" in res.stdout
    assert "Cannot evict pod as it would violate the pod's disruption budget" in res.stderr
    assert "will retry after 5s" in res.stderr
    assert "ignoring DaemonSet-managed Pods" in res.stderr

    node = await get_json(emulator, "node", "node-1")
    assert node["spec"]["unschedulable"] is True
    assert any(t["key"] == "node.kubernetes.io/unschedulable" for t in node["spec"]["taints"])
    left = await get_json(emulator, "pods", "-A", "--field-selector", "spec.nodeName=node-1")
    assert {owner_kind(p) for p in left["items"]} == {"DaemonSet"}

    async def six_ready_elsewhere():
        pods = (await get_json(emulator, "pods", "-n", NS, "-l", "app=mcp-server"))["items"]
        ready = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                        for c in p["status"].get("conditions", []))]
        return len(ready) == 6 and all(p["spec"]["nodeName"] != "node-1" for p in pods)

    await eventually(six_ready_elsewhere)

    await kubectl(emulator, "uncordon", "node-1")
    node = await get_json(emulator, "node", "node-1")
    assert not node["spec"].get("unschedulable")
    assert not any(t["key"] == "node.kubernetes.io/unschedulable"
                   for t in node["spec"].get("taints") or [])
    nodes = (await kubectl(emulator, "get", "nodes")).stdout
    assert "SchedulingDisabled" not in nodes
    events = (await kubectl(emulator, "get", "events", "-n", "default")).stdout
    assert "NodeNotSchedulable" in events and "NodeSchedulable" in events


async def test_drain_without_flags_refuses_like_a_real_cluster(emulator):
    res = await kubectl(emulator, "drain", "node-2", "--timeout=20s", check=False)
    assert res.returncode != 0
    assert "cannot delete DaemonSet-managed Pods" in res.stderr
    assert "cannot delete Pods with local storage" in res.stderr  # mcp-server's emptyDir


async def test_top_pods_and_nodes_read_the_load_model(emulator):
    async def metrics_published():
        res = await kubectl(emulator, "top", "pods", "-n", NS, check=False)
        return res if res.returncode == 0 and res.stdout.count("mcp-server-production-") == 6 \
            else None

    res = await eventually(metrics_published)
    rows = [line.split() for line in res.stdout.splitlines()[1:] if line.strip()]
    assert all(re.fullmatch(r"\d+m", r[1]) and re.fullmatch(r"\d+Mi", r[2]) for r in rows)
    server_cpu = [int(r[1][:-1]) for r in rows if r[0].startswith("mcp-server-production-")]
    assert all(100 <= cpu <= 400 for cpu in server_cpu)  # about half of the 500m request

    nodes = (await kubectl(emulator, "top", "nodes")).stdout
    assert [line.split()[0] for line in nodes.splitlines()[1:]] == [
        "node-1", "node-2", "node-3", "node-4"]

    chaos.set_load(emulator.cluster, 3.0, namespace=NS, selector={"app": "mcp-server"})

    async def loaded():
        out = (await kubectl(emulator, "top", "pods", "-n", NS, "-l", "app=mcp-server")).stdout
        cpus = [int(line.split()[1][:-1]) for line in out.splitlines()[1:] if line.strip()]
        return len(cpus) == 6 and min(cpus) > 450

    await eventually(loaded)


async def test_crashloop_shows_backoff_and_rising_restarts(emulator):
    chaos.crashloop(emulator.cluster, NS, selector={"app": "redis"})

    async def restarts():
        pods = (await get_json(emulator, "pods", "-n", NS, "-l", "app=redis"))["items"]
        cs = pods[0]["status"]["containerStatuses"][0]
        waiting = cs["state"].get("waiting", {}).get("reason")
        return cs["restartCount"] if cs["restartCount"] >= 2 and waiting == "CrashLoopBackOff" \
            else None

    first = await eventually(restarts)
    table = (await kubectl(emulator, "get", "pods", "-n", NS, "-l", "app=redis")).stdout
    assert "CrashLoopBackOff" in table
    pod = (await get_json(emulator, "pods", "-n", NS, "-l", "app=redis"))["items"][0]
    last = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]
    assert (last["reason"], last["exitCode"]) == ("Error", 1)

    async def rising():
        value = await restarts()
        return value if value and value > first else None

    await eventually(rising)
    events = (await kubectl(emulator, "get", "events", "-n", NS,
                            "--field-selector", "reason=BackOff")).stdout
    assert "Back-off restarting failed container redis" in events


async def test_oom_kill_is_recorded_in_last_state(emulator):
    pods = (await get_json(emulator, "pods", "-n", NS, "-l", "app=mcp-server"))["items"]
    victim = pods[0]["metadata"]["name"]
    chaos.oom_kill(emulator.cluster, NS, victim)

    async def oom():
        pod = await get_json(emulator, "pod", victim, "-n", NS)
        cs = pod["status"]["containerStatuses"][0]
        return cs if cs["restartCount"] == 1 else None

    cs = await eventually(oom)
    assert cs["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert cs["lastState"]["terminated"]["exitCode"] == 137
    assert "running" in cs["state"]
    events = (await kubectl(emulator, "get", "events", "-A",
                            "--field-selector", "reason=OOMKilling")).stdout
    assert victim in events


async def test_not_ready_node_marks_its_pods_unready_and_gets_no_new_ones(emulator):
    emulator.cluster.extras["hpa_actuation"] = False
    chaos.set_node_ready(emulator.cluster, "node-4", "False")

    async def not_ready():
        out = (await kubectl(emulator, "get", "node", "node-4")).stdout
        return "NotReady" in out

    await eventually(not_ready)
    node = await get_json(emulator, "node", "node-4")
    assert {t["key"] for t in node["spec"]["taints"]} == {"node.kubernetes.io/not-ready"}

    async def pods_unready():
        pods = (await get_json(emulator, "pods", "-n", NS, "--field-selector",
                               "spec.nodeName=node-4"))["items"]
        return pods and all(any(c["type"] == "Ready" and c["status"] == "False"
                                for c in p["status"]["conditions"]) for p in pods)

    await eventually(pods_unready)
    # five minutes later the taint manager evicts them (their not-ready toleration is 300 s)
    emulator.cluster.clock.advance(300)
    await kubectl(emulator, "scale", "deployment/mcp-server-production", "--replicas=9",
                  "-n", NS)
    res = await kubectl(emulator, "rollout", "status", "deployment/mcp-server-production",
                        "-n", NS, "--timeout=60s")
    assert res.returncode == 0
    pods = (await get_json(emulator, "pods", "-n", NS, "-l", "app=mcp-server"))["items"]
    newest = sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"])[-3:]
    assert all(p["spec"]["nodeName"] != "node-4" for p in newest)
