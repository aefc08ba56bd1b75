"""Writes through the real kubectl: the three patch forms, apply, scale, set image, restart,
rollout history/undo over ReplicaSets, cordon, conflicts, validation, cascade deletion.

Controllers are off: every effect asserted is the API server's own, read back from the store.
"""

from __future__ import annotations

import json

import api_objects as w
import pytest
from kube_support import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"
EMERGENCY_BLOCK = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: emergency-block
  namespace: mcp-production
spec:
  podSelector: {}
  policyTypes:
  - Ingress
  ingress:
  - from:
    - ipBlock:
        cidr: 0.0.0.0/0
        except:
        - %s/32
"""


@pytest.fixture
async def world(emulator):
    w.small_world(emulator.store)
    return emulator


def hpa_spec(emu) -> dict:
    return emu.store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")["spec"]


async def test_patch_hpa_in_strategic_merge_and_json_forms(world):
    runbook_patch = ('{"spec":{"metrics":[{"type":"Resource","resource":{"name":"cpu",'
                     '"target":{"type":"Utilization","averageUtilization":50}}}]}}')
    res = await kubectl(world, "patch", "hpa", "mcp-server-hpa", "-n", NS, "-p", runbook_patch)
    assert "patched" in res.stdout
    spec = hpa_spec(world)
    assert spec["metrics"][0]["resource"]["target"]["averageUtilization"] == 50
    assert spec["maxReplicas"] == 12  # strategic merge kept the rest

    await kubectl(world, "patch", "hpa", "mcp-server-hpa", "-n", NS, "--type", "merge",
                  "-p", '{"spec":{"maxReplicas":20}}')
    assert hpa_spec(world)["maxReplicas"] == 20

    await kubectl(world, "patch", "hpa", "mcp-server-hpa", "-n", NS, "--type", "json",
                  "-p", '[{"op":"replace","path":"/spec/minReplicas","value":3}]')
    spec = hpa_spec(world)
    assert (spec["minReplicas"], spec["maxReplicas"]) == (3, 20)

    res = await kubectl(world, "patch", "hpa", "mcp-server-hpa", "-n", NS, "--type", "json",
                        "-p", '[{"op":"remove","path":"/spec/nothere"}]', check=False)
    assert res.returncode != 0 and "doc is missing path: '/spec/nothere'" in res.stderr


async def test_apply_the_runbook_emergency_block_twice(world):
    first = await kubectl(world, "apply", "-f", "-", input=EMERGENCY_BLOCK % "203.0.113.7")
    assert "networkpolicy.networking.k8s.io/emergency-block created" in first.stdout
    again = await kubectl(world, "apply", "-f", "-", input=EMERGENCY_BLOCK % "203.0.113.7")
    assert "unchanged" in again.stdout
    changed = await kubectl(world, "apply", "-f", "-", input=EMERGENCY_BLOCK % "198.51.100.9")
    assert "configured" in changed.stdout
    stored = world.store.get("networkpolicies.networking.k8s.io", NS, "emergency-block")
    assert stored["spec"]["ingress"][0]["from"][0]["ipBlock"]["except"] == ["198.51.100.9/32"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in stored["metadata"]["annotations"]
    assert stored["metadata"]["generation"] == 2


async def test_the_runbook_placeholder_address_is_rejected_as_invalid(world):
    res = await kubectl(world, "apply", "-f", "-", check=False,
                        input=EMERGENCY_BLOCK % "suspicious.ip.address")
    assert res.returncode != 0
    assert "Invalid value" in res.stderr and "except[0]" in res.stderr


async def test_scale_writes_replicas_through_the_scale_subresource(world):
    res = await kubectl(world, "scale", "deployment/mcp-server-production", "--replicas=10", "-n", NS)
    assert "scaled" in res.stdout
    dep = world.store.get("deployments.apps", NS, "mcp-server-production")
    assert dep["spec"]["replicas"] == 10 and dep["metadata"]["generation"] == 2
    scale = json.loads((await kubectl(world, "get", "--raw",
                                      f"/apis/apps/v1/namespaces/{NS}/deployments/mcp-server-production/scale")).stdout)
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 10
    assert scale["status"]["selector"] == "app=mcp-server"


async def test_negative_replicas_are_invalid(world):
    res = await kubectl(world, "patch", "deploy", "mcp-server-production", "-n", NS,
                        "-p", '{"spec":{"replicas":-1}}', check=False)
    assert res.returncode != 0
    assert "spec.replicas: Invalid value: -1" in res.stderr


async def test_set_image_and_restart_patch_the_template(world):
    await kubectl(world, "set", "image", "deployment/mcp-server-production",
                  "mcp-server=pratiko/mcp-server:v1.2.0", "-n", NS)
    await kubectl(world, "rollout", "restart", "deployment/mcp-server-production", "-n", NS)
    template = world.store.get("deployments.apps", NS, "mcp-server-production")["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "pratiko/mcp-server:v1.2.0"
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]


def _replica_set(store, dep: dict, revision: int, image: str, cause: str) -> dict:
    template = json.loads(json.dumps(dep["spec"]["template"]))
    template["spec"]["containers"][0]["image"] = image
    template["metadata"]["labels"]["pod-template-hash"] = f"hash{revision}"
    meta = dep["metadata"]
    return store.create("replicasets.apps", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{meta['name']}-hash{revision}", "namespace": NS,
                     "labels": template["metadata"]["labels"],
                     "annotations": {"deployment.kubernetes.io/revision": str(revision),
                                     "kubernetes.io/change-cause": cause},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                                          "name": meta["name"], "uid": meta["uid"],
                                          "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"replicas": 0, "selector": {"matchLabels": template["metadata"]["labels"]},
                 "template": template}})


async def test_rollout_history_and_undo_read_the_owned_replica_sets(world):
    store = world.store
    dep = store.get("deployments.apps", NS, "mcp-server-production")
    _replica_set(store, dep, 1, "pratiko/mcp-server:v1.1.0", "initial")
    _replica_set(store, dep, 2, "pratiko/mcp-server:v1.2.0", "upgrade to v1.2.0")
    store.mutate("deployments.apps", NS, dep["metadata"]["name"], lambda d: (
        d["spec"]["template"]["spec"]["containers"][0].update(image="pratiko/mcp-server:v1.2.0"),
        d["metadata"].setdefault("annotations", {}).update({"deployment.kubernetes.io/revision": "2"})))
    out = (await kubectl(world, "rollout", "history", "deployment/mcp-server-production", "-n", NS)).stdout
    lines = [line.split(None, 1) for line in out.strip().splitlines()[2:]]
    assert lines == [["1", "initial"], ["2", "upgrade to v1.2.0"]]
    res = await kubectl(world, "rollout", "undo", "deployment/mcp-server-production", "-n", NS)
    assert "rolled back" in res.stdout
    image = store.get("deployments.apps", NS, "mcp-server-production")["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "pratiko/mcp-server:v1.1.0"


async def test_cordon_and_uncordon(world):
    await kubectl(world, "cordon", "node-1")
    assert world.store.get("nodes", "", "node-1")["spec"]["unschedulable"] is True
    await kubectl(world, "uncordon", "node-1")
    assert not world.store.get("nodes", "", "node-1")["spec"].get("unschedulable")


async def test_replace_with_a_stale_resource_version_conflicts(world):
    stale = (await kubectl(world, "get", "cm", "-o", "json")).stdout  # warm discovery
    w.namespace(world.store, "other")
    await kubectl(world, "create", "configmap", "settings", "-n", NS, "--from-literal=a=1")
    stale = (await kubectl(world, "get", "configmap", "settings", "-n", NS, "-o", "json")).stdout
    world.store.mutate("configmaps", NS, "settings", lambda c: c["data"].update(a="2"))
    res = await kubectl(world, "replace", "-f", "-", input=stale, check=False)
    assert res.returncode != 0
    assert "the object has been modified" in res.stderr


async def test_create_in_a_missing_namespace_and_duplicates(world):
    res = await kubectl(world, "create", "configmap", "x", "-n", "nowhere", check=False)
    assert 'namespaces "nowhere" not found' in res.stderr
    await kubectl(world, "create", "configmap", "x", "-n", NS)
    res = await kubectl(world, "create", "configmap", "x", "-n", NS, check=False)
    assert 'configmaps "x" already exists' in res.stderr


async def test_server_dry_run_stores_nothing(world):
    res = await kubectl(world, "create", "configmap", "dry", "-n", NS, "--dry-run=server", "-o", "json")
    assert json.loads(res.stdout)["metadata"]["name"] == "dry"
    assert world.store.peek("configmaps", NS, "dry") is None


async def test_deleting_a_deployment_cascades_to_replica_sets_and_pods(world):
    store = world.store
    dep = store.get("deployments.apps", NS, "mcp-server-production")
    rs = _replica_set(store, dep, 1, "pratiko/mcp-server:v1.1.0", "initial")
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
             "uid": rs["metadata"]["uid"], "controller": True}
    w.pod(store, "owned-pod", "node-1", owner=owner)
    await kubectl(world, "delete", "deployment", "mcp-server-production", "-n", NS)
    assert store.peek("replicasets.apps", NS, rs["metadata"]["name"]) is None
    assert store.peek("pods", NS, "owned-pod") is None
    assert store.peek("pods", NS, "mcp-server-production-abc12-00000") is not None  # not owned


async def test_strategic_merge_on_a_custom_resource_is_415(world):
    w.namespace(world.store, "velero")
    world.store.create("backups.velero.io", {"apiVersion": "velero.io/v1", "kind": "Backup",
                                             "metadata": {"name": "b1", "namespace": "velero"},
                                             "spec": {"ttl": "720h0m0s"}})
    res = await kubectl(world, "patch", "backup", "b1", "-n", "velero", "--type", "strategic",
                        "-p", '{"spec":{"ttl":"1h"}}', check=False)
    assert res.returncode != 0, res.stdout
    assert "the body of the request was in an unknown format" in res.stderr
    await kubectl(world, "patch", "backup", "b1", "-n", "velero", "--type", "merge",
                  "-p", '{"spec":{"ttl":"1h"}}')
    assert world.store.get("backups.velero.io", "velero", "b1")["spec"]["ttl"] == "1h"
