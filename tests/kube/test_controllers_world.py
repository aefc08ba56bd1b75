"""The seeded world: what the operations guide names is there, healthy, and stable — the
controllers starting up must not rewrite or replace any of it. Driven through the store.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import re
from datetime import UTC, datetime

import pytest

from sandbox.kube.cluster import build_cluster
from sandbox.kube.controllers.base import parse_time

pytestmark = pytest.mark.timeout(60)

NS = "mcp-production"


@pytest.fixture
def world():
    return build_cluster(speed=50)


def test_the_runbooks_objects_are_seeded(world):
    store = world.store
    namespaces = {n["metadata"]["name"] for n in store.iter("namespaces")}
    assert {"default", "kube-system", "mcp-production", "security", "velero", "monitoring",
            "cert-manager"} <= namespaces

    d = store.get("deployments.apps", NS, "mcp-server-production")
    assert d["spec"]["replicas"] == 6 and d["status"]["readyReplicas"] == 6
    c = d["spec"]["template"]["spec"]["containers"][0]
    assert (c["name"], c["image"]) == ("mcp-server", "pratiko/mcp-server:v1.1.0")
    assert c["ports"][0]["containerPort"] == 8080
    assert c["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                              "limits": {"cpu": "2", "memory": "4Gi"}}
    assert c["readinessProbe"]["httpGet"]["path"] == "/health"
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    pods = [p for p in store.iter("pods", NS) if p["metadata"]["labels"].get("app") == "mcp-server"]
    assert len(pods) == 6 and all(p["status"]["phase"] == "Running" for p in pods)

    for name, app in (("postgres-production-primary", "postgresql"),
                      ("redis-production-master", "redis")):
        dep = store.get("deployments.apps", NS, name)
        assert dep["spec"]["template"]["metadata"]["labels"]["app"] == app
    assert store.get("deployments.apps", NS, "postgres-production-primary")[
        "spec"]["template"]["spec"]["containers"][0]["image"] == "postgres:15"
    assert store.get("deployments.apps", "monitoring", "prometheus-server")

    secret = store.get("secrets", NS, "postgres-credentials")
    decoded = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert {"username", "password", "host", "database"} <= set(decoded)
    assert decoded["database"] == "pratiko_mcp_production"

    hpa = store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (6, 20)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert store.get("poddisruptionbudgets.policy", NS, "mcp-server-pdb")["spec"]["maxUnavailable"] == 1
    assert store.get("serviceaccounts", NS, "mcp-server-production")

    nodes = sorted(n["metadata"]["name"] for n in store.iter("nodes"))
    assert nodes == ["node-1", "node-2", "node-3", "node-4"]
    node = store.get("nodes", "", "node-1")
    assert node["status"]["capacity"]["cpu"] == "8" and node["status"]["capacity"]["memory"] == "32Gi"
    assert node["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.31.")
    assert node["metadata"]["labels"]["topology.kubernetes.io/zone"]
    falco = [p for p in store.iter("pods", "security")
             if p["metadata"]["labels"].get("app") == "falco"]
    assert sorted(p["spec"]["nodeName"] for p in falco) == nodes


def test_velero_certificate_and_backup_job_are_seeded(world):
    store, clock = world.store, world.clock
    backups = {b["metadata"]["name"]: b for b in store.iter("backups.velero.io", "velero")}
    daily = sorted(n for n in backups if n.startswith("daily-backup-"))
    assert len(daily) == 7 and "latest-cross-region-backup" in backups
    for name in daily:
        b = backups[name]
        created = datetime.fromtimestamp(parse_time(b["metadata"]["creationTimestamp"]), UTC)
        assert name == f"daily-backup-{created:%Y%m%d}" and (created.hour, created.minute) == (2, 0)
        assert b["status"]["phase"] == "Completed"
        assert b["spec"]["includedNamespaces"] == ["mcp-production"]
        assert b["spec"]["ttl"] == "720h0m0s" and b["spec"]["storageLocation"] == "default"
    newest = parse_time(backups[daily[-1]]["metadata"]["creationTimestamp"])
    assert 0 <= clock.now() - newest < 26 * 3600  # the guide's "latest backup < 26 h" holds

    cert = store.get("certificates.cert-manager.io", NS, "production-tls")
    days_left = (parse_time(cert["status"]["notAfter"]) - clock.now()) / 86400
    assert 59 < days_left < 61
    assert cert["status"]["conditions"][0]["type"] == "Ready"
    assert cert["status"]["conditions"][0]["status"] == "True"

    today = clock.datetime()
    job = store.get("jobs.batch", NS, f"postgres-backup-{today:%Y%m%d}")
    assert job["status"]["succeeded"] == 1
    job_pods = [p for p in store.iter("pods", NS)
                if p["metadata"]["labels"].get("job-name") == job["metadata"]["name"]]
    assert len(job_pods) == 1 and job_pods[0]["status"]["phase"] == "Succeeded"
    events = store.iter("events", NS)
    assert any(e["type"] == "Warning" and e["reason"] == "Unhealthy" for e in events)


async def test_starting_the_controllers_rewrites_no_workload(world):
    changed = []
    world.store.subscribe(lambda e: changed.append((e.resource, e.type, e.name)))
    await world.start()
    controllers = world.extras["controllers"]
    try:
        await asyncio.sleep(1.5)  # 75 emulated seconds: heartbeats, scrapes, resyncs
    finally:
        await world.stop()
    assert controllers.errors == []
    touched = {r for r, _, _ in changed}
    assert not touched & {"deployments.apps", "replicasets.apps", "pods", "daemonsets.apps",
                          "statefulsets.apps", "jobs.batch"}, changed
    assert "pods.metrics.k8s.io" in touched  # the load model did publish


async def test_extra_pods_form_a_big_deployment_that_fits_the_nodes():
    try:
        cluster = build_cluster(speed=50, extra_pods=1500)
        store = cluster.store
        extra = [p for p in store.iter("pods", NS)
                 if p["metadata"]["labels"].get("app") == "mcp-load-extra"]
        assert len(extra) == 1500
        assert len({p["metadata"]["name"] for p in extra}) == 1500
        assert all(re.fullmatch(r"mcp-load-extra-[a-z0-9]+-[bcdfghjklmnpqrstvwxz2456789]{5}",
                                p["metadata"]["name"]) for p in extra)
        for node in store.iter("nodes"):
            on_node = sum(1 for p in store.iter("pods") if p["spec"].get("nodeName")
                          == node["metadata"]["name"])
            assert on_node <= int(node["status"]["allocatable"]["pods"])
        created = []
        store.subscribe(lambda e: created.append(e.name) if e.resource == "pods"
                        and e.type == "ADDED" else None)
        await cluster.start()
        try:
            await asyncio.sleep(1.0)
            assert created == []  # every replica already counted; nothing recreated
            d = store.get("deployments.apps", NS, "mcp-load-extra")
            assert d["status"]["availableReplicas"] == 1500
        finally:
            await cluster.stop()
    finally:
        gc.unfreeze()
