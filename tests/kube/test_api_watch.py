"""Watch streams: through kubectl (``get -w``), kubernetes-asyncio's ``Watch`` and raw HTTP —
resuming from a resourceVersion, 410 Expired, bookmarks, timeoutSeconds, selector
transitions, initial events, and the end of every stream when the server stops."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import api_objects as w
import pytest
from kube_support import kubectl
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.kube.auth import ADMIN_TOKEN
from sandbox.kube.store import HISTORY

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False, bookmark_interval=0.3)]

NS = "mcp-production"
POD0 = "mcp-server-production-abc12-00000"


@pytest.fixture
async def world(emulator):
    w.small_world(emulator.store)
    return emulator


async def wait_for_watchers(emu, count: int = 1) -> None:
    ctx = emu.cluster.extras["api_server"]
    for _ in range(200):
        if ctx.watchers >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no watch was opened")


def label(store, name: str, **labels) -> None:
    store.mutate("pods", NS, name, lambda p: p["metadata"]["labels"].update(labels))


async def raw_watch(emu, path: str, until=None, limit: int = 1000) -> list[dict]:
    """Read a watch stream over plain HTTP until it ends, ``until(events)`` or ``limit``."""
    events: list[dict] = []
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.url + path, headers=headers, ssl=False) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"] == "application/json"
            async for line in resp.content:
                events.append(json.loads(line))
                if (until and until(events)) or len(events) >= limit:
                    break
    return events


@pytest.mark.kubectl
async def test_kubectl_get_watch_prints_changes(world):
    store = world.store
    task = asyncio.create_task(kubectl(world, "get", "pods", "-n", NS, "-w", "--output-watch-events",
                                       "--request-timeout=2s"))
    await wait_for_watchers(world)
    label(store, POD0, tier="web")
    w.pod(store, "newcomer", "node-3")
    store.delete("pods", NS, "mcp-server-production-abc12-00001")
    out = (await task).stdout
    rows = [line.split()[:2] for line in out.strip().splitlines()[1:]]
    assert rows[:6] == [["ADDED", f"mcp-server-production-abc12-0000{i}"] for i in range(6)]
    assert rows[6:] == [["MODIFIED", POD0], ["ADDED", "newcomer"],
                        ["DELETED", "mcp-server-production-abc12-00001"]]


async def test_resume_from_a_resource_version_replays_history(world):
    store = world.store
    start = store.resource_version
    label(store, POD0, tier="web")
    w.pod(store, "newcomer", "node-3")
    store.create("configmaps", {"metadata": {"name": "other-kind", "namespace": NS}})
    events = await raw_watch(world, f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={start}"
                                    "&timeoutSeconds=1")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", POD0), ("ADDED", "newcomer")]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) == store.resource_version - 1


async def test_too_old_resource_version_is_410_expired(world):
    store = world.store
    start = store.resource_version
    store.create("configmaps", {"metadata": {"name": "churn", "namespace": NS}, "data": {"n": "0"}})
    for i in range(HISTORY + 10):
        store.mutate("configmaps", NS, "churn", lambda c, i=i: c["data"].update(n=str(i)))
    events = await raw_watch(world, f"/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={start}")
    assert len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")

    v1 = client.CoreV1Api(await _api(world))
    with pytest.raises(ApiException) as err:
        async for _ in watch.Watch().stream(v1.list_namespaced_pod, NS, resource_version=str(start),
                                            timeout_seconds=2):
            pass
    assert err.value.status == 410
    await v1.api_client.close()


async def test_bookmarks_and_timeout_seconds(world):
    events = await raw_watch(world, f"/api/v1/namespaces/{NS}/pods?watch=1&allowWatchBookmarks=true"
                                    f"&resourceVersion={world.store.resource_version}&timeoutSeconds=1")
    assert events, "a one-second watch with 0.3 s bookmarks sends bookmarks"
    assert {e["type"] for e in events} == {"BOOKMARK"}
    assert events[-1]["object"]["metadata"] == {"resourceVersion": str(world.store.resource_version)}


async def test_selector_transitions_become_added_and_deleted(world):
    store = world.store

    async def churn():
        await wait_for_watchers(world)
        label(store, POD0, tier="web")            # starts matching -> ADDED
        label(store, POD0, owner="ops")           # still matching -> MODIFIED
        label(store, POD0, tier="db")             # stops matching -> DELETED
        label(store, "mcp-server-production-abc12-00003", owner="x")  # never matches

    task = asyncio.create_task(churn())
    events = await raw_watch(world, f"/api/v1/namespaces/{NS}/pods?watch=1&labelSelector=tier%3Dweb",
                             until=lambda ev: len(ev) == 3)
    await task
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    assert events[-1]["object"]["metadata"]["labels"]["tier"] == "db"


async def test_send_initial_events_ends_with_the_marker_bookmark(world):
    events = await raw_watch(world, f"/api/v1/namespaces/{NS}/pods?watch=1&sendInitialEvents=true"
                                    "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan"
                                    "&fieldSelector=spec.nodeName%3Dnode-1",
                             until=lambda ev: ev[-1]["type"] == "BOOKMARK")
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[-1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_kubernetes_asyncio_watch_streams_typed_events(world):
    store = world.store
    api = await _api(world)
    v1 = client.CoreV1Api(api)
    listing = await v1.list_namespaced_pod(NS, label_selector="app=mcp-server")
    rv = listing.metadata.resource_version

    async def churn():
        await wait_for_watchers(world)
        label(store, POD0, tier="web")
        store.delete("pods", NS, POD0)

    task = asyncio.create_task(churn())
    seen = []
    async with watch.Watch() as watcher:
        async for event in watcher.stream(v1.list_namespaced_pod, NS, resource_version=rv,
                                          timeout_seconds=5):
            seen.append((event["type"], event["object"].metadata.name))
            if len(seen) == 2:
                break
    await task
    assert seen == [("MODIFIED", POD0), ("DELETED", POD0)]
    assert isinstance(event["object"], client.V1Pod)
    await api.close()


async def test_open_watches_end_when_the_server_stops(world):
    reader = asyncio.create_task(raw_watch(world, f"/api/v1/namespaces/{NS}/pods?watch=1"))
    await wait_for_watchers(world)
    await world.server.stop()
    events = await asyncio.wait_for(reader, 5)
    assert len(events) == 6  # the initial ADDED events, then a clean end of stream


async def _api(emu) -> client.ApiClient:
    from kubernetes_asyncio import config

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(emu.kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)
