"""The pod log endpoint over a real socket, read with kubernetes-asyncio and aiohttp.

The log handler is mounted on a small aiohttp app with pods put straight into a
``Cluster().store``; the kubectl end-to-end checks live in ``test_logs_kubectl.py``.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from sandbox.kube.cluster import Cluster
from sandbox.kube.log_book import append_log_line, set_error_rate
from sandbox.kube.logs import handle_log

pytestmark = pytest.mark.timeout(60)
DAY = 86400
IPV4 = re.compile(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b")


def stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def make_pod(cluster, name, labels, *, age, containers=("main",), restarts=0, reason="OOMKilled",
             namespace="mcp-production", waiting=None):
    now = cluster.clock.now()
    started = now - (age if not restarts else 3600)
    statuses = []
    for c in containers:
        cs = {"name": c, "ready": True, "restartCount": restarts,
              "state": {"running": {"startedAt": stamp(started)}}}
        if waiting:
            cs["state"] = {"waiting": {"reason": waiting}}
        if restarts:
            cs["lastState"] = {"terminated": {"exitCode": 137, "reason": reason,
                                              "startedAt": stamp(now - age),
                                              "finishedAt": stamp(started - 10)}}
        statuses.append(cs)
    return cluster.store.create("pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels,
                     "creationTimestamp": stamp(now - age)},
        "spec": {"containers": [{"name": c, "image": "img"} for c in containers]},
        "status": {"phase": "Pending" if waiting else "Running", "startTime": stamp(now - age),
                   "containerStatuses": statuses}})


@pytest.fixture
async def log_server():
    cluster = Cluster()

    async def route(request):
        return await handle_log(request, cluster, request.match_info["ns"], request.match_info["name"])

    app = web.Application()
    app.router.add_get("/api/v1/namespaces/{ns}/pods/{name}/log", route)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    async with client.ApiClient(configuration=client.Configuration(host=base)) as api:
        yield cluster, client.CoreV1Api(api_client=api), base
    await runner.cleanup()


async def test_since_24h_on_a_three_day_old_pod_covers_about_a_day(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "mcp-server-a", {"app": "mcp-server"}, age=3 * DAY)
    everything = (await v1.read_namespaced_pod_log("mcp-server-a", "mcp-production")).splitlines()
    day = (await v1.read_namespaced_pod_log("mcp-server-a", "mcp-production",
                                            since_seconds=DAY, timestamps=True)).splitlines()
    assert 1000 < len(day) < len(everything) < 20000
    first = time.mktime(time.strptime(day[0][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert cluster.clock.now() - DAY - 60 <= first <= cluster.clock.now() - DAY + 3600
    assert "Starting MCP server" in everything[0] and "Started MCP server" in "\n".join(everything[:6])
    assert "Starting MCP server" not in "\n".join(day)


async def test_runbook_greps_find_their_lines(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "mcp-server-b", {"app": "mcp-server"}, age=2 * DAY)
    text = await v1.read_namespaced_pod_log("mcp-server-b", "mcp-production", since_seconds=DAY)
    lines = text.splitlines()
    for pattern in (r"(?i)error", r"(?i)authentication failed", r"(?i)unauthorized",
                    r"(?i)forbidden", r"(?i)slow", r"(?i)timeout", r"Exception", r"WARN"):
        assert any(re.search(pattern, line) for line in lines), pattern
    talkers = Counter(m.group(0) for line in lines for m in IPV4.finditer(line))
    (top, top_count), (_, second_count) = talkers.most_common(2)[:2]
    assert top_count > 1.5 * second_count and len(talkers) > 15  # skewed, with a long tail


async def test_same_window_reads_the_same_and_tail_matches_the_end(log_server):
    cluster, v1, base = log_server
    make_pod(cluster, "mcp-server-c", {"app": "mcp-server"}, age=DAY)
    # kubernetes-asyncio has no sinceTime parameter: ask over plain HTTP
    url = (f"{base}/api/v1/namespaces/mcp-production/pods/mcp-server-c/log"
           f"?sinceTime={stamp(cluster.clock.now() - 7200)}")
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            one = await r.text()
        async with s.get(url) as r:
            two = await r.text()
    assert 3000 < len(one.splitlines()) < 5000  # ~1 line/s for the last hour, sparser before
    # lines written in between may extend the second read, never change the first part
    assert two.startswith(one.rsplit("\n", 2)[0])
    tail = await v1.read_namespaced_pod_log("mcp-server-c", "mcp-production", tail_lines=25,
                                            timestamps=True)
    assert len(tail.splitlines()) == 25
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z ", line) for line in tail.splitlines())
    stamps = [line.split(" ", 1)[0] for line in tail.splitlines()]
    assert stamps == sorted(stamps)


async def test_limit_bytes_cuts_the_output(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "mcp-server-d", {"app": "mcp-server"}, age=DAY)
    out = await v1.read_namespaced_pod_log("mcp-server-d", "mcp-production", limit_bytes=500)
    assert len(out.encode()) == 500


async def test_previous_shows_the_killed_run_and_needs_a_restart(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "mcp-server-e", {"app": "mcp-server"}, age=DAY, restarts=1)
    previous = await v1.read_namespaced_pod_log("mcp-server-e", "mcp-production", previous=True)
    current = await v1.read_namespaced_pod_log("mcp-server-e", "mcp-production")
    assert "memory usage 1.98GiB is 99% of limit" in previous.splitlines()[-1]
    assert previous != current and "Starting MCP server" in current.splitlines()[0]
    make_pod(cluster, "mcp-server-f", {"app": "mcp-server"}, age=DAY)
    with pytest.raises(ApiException) as err:
        await v1.read_namespaced_pod_log("mcp-server-f", "mcp-production", previous=True)
    assert err.value.status == 400
    assert 'previous terminated container \\"main\\" in pod \\"mcp-server-f\\" not found' in err.value.body


@pytest.mark.parametrize(
    ("pod_args", "container", "message"),
    [
        ({"containers": ("server", "proxy")}, None,
         "a container name must be specified for pod p, choose one of: [server proxy]"),
        ({}, "nope", "container nope is not valid for pod p"),
        ({"waiting": "ContainerCreating"}, None,
         'container \\"main\\" in pod \\"p\\" is waiting to start: ContainerCreating'),
    ],
)
async def test_bad_requests_carry_the_kubelet_message(log_server, pod_args, container, message):
    cluster, v1, _ = log_server
    make_pod(cluster, "p", {"app": "mcp-server"}, age=DAY, **pod_args)
    with pytest.raises(ApiException) as err:
        await v1.read_namespaced_pod_log("p", "mcp-production", container=container)
    assert err.value.status == 400 and message in err.value.body


async def test_missing_pod_is_404(log_server):
    _, v1, _ = log_server
    with pytest.raises(ApiException) as err:
        await v1.read_namespaced_pod_log("ghost", "mcp-production")
    assert err.value.status == 404


async def test_error_rate_knob_raises_the_share_of_problem_lines(log_server):
    cluster, v1, _ = log_server
    cluster.clock.speed = 600  # ten emulated minutes per real second
    make_pod(cluster, "mcp-server-g", {"app": "mcp-server"}, age=DAY)
    set_error_rate(cluster, 0.5)
    await asyncio.sleep(1.0)
    recent = await v1.read_namespaced_pod_log("mcp-server-g", "mcp-production", since_seconds=500)
    lines = [line for line in recent.splitlines() if re.match(r"\d{4}-", line)]
    problems = [line for line in lines if " WARN " in line or " ERROR " in line]
    assert len(lines) > 200 and 0.3 < len(problems) / len(lines) < 0.7


async def test_falco_postgres_and_redis_write_their_own_styles(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "falco-x7k2p", {"app": "falco"}, age=DAY, namespace="security")
    make_pod(cluster, "postgres-production-primary-0", {"app": "postgres"}, age=DAY)
    make_pod(cluster, "redis-production-master-0", {"app": "redis"}, age=DAY)
    falco = await v1.read_namespaced_pod_log("falco-x7k2p", "security", since_seconds=DAY)
    alerts = re.findall(r"^\S+\+0000: (?:Warning|Error|Critical) ", falco, re.M)
    events = re.findall(r"^\S+\+0000: \w+ ", falco, re.M)
    assert re.search(r"^\S+\+0000: Notice ", falco, re.M)
    assert alerts and len(alerts) < 0.1 * len(events)  # alerts stand out from the routine
    pg = await v1.read_namespaced_pod_log("postgres-production-primary-0", "mcp-production")
    assert "database system is ready to accept connections" in pg and " UTC [" in pg
    redis = await v1.read_namespaced_pod_log("redis-production-master-0", "mcp-production")
    assert "Ready to accept connections tcp" in redis


async def test_appended_lines_appear_in_order(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "mcp-server-h", {"app": "mcp-server"}, age=DAY)
    append_log_line(cluster, "mcp-production", "mcp-server-h", "main", "MARKER one\nMARKER two")
    tail = await v1.read_namespaced_pod_log("mcp-server-h", "mcp-production", tail_lines=2)
    assert tail == "MARKER one\nMARKER two\n"


async def test_follow_streams_new_lines_until_the_pod_is_deleted(log_server):
    cluster, v1, _ = log_server
    cluster.clock.speed = 30
    make_pod(cluster, "mcp-server-i", {"app": "mcp-server"}, age=DAY)
    resp = await v1.read_namespaced_pod_log("mcp-server-i", "mcp-production", follow=True,
                                            tail_lines=0, timestamps=True, _preload_content=False)
    assert resp.headers["Content-Type"].startswith("text/plain")
    started = cluster.clock.now()
    received = []
    while len(received) < 10:
        line = await asyncio.wait_for(resp.content.readline(), 5)
        received.append(line.decode())
    stamps = [line.split(" ", 1)[0] for line in received]
    assert stamps == sorted(stamps) and stamps[0] >= stamp(started - 1)[:19]
    cluster.store.delete("pods", "mcp-production", "mcp-server-i")
    rest = await asyncio.wait_for(resp.content.read(), 5)  # the stream ends by itself
    assert resp.content.at_eof() and rest.count(b"\n") < 60
    resp.release()


async def test_follow_ends_quietly_when_the_client_hangs_up(log_server):
    cluster, _, base = log_server
    make_pod(cluster, "mcp-server-j", {"app": "mcp-server"}, age=DAY)
    url = f"{base}/api/v1/namespaces/mcp-production/pods/mcp-server-j/log?follow=true&tailLines=3"
    async with aiohttp.ClientSession() as s:
        async with s.get(url) as r:
            assert len([await r.content.readline() for _ in range(3)]) == 3
    await asyncio.sleep(0.5)  # the server notices on its next poll; nothing must blow up


@pytest.mark.parametrize(("reason", "expected"), [("Completed", "Backup completed successfully"),
                                                  ("Error", "ERROR: backup failed")])
async def test_backup_job_pod_reports_success_or_error(log_server, reason, expected):
    cluster, v1, _ = log_server
    now = cluster.clock.now()
    cluster.store.create("pods", {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "postgres-backup-20260101-x1", "namespace": "mcp-production",
                     "labels": {"app": "postgres-backup"}},
        "spec": {"containers": [{"name": "pg-dump", "image": "postgres:15"}]},
        "status": {"phase": "Succeeded" if reason == "Completed" else "Failed", "containerStatuses": [
            {"name": "pg-dump", "restartCount": 0, "state": {"terminated": {
                "reason": reason, "exitCode": 0 if reason == "Completed" else 1,
                "startedAt": stamp(now - 7200), "finishedAt": stamp(now - 7000)}}}]}})
    text = await v1.read_namespaced_pod_log("postgres-backup-20260101-x1", "mcp-production")
    matching = [line for line in text.splitlines() if re.search(r"(?i)success|error", line)]
    assert text.splitlines()[0].endswith(".dump") and "Starting backup" in text
    assert matching and expected in matching[-1]


async def test_a_year_old_pod_keeps_only_a_week_of_rotated_log(log_server):
    cluster, v1, _ = log_server
    make_pod(cluster, "kube-proxy-abcde", {"k8s-app": "kube-proxy"}, age=400 * DAY,
             namespace="kube-system")
    text = await v1.read_namespaced_pod_log("kube-proxy-abcde", "kube-system", timestamps=True)
    first = time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert cluster.clock.now() - 7 * DAY - 60 <= first <= cluster.clock.now() - 6 * DAY
