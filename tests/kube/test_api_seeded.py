"""The runbook's kubectl reads and writes against the seeded world (controllers running),
and the same reads through kubernetes-asyncio giving the same answers."""

from __future__ import annotations

import json

import pytest
from kube_support import kubectl
from kubernetes_asyncio import client

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120), pytest.mark.emulator(seeded=True)]

NS = "mcp-production"


def names(listing: str) -> list[str]:
    return [item["metadata"]["name"] for item in json.loads(listing)["items"]]


def rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


async def test_kubectl_and_kubernetes_asyncio_list_the_same_objects(emulator, kube_api):
    core, apps = client.CoreV1Api(kube_api), client.AppsV1Api(kube_api)
    scaling = client.AutoscalingV2Api(kube_api)
    readers = {
        "pods": core.list_namespaced_pod, "deploy": apps.list_namespaced_deployment,
        "rs": apps.list_namespaced_replica_set, "hpa": scaling.list_namespaced_horizontal_pod_autoscaler,
        "events": core.list_namespaced_event,
    }
    for kind, read in readers.items():
        via_kubectl = names((await kubectl(emulator, "get", kind, "-n", NS, "-o", "json")).stdout)
        via_asyncio = [o.metadata.name for o in (await read(NS)).items]
        assert via_kubectl == via_asyncio and via_kubectl, kind
    nodes = names((await kubectl(emulator, "get", "nodes", "-o", "json")).stdout)
    assert nodes == [n.metadata.name for n in (await core.list_node()).items] == [
        "node-1", "node-2", "node-3", "node-4"]


async def test_selectors_agree_with_the_store(emulator, kube_api):
    core = client.CoreV1Api(kube_api)
    out = await kubectl(emulator, "get", "pods", "-n", NS, "-l", "app=mcp-server",
                        "--field-selector", "spec.nodeName=node-1", "-o", "json")
    expected = sorted(p["metadata"]["name"] for p in emulator.store.iter("pods", NS)
                      if p["metadata"]["labels"].get("app") == "mcp-server"
                      and p["spec"].get("nodeName") == "node-1")
    assert names(out.stdout) == expected
    typed = await core.list_namespaced_pod(NS, label_selector="app=mcp-server",
                                           field_selector="spec.nodeName=node-1")
    assert [p.metadata.name for p in typed.items] == expected
    table = rows((await kubectl(emulator, "get", "pods", "-n", NS, "-l", "app=mcp-server")).stdout)
    assert table[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"] and len(table) == 7
    assert {r[2] for r in table[1:]} == {"Running"}


async def test_wide_tables_and_sorting(emulator):
    deploy = rows((await kubectl(emulator, "get", "deploy", "-n", NS, "-o", "wide")).stdout)
    assert deploy[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert ["mcp-server-production", "6/6"] == deploy[1][:2] and deploy[1][-1] == "app=mcp-server"
    backups = await kubectl(emulator, "get", "backups", "-n", "velero",
                            "--sort-by=.metadata.creationTimestamp", "-o", "name")
    listed = backups.stdout.split()
    daily = [n for n in listed if "daily-backup-" in n]
    assert daily == sorted(daily) and len(daily) >= 7
    events = await kubectl(emulator, "get", "events", "-n", NS, "--sort-by=.lastTimestamp")
    assert rows(events.stdout)[0][:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    jobs = rows((await kubectl(emulator, "get", "jobs", "-n", NS)).stdout)
    assert jobs[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]


async def test_the_runbooks_hpa_patches(emulator):
    await kubectl(emulator, "patch", "hpa", "mcp-server-hpa", "-n", NS, "-p",
                  '{"spec":{"metrics":[{"type":"Resource","resource":{"name":"cpu","target":'
                  '{"type":"Utilization","averageUtilization":50}}}]}}')
    await kubectl(emulator, "patch", "hpa", "mcp-server-hpa", "-n", NS, "-p", '{"spec":{"maxReplicas":20}}')
    await kubectl(emulator, "patch", "hpa", "mcp-server-hpa", "-n", NS, "--type", "json", "-p",
                  '[{"op":"replace","path":"/spec/minReplicas","value":4}]')
    spec = emulator.store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")["spec"]
    assert spec["metrics"] == [{"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (4, 20)
    table = (await kubectl(emulator, "get", "hpa", "mcp-server-hpa", "-n", NS)).stdout
    assert "/50%" in table and "Deployment/mcp-server-production" in table


async def test_runbook_access_review_commands(emulator):
    accounts = rows((await kubectl(emulator, "get", "serviceaccounts", "-A")).stdout)
    assert ["mcp-production", "mcp-server-production"] in [r[:2] for r in accounts]
    sa = "system:serviceaccount:mcp-production:mcp-server-production"
    listing = (await kubectl(emulator, "auth", "can-i", "--list", f"--as={sa}", "-n", NS)).stdout
    assert "secrets" in listing and "[postgres-credentials]" in listing
    secrets = await kubectl(emulator, "get", "secrets", "-A", "--sort-by=.metadata.creationTimestamp")
    assert "postgres-credentials" in secrets.stdout
