"""The same operations through kubernetes-asyncio: typed APIs decode what the emulator
serves (CoreV1, AppsV1, AutoscalingV2/V1, PolicyV1 eviction, AuthorizationV1,
CustomObjects), patches by content type, Status errors as ApiException, WsApiClient exec."""

from __future__ import annotations

import json

import api_objects as w
import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.stream import WsApiClient

pytestmark = [pytest.mark.timeout(60), pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"
POD0 = "mcp-server-production-abc12-00000"


@pytest.fixture
async def world(emulator):
    w.small_world(emulator.store)
    return emulator


def status_of(err: ApiException) -> dict:
    return json.loads(err.body)


async def test_core_v1_lists_with_selectors_and_reads(world, kube_api):
    v1 = client.CoreV1Api(kube_api)
    pods = await v1.list_namespaced_pod(NS, label_selector="app=mcp-server",
                                        field_selector="spec.nodeName=node-1")
    assert [p.metadata.name for p in pods.items] == [POD0, "mcp-server-production-abc12-00004"]
    assert pods.items[0].status.container_statuses[0].ready is True
    assert int(pods.metadata.resource_version) == world.store.resource_version
    page = await v1.list_pod_for_all_namespaces(limit=4)
    rest = await v1.list_pod_for_all_namespaces(limit=4, _continue=page.metadata._continue)
    assert len(page.items) == 4 and len(rest.items) == 2 and not rest.metadata._continue
    assert page.metadata.remaining_item_count == 2
    with pytest.raises(ApiException) as err:
        await v1.read_namespaced_pod("nope", NS)
    assert err.value.status == 404 and status_of(err.value)["reason"] == "NotFound"


async def test_pages_in_and_across_namespaces_match_the_whole_list(world, kube_api):
    """Pages of a namespace, of every namespace and of a selector join up to the unpaged
    list; a pod created behind the last page read is not served, one ahead of it is; as
    the API server, ``remainingItemCount`` only without selectors."""
    v1 = client.CoreV1Api(kube_api)
    w.namespace(world.store, "aaa-first")
    w.namespace(world.store, "zzz-last")
    for ns in ("aaa-first", "zzz-last"):
        for i in range(3):
            w.pod(world.store, f"other-{i}", "node-1", ns=ns, labels={"app": "other"})

    async def pages(call, *args, limit, **kw):
        names, remaining, token = [], [], None
        while True:
            page = await call(*args, limit=limit, _continue=token, **kw)
            names += [(p.metadata.namespace, p.metadata.name) for p in page.items]
            remaining.append(page.metadata.remaining_item_count)
            token = page.metadata._continue
            if not token:
                return names, remaining
            assert len(page.items) == limit

    whole = [(p.metadata.namespace, p.metadata.name)
             for p in (await v1.list_pod_for_all_namespaces()).items]
    assert whole == sorted(whole) and len(whole) == 12
    names, remaining = await pages(v1.list_pod_for_all_namespaces, limit=5)
    assert names == whole and remaining == [7, 2, None]
    names, _ = await pages(v1.list_namespaced_pod, NS, limit=4)
    assert names == [n for n in whole if n[0] == NS]
    names, remaining = await pages(v1.list_pod_for_all_namespaces, limit=2,
                                   label_selector="app=other")
    assert names == [n for n in whole if n[1].startswith("other-")]
    assert remaining == [None, None, None]

    page = await v1.list_pod_for_all_namespaces(limit=4)
    w.pod(world.store, "aaa-behind", "node-1", ns="aaa-first")
    w.pod(world.store, "zzz-ahead", "node-1", ns="zzz-last")
    world.store.delete("pods", "zzz-last", "other-0")
    rest = await v1.list_pod_for_all_namespaces(_continue=page.metadata._continue)
    served = [(p.metadata.namespace, p.metadata.name) for p in page.items + rest.items]
    assert ("aaa-first", "aaa-behind") not in served and ("zzz-last", "zzz-ahead") in served
    assert ("zzz-last", "other-0") not in served and len(served) == 12


async def test_core_v1_writes(world, kube_api):
    v1 = client.CoreV1Api(kube_api)
    await v1.patch_node("node-1", {"spec": {"unschedulable": True}})
    assert world.store.get("nodes", "", "node-1")["spec"]["unschedulable"] is True
    cm = await v1.create_namespaced_config_map(NS, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="settings"), data={"a": "1"}))
    cm.data["a"] = "2"
    cm.metadata.resource_version = "1"  # stale
    with pytest.raises(ApiException) as err:
        await v1.replace_namespaced_config_map("settings", NS, cm)
    assert err.value.status == 409 and status_of(err.value)["reason"] == "Conflict"
    secret = await v1.create_namespaced_secret(NS, client.V1Secret(
        metadata=client.V1ObjectMeta(name="postgres-credentials"), string_data={"host": "db"}))
    assert secret.data == {"host": "ZGI="} and secret.string_data is None
    deleted = await v1.delete_namespaced_pod(POD0, NS)
    assert deleted.metadata.name == POD0 and world.store.peek("pods", NS, POD0) is None


