"""Discovery documents over HTTP, as client-go reads them: /version, the legacy lists with
verbs, kinds and subresources, the aggregated form on request, and Status errors for
unknown paths and unsupported verbs."""

from __future__ import annotations

import aiohttp
import pytest

from sandbox.kube.auth import ADMIN_TOKEN

pytestmark = [pytest.mark.timeout(30), pytest.mark.emulator(seeded=False, controllers=False)]

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
              "application/json")


async def fetch(emu, path: str, method: str = "GET", accept: str = "application/json", **kw):
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Accept": accept}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, emu.url + path, headers=headers, ssl=False, **kw) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), await resp.json(content_type=None)


def entries(doc: dict) -> dict[str, dict]:
    return {r["name"]: r for r in doc["resources"]}


async def test_version_and_legacy_core_discovery(emulator):
    status, _, version = await fetch(emulator, "/version")
    assert status == 200 and (version["major"], version["minor"], version["gitVersion"]) == ("1", "31", "v1.31.0")
    _, _, api = await fetch(emulator, "/api")
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]
    _, _, core = await fetch(emulator, "/api/v1")
    res = entries(core)
    assert res["pods"]["verbs"] == ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    assert res["pods"]["shortNames"] == ["po"] and res["pods"]["namespaced"] is True
    assert (res["pods/log"]["kind"], res["pods/log"]["verbs"]) == ("Pod", ["get"])
    assert res["pods/exec"]["kind"] == "PodExecOptions"
    eviction = res["pods/eviction"]
    assert (eviction["group"], eviction["version"], eviction["kind"]) == ("policy", "v1", "Eviction")
    assert res["nodes"]["namespaced"] is False and "nodes/status" in res


async def test_group_discovery_with_scale_and_status(emulator):
    _, _, groups = await fetch(emulator, "/apis")
    by_name = {g["name"]: g for g in groups["groups"]}
    for group in ("apps", "autoscaling", "policy", "networking.k8s.io", "authorization.k8s.io",
                  "metrics.k8s.io", "velero.io", "cert-manager.io", "batch"):
        assert group in by_name, group
    assert by_name["autoscaling"]["preferredVersion"]["version"] == "v2"
    assert [v["version"] for v in by_name["autoscaling"]["versions"]] == ["v2", "v1"]
    _, _, apps = await fetch(emulator, "/apis/apps/v1")
    res = entries(apps)
    scale = res["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert res["deployments/status"]["kind"] == "Deployment"
    _, _, metrics = await fetch(emulator, "/apis/metrics.k8s.io/v1beta1")
    assert entries(metrics)["pods"]["verbs"] == ["get", "list"]
    _, _, group = await fetch(emulator, "/apis/velero.io")
    assert group["kind"] == "APIGroup" and group["preferredVersion"]["groupVersion"] == "velero.io/v1"


async def test_aggregated_discovery_when_asked_for(emulator):
    status, ctype, doc = await fetch(emulator, "/apis", accept=AGGREGATED)
    assert status == 200
    assert ctype == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert doc["kind"] == "APIGroupDiscoveryList" and doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    apps = next(i for i in doc["items"] if i["metadata"]["name"] == "apps")
    deployments = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["responseKind"]["kind"] == "Deployment"
    scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    _, ctype, core = await fetch(emulator, "/api", accept=AGGREGATED.replace("v=v2;", "v=v2beta1;", 1)
                                 .split(",", 1)[1])
    assert "v=v2beta1" in ctype and [i["metadata"]["name"] for i in core["items"]] == [""]


async def test_unknown_paths_and_verbs_are_status_errors(emulator):
    status, _, body = await fetch(emulator, "/apis/apps/v1/namespaces/x/widgets")
    assert status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound"
    status, _, body = await fetch(emulator, "/apis/metrics.k8s.io/v1beta1/namespaces/x/pods",
                                  method="POST", json={"metadata": {"name": "p"}})
    assert status == 405 and body["reason"] == "MethodNotAllowed"
    status, _, body = await fetch(emulator, "/api/v1/pods/some-pod")  # namespaced without namespace
    assert status == 404
