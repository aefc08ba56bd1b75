"""Reads through the real kubectl: discovery, get with tables, -o json, selectors, sorting,
pagination, errors."""

from __future__ import annotations

import json

import api_objects as w
import pytest
from kube_support import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]


@pytest.fixture
async def world(emulator):
    w.small_world(emulator.store)
    return emulator


def table(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


async def test_get_pods_prints_the_real_columns(world):
    out = (await kubectl(world, "get", "pods", "-n", "mcp-production")).stdout
    rows = table(out)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(rows) == 7
    first = rows[1]
    assert first[0] == "mcp-server-production-abc12-00000"
    assert first[1:4] == ["1/1", "Running", "0"]
    assert first[4] in ("10m", "10m1s", "10m2s")


async def test_get_each_kind_as_json(world):
    for kind, list_kind in (("pods", "List"), ("deploy", "List"), ("rs", "List"),
                            ("nodes", "List"), ("hpa", "List"), ("events", "List")):
        out = (await kubectl(world, "get", kind, "-n", "mcp-production", "-o", "json")).stdout
        doc = json.loads(out)
        assert doc["kind"] == list_kind
    pods = json.loads((await kubectl(world, "get", "pods", "-o", "json")).stdout)
    assert {p["kind"] for p in pods["items"]} == {"Pod"}
    assert all(p["metadata"]["resourceVersion"] for p in pods["items"])
    hpa = json.loads((await kubectl(world, "get", "hpa", "mcp-server-hpa", "-o", "json")).stdout)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


async def test_label_and_field_selectors(world):
    w.pod(world.store, "postgres-0", "node-1", labels={"app": "postgresql"})
    out = await kubectl(world, "get", "pods", "-l", "app=postgresql", "-o", "name")
    assert out.stdout.split() == ["pod/postgres-0"]
    out = await kubectl(world, "get", "pods", "-l", "app notin (postgresql),app", "-o", "name")
    assert len(out.stdout.split()) == 6
    out = await kubectl(world, "get", "pods", "--field-selector", "spec.nodeName=node-1", "-o", "name")
    names = out.stdout.split()
    assert "pod/postgres-0" in names and len(names) == 3  # pods 0 and 4 and postgres-0
    nodes = {json.loads(p)["spec"]["nodeName"] for p in [
        (await kubectl(world, "get", n, "-o", "json")).stdout for n in names]}
    assert nodes == {"node-1"}
    out = await kubectl(world, "get", "pods", "--field-selector",
                        "status.phase=Running,spec.nodeName!=node-1", "-o", "name")
    assert len(out.stdout.split()) == 4


async def test_unsupported_field_selector_is_refused_like_a_real_server(world):
    res = await kubectl(world, "get", "pods", "--field-selector", "spec.image=x", check=False)
    assert res.returncode != 0
    assert "field label not supported: spec.image" in res.stderr


async def test_sort_by(world):
    w.pod(world.store, "zz-oldest", "node-3", age=99999)
    out = await kubectl(world, "get", "pods", "--sort-by=.metadata.creationTimestamp", "-o", "name")
    assert out.stdout.split()[0] == "pod/zz-oldest"
    out = await kubectl(world, "get", "pods", "--sort-by=.metadata.creationTimestamp")
    assert table(out.stdout)[1][0] == "zz-oldest" and table(out.stdout)[1][4] == "27h"
    out = await kubectl(world, "get", "pods", "--sort-by=.status.containerStatuses[0].restartCount")
    restarts = [row[3] for row in table(out.stdout)[1:]]
    assert restarts == sorted(restarts, key=int)


async def test_chunked_listing_follows_continue_tokens(world):
    for i in range(7):
        w.pod(world.store, f"extra-{i}", "node-2")
    res = await kubectl(world, "get", "pods", "--chunk-size=2", "-o", "name", "-v=6")
    assert len(res.stdout.split()) == 13
    assert res.stderr.count("limit=2") >= 7  # 13 items in pages of 2


async def test_not_found_is_a_status(world):
    res = await kubectl(world, "get", "pod", "nope", check=False)
    assert res.returncode == 1
    assert 'pods "nope" not found' in res.stderr


async def test_api_resources_shows_groups_subresources_are_served(world):
    out = (await kubectl(world, "api-resources", "-o", "name")).stdout.split()
    for name in ("pods", "deployments.apps", "horizontalpodautoscalers.autoscaling",
                 "poddisruptionbudgets.policy", "networkpolicies.networking.k8s.io",
                 "backups.velero.io", "restores.velero.io", "certificates.cert-manager.io",
                 "pods.metrics.k8s.io", "selfsubjectrulesreviews.authorization.k8s.io"):
        assert name in out


async def test_get_nodes_and_hpa_tables(world):
    world.store.mutate("nodes", "", "node-2", lambda n: n["spec"].update(unschedulable=True))
    rows = table((await kubectl(world, "get", "nodes")).stdout)
    assert rows[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert rows[2][:3] == ["node-2", "Ready,SchedulingDisabled", "<none>"]
    out = (await kubectl(world, "get", "hpa")).stdout
    assert "Deployment/mcp-server-production" in out and "cpu: 45%/70%" in out