async def test_apps_v1_scale_and_deployments(world, kube_api):
    apps = client.AppsV1Api(kube_api)
    scale = await apps.patch_namespaced_deployment_scale("mcp-server-production", NS,
                                                         {"spec": {"replicas": 10}})
    assert scale.spec.replicas == 10 and scale.status.selector == "app=mcp-server"
    dep = await apps.read_namespaced_deployment("mcp-server-production", NS)
    assert dep.spec.replicas == 10 and dep.metadata.generation == 2
    with pytest.raises(ApiException) as err:
        await apps.patch_namespaced_deployment("mcp-server-production", NS, {"spec": {"replicas": -3}})
    assert err.value.status == 422 and status_of(err.value)["details"]["causes"][0]["field"] == "spec.replicas"


async def test_autoscaling_patches_and_the_v1_view(world, kube_api):
    v2 = client.AutoscalingV2Api(kube_api)
    await v2.patch_namespaced_horizontal_pod_autoscaler("mcp-server-hpa", NS, {"spec": {"maxReplicas": 20}})
    await v2.patch_namespaced_horizontal_pod_autoscaler(
        "mcp-server-hpa", NS, [{"op": "replace", "path": "/spec/minReplicas", "value": 4}])
    hpa = await v2.patch_namespaced_horizontal_pod_autoscaler(
        "mcp-server-hpa", NS, {"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}}},
        _content_type="application/merge-patch+json")
    assert (hpa.spec.min_replicas, hpa.spec.max_replicas) == (4, 20)
    assert hpa.spec.behavior.scale_down.stabilization_window_seconds == 60
    v1 = client.AutoscalingV1Api(kube_api)
    old = await v1.read_namespaced_horizontal_pod_autoscaler("mcp-server-hpa", NS)
    assert old.spec.target_cpu_utilization_percentage == 70
    assert old.status.current_cpu_utilization_percentage == 45
    await v1.patch_namespaced_horizontal_pod_autoscaler(
        "mcp-server-hpa", NS, {"spec": {"targetCPUUtilizationPercentage": 55}})
    stored = world.store.get("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")
    assert stored["apiVersion"] == "autoscaling/v2"
    assert stored["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 55
    assert stored["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 60


async def test_eviction_honours_the_disruption_budget(world, kube_api):
    w.pdb(world.store, min_available=6)
    v1 = client.CoreV1Api(kube_api)
    body = client.V1Eviction(metadata=client.V1ObjectMeta(name=POD0, namespace=NS))
    with pytest.raises(ApiException) as err:
        await v1.create_namespaced_pod_eviction(POD0, NS, body)
    status = status_of(err.value)
    assert err.value.status == 429 and status["reason"] == "TooManyRequests"
    assert status["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    assert status["details"]["causes"][0]["reason"] == "DisruptionBudget"
    world.store.mutate("poddisruptionbudgets.policy", NS, "mcp-server-pdb",
                       lambda p: p["spec"].update(minAvailable="50%"))
    await v1.create_namespaced_pod_eviction(POD0, NS, body)
    assert world.store.peek("pods", NS, POD0) is None


async def test_a_second_eviction_before_the_replacement_exists_is_refused(world, kube_api):
    # maxUnavailable counts from the Deployment's 6, not from the 5 pods left after the first
    # eviction: judged from the pods left, kubectl drain's concurrent evictions both got through
    for i in range(6):
        world.store.mutate("pods", NS, f"mcp-server-production-abc12-{i:05d}",
                           lambda p: p["metadata"].update(ownerReferences=[{
                               "apiVersion": "apps/v1", "kind": "Deployment", "controller": True,
                               "name": "mcp-server-production", "uid": "d-1"}]))
    world.store.create("poddisruptionbudgets.policy", {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "mcp-server-pdb", "namespace": NS},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "mcp-server"}}}})
    v1 = client.CoreV1Api(kube_api)
    second = "mcp-server-production-abc12-00004"

    def eviction(name):
        return client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=NS))

    await v1.create_namespaced_pod_eviction(POD0, NS, eviction(POD0))
    with pytest.raises(ApiException) as err:
        await v1.create_namespaced_pod_eviction(second, NS, eviction(second))
    assert err.value.status == 429
    assert status_of(err.value)["details"]["causes"][0]["message"] == (
        "The disruption budget mcp-server-pdb needs 5 healthy pods and has 5 currently")
    assert world.store.peek("pods", NS, second) is not None


