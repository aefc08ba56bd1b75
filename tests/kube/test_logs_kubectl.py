"""``kubectl logs`` and kubernetes-asyncio's log reads against the running emulator.

The world is built in the store (no controllers): a deployment whose two pods started
three days ago, one of which was OOM-killed an hour ago and restarted.
"""

from __future__ import annotations

import asyncio
import re
import signal
import time

import pytest
from kube_support import kubectl, kubectl_binary, kubectl_env
from kubernetes_asyncio import client

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"
DEPLOY = "deployment/mcp-server-production"
RESTARTED = "mcp-server-production-6f7d9-1x2kq"
STEADY = "mcp-server-production-6f7d9-0x2kq"
RT = "--request-timeout=30s"
DAY = 86400


def _stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _parse(stamp):
    return time.mktime(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def build_world(store):
    now = store.clock.now()
    labels = {"app": "mcp-server"}
    store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    store.create("deployments.apps", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "mcp-server-production", "namespace": NS, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "mcp-server", "image": "mcp:2.4.1"}]}}},
        "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}})
    for name, restarts in ((STEADY, 0), (RESTARTED, 1)):
        started = now - (3600 if restarts else 3 * DAY)
        status = {"name": "mcp-server", "ready": True, "restartCount": restarts,
                  "state": {"running": {"startedAt": _stamp(started)}}}
        if restarts:
            status["lastState"] = {"terminated": {
                "exitCode": 137, "reason": "OOMKilled", "startedAt": _stamp(now - 3 * DAY),
                "finishedAt": _stamp(started - 10)}}
        store.create("pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": labels,
                         "creationTimestamp": _stamp(now - 3 * DAY)},
            "spec": {"nodeName": "node-1",
                     "containers": [{"name": "mcp-server", "image": "mcp:2.4.1"}]},
            "status": {"phase": "Running", "startTime": _stamp(now - 3 * DAY),
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [status]}})


@pytest.fixture
async def world(emulator):
    build_world(emulator.store)
    return emulator


async def test_logs_since_24h_covers_the_last_day_and_the_runbook_greps_match(world):
    r = await kubectl(world, "logs", RT, "-n", NS, STEADY, "--since=24h", "--timestamps")
    lines = r.stdout.splitlines()
    assert len(lines) > 1000
    now = world.cluster.clock.now()
    assert now - DAY - 5 <= _parse(lines[0]) <= now - DAY + 3600
    assert _parse(lines[-1]) <= now + 5
    text = r.stdout.lower()
    for needle in ("error", "authentication failed", "unauthorized", "forbidden", "slow", "timeout"):
        assert needle in text, needle
    whole = await kubectl(world, "logs", RT, "-n", NS, STEADY)
    assert len(whole.stdout.splitlines()) > len(lines)
    assert "Starting MCP server" in whole.stdout.splitlines()[0]


async def test_logs_of_a_deployment_pick_one_of_its_pods(world):
    r = await kubectl(world, "logs", RT, "-n", NS, DEPLOY, "--tail=7")
    assert len(r.stdout.splitlines()) == 7
    app_lines = [line for line in r.stdout.splitlines()
                 if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARN|ERROR) ", line)]
    assert len(app_lines) >= 3  # the rest can only be traceback lines


async def test_logs_by_label_read_every_matching_pod(world):
    r = await kubectl(world, "logs", RT, "-n", NS, "-l", "app=mcp-server", "--since=1h",
                      "--prefix")
    prefixes = {line.split(" ", 1)[0] for line in r.stdout.splitlines()}
    assert prefixes == {f"[pod/{STEADY}/mcp-server]", f"[pod/{RESTARTED}/mcp-server]"}


async def test_previous_shows_the_oom_killed_run(world):
    r = await kubectl(world, "logs", RT, "-n", NS, RESTARTED, "--previous")
    lines = r.stdout.splitlines()
    assert "Starting MCP server" in lines[0]
    assert "memory usage 1.98GiB is 99% of limit 2GiB" in lines[-1]
    current = (await kubectl(world, "logs", RT, "-n", NS, RESTARTED, "--tail=1")).stdout
    assert current and current not in r.stdout
    r = await kubectl(world, "logs", RT, "-n", NS, STEADY, "--previous", check=False)
    assert r.returncode == 1
    assert f'previous terminated container "mcp-server" in pod "{STEADY}" not found' in r.stderr


async def test_follow_streams_until_the_test_stops_it(world):
    world.cluster.clock.speed = 20  # ~20 new lines per second
    proc = await asyncio.create_subprocess_exec(
        kubectl_binary(), "logs", "-f", RT, "-n", NS, STEADY, "--tail=2", "--timestamps",
        env=kubectl_env(world), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        lines = [await asyncio.wait_for(proc.stdout.readline(), 10) for _ in range(40)]
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 10)
    stamps = [line.split(b" ", 1)[0] for line in lines]
    assert stamps == sorted(stamps)
    started = world.cluster.clock.now()
    assert _parse(stamps[-1].decode()) > _parse(stamps[1].decode())  # new lines came in
    assert _parse(stamps[-1].decode()) <= started + 5
    assert proc.returncode == -signal.SIGTERM


async def test_kubernetes_asyncio_reads_and_follows(world, kube_api):
    v1 = client.CoreV1Api(api_client=kube_api)
    text = await v1.read_namespaced_pod_log(STEADY, NS, since_seconds=3600, timestamps=True)
    via_kubectl = (await kubectl(world, "logs", RT, "-n", NS, STEADY, "--since=1h",
                                 "--timestamps")).stdout
    first = text.splitlines()[:100]
    assert first == via_kubectl.splitlines()[:100]  # the same window reads the same
    world.cluster.clock.speed = 20
    resp = await v1.read_namespaced_pod_log(STEADY, NS, follow=True, tail_lines=0,
                                            _preload_content=False)
    got = [await asyncio.wait_for(resp.content.readline(), 10) for _ in range(10)]
    resp.release()
    assert all(line.endswith(b"\n") and line[:4].isdigit() for line in got)

