"""Faults injected at run time, seen from the real kubectl and over the admin endpoint:
error statuses, latency beyond kubectl's request timeout, hangs, dropped connections."""

from __future__ import annotations

import aiohttp
import api_objects as w
import pytest
from kube_support import kubectl

from sandbox.kube.auth import ADMIN_TOKEN, READONLY_TOKEN

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"
PODS = f"/api/v1/namespaces/{NS}/pods"


@pytest.fixture
async def world(emulator):
    w.small_world(emulator.store)
    await kubectl(emulator, "get", "nodes")  # fill kubectl's discovery cache first
    return emulator


async def test_error_status_on_one_path_only(world):
    world.faults.add(PODS, status=500, message="etcd is on fire")
    res = await kubectl(world, "get", "pods", "-n", NS, check=False)
    assert res.returncode == 1
    assert "Error from server (InternalError)" in res.stderr and "etcd is on fire" in res.stderr
    assert (await kubectl(world, "get", "nodes", "-o", "name")).stdout.count("node/") == 4
    world.faults.clear()
    assert (await kubectl(world, "get", "pods", "-n", NS, "-o", "name")).stdout.count("pod/") == 6


async def test_a_fault_limited_in_times_retires_itself(world):
    fault = world.faults.add(PODS, status=503, times=1)
    first = await kubectl(world, "get", "pods", "-n", NS, check=False)
    assert first.returncode == 1 and "ServiceUnavailable" in first.stderr
    second = await kubectl(world, "get", "pods", "-n", NS)
    assert second.returncode == 0 and fault.hits == 1 and not world.faults.list()


async def test_latency_beyond_the_request_timeout_times_kubectl_out(world):
    world.faults.add(PODS, latency=3.0)
    res = await kubectl(world, "get", "pods", "-n", NS, "--request-timeout=1s", check=False)
    assert res.returncode == 1
    assert "Timeout" in res.stderr or "deadline exceeded" in res.stderr, res.stderr
    world.faults.clear()
    world.faults.add(PODS, latency=0.2)
    ok = await kubectl(world, "get", "pods", "-n", NS, "-o", "name")
    assert ok.stdout.count("pod/") == 6


async def test_hang_until_kubectl_gives_up_then_the_server_still_serves(world):
    fault = world.faults.add(PODS, hang=True)
    res = await kubectl(world, "get", "pods", "-n", NS, "--request-timeout=1s", check=False)
    assert res.returncode == 1
    assert "Timeout" in res.stderr or "deadline exceeded" in res.stderr, res.stderr
    assert fault.hits >= 1
    assert (await kubectl(world, "get", "nodes", "-o", "name")).returncode == 0


async def test_dropped_connections(world):
    world.faults.add(f"/api/v1/namespaces/{NS}/configmaps", drop=True, method="POST")
    res = await kubectl(world, "create", "configmap", "x", "-n", NS, check=False)
    assert res.returncode == 1
    assert "EOF" in res.stderr or "connection reset" in res.stderr, res.stderr
    assert world.store.peek("configmaps", NS, "x") is None
    # client-go retries a GET whose connection dropped: two drops, then an answer
    fault = world.faults.add(PODS, drop=True, method="GET", times=2)
    res = await kubectl(world, "get", "pods", "-n", NS, "-o", "name")
    assert res.stdout.count("pod/") == 6 and fault.hits == 2


async def test_faults_over_the_admin_endpoint(world):
    url = world.url + "/_emulator/faults"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    viewer = {"Authorization": f"Bearer {READONLY_TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"path": PODS, "status": 500}, headers=viewer, ssl=False) as r:
            assert r.status == 403
        async with http.post(url, json={"path": PODS, "status": 500}, headers=admin, ssl=False) as r:
            assert r.status == 201
            fault_id = (await r.json())["id"]
        async with http.get(world.url + PODS, headers=admin, ssl=False) as r:
            assert r.status == 500 and (await r.json())["reason"] == "InternalError"
        async with http.get(url, headers=admin, ssl=False) as r:
            assert [f["id"] for f in (await r.json())["faults"]] == [fault_id]
        async with http.delete(f"{url}/{fault_id}", headers=admin, ssl=False) as r:
            assert r.status == 200
        async with http.get(world.url + PODS, headers=admin, ssl=False) as r:
            assert r.status == 200 and len((await r.json())["items"]) == 6