async def test_rules_review_and_access_review(world, kube_api):
    authz = client.AuthorizationV1Api(kube_api)
    review = await authz.create_self_subject_rules_review(
        client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace=NS)))
    assert any(r.resources == ["*"] and r.verbs == ["*"] for r in review.status.resource_rules)
    access = await authz.create_self_subject_access_review(client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=client.V1ResourceAttributes(
            namespace=NS, verb="delete", resource="pods"))))
    assert access.status.allowed is True


async def test_custom_objects_velero_and_cert_manager(world, kube_api):
    w.namespace(world.store, "velero")
    store = world.store
    for day, age in (("20261127", 2 * 86400), ("20261128", 86400), ("20261126", 3 * 86400)):
        store.create("backups.velero.io", {
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": f"daily-backup-{day}", "namespace": "velero",
                         "creationTimestamp": w.stamp(store.clock.now() - age)},
            "spec": {"includedNamespaces": [NS]}, "status": {"phase": "Completed"}})
    custom = client.CustomObjectsApi(kube_api)
    backups = await custom.list_namespaced_custom_object("velero.io", "v1", "velero", "backups")
    assert backups["kind"] == "BackupList" and len(backups["items"]) == 3
    restore = await custom.create_namespaced_custom_object("velero.io", "v1", "velero", "restores", {
        "apiVersion": "velero.io/v1", "kind": "Restore", "metadata": {"name": "r1"},
        "spec": {"backupName": "daily-backup-20261128"}})
    assert restore["metadata"]["namespace"] == "velero" and restore["metadata"]["uid"]
    with pytest.raises(ApiException) as err:
        await custom.patch_namespaced_custom_object("velero.io", "v1", "velero", "backups",
                                                    "daily-backup-20261128", {"spec": {"ttl": "1h"}},
                                                    _content_type="application/strategic-merge-patch+json")
    assert err.value.status == 415
    patched = await custom.patch_namespaced_custom_object(
        "velero.io", "v1", "velero", "backups", "daily-backup-20261128", {"spec": {"ttl": "1h"}},
        _content_type="application/merge-patch+json")
    assert patched["spec"] == {"includedNamespaces": [NS], "ttl": "1h"}


async def test_websocket_exec_through_the_api_server(world, kube_api):
    ws = WsApiClient(kube_api.configuration)
    try:
        out = await client.CoreV1Api(ws).connect_get_namespaced_pod_exec(
            POD0, NS, command=["curl", "-f", "http://localhost:8080/health"],
            stderr=True, stdin=False, stdout=True, tty=False)
    finally:
        await ws.close()
    assert "healthy" in out.lower()
