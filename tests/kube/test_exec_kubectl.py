"""``kubectl exec`` and kubernetes-asyncio's ``WsApiClient`` against the running emulator.

Which kubectl speaks what (checked against the dispatcher's clients 1.27-1.33): 1.27 and
1.28 use SPDY/3.1 only; 1.29 tries WebSockets only with KUBECTL_REMOTE_COMMAND_WEBSOCKETS=
true; 1.30+ try a ``v5.channel.k8s.io`` WebSocket first (GET) and fall back to SPDY (POST)
when the upgrade fails. The emulator reports 1.31 by default, so the dispatcher runs
kubectl 1.31 — a WebSocket client; 1.33 is checked directly, 1.28 gets the SPDY refusal.

The world is built in the store (no controllers, no seed), so these tests do not wait for
pods to come up: a deployment whose selector kubectl resolves to its Running pods.
"""

from __future__ import annotations

import ast
import json
import time

import pytest
from kube_support import kubectl
from kubernetes_asyncio import client, config
from kubernetes_asyncio.stream import WsApiClient

from sandbox.kube.exec_handlers import register_exec_handler
from sandbox.kube.mcp_endpoints import set_check_failure

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"
DEPLOY = "deploy/mcp-server-production"
LINES = 100_000
# given before "--" so that the helper does not append it to the remote command
RT = "--request-timeout=30s"


def _stamp(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def build_world(store):
    now = store.clock.now()
    store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    labels = {"app": "mcp-server"}
    store.create("deployments.apps", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "mcp-server-production", "namespace": NS, "labels": labels},
        "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"containers": [{"name": "mcp-server", "image": "mcp:2.4.1"}]}}},
        "status": {"replicas": 2, "readyReplicas": 2, "availableReplicas": 2}})
    for i in range(2):
        store.create("pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"mcp-server-production-6f7d9-{i}x2kq", "namespace": NS,
                         "labels": labels, "creationTimestamp": _stamp(now - 3 * 86400)},
            "spec": {"nodeName": f"node-{i + 1}",
                     "containers": [{"name": "mcp-server", "image": "mcp:2.4.1",
                                     "env": [{"name": "LOG_LEVEL", "value": "info"}]}]},
            "status": {"phase": "Running", "startTime": _stamp(now - 3 * 86400),
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "mcp-server", "ready": True, "restartCount": 0,
                                              "state": {"running": {"startedAt": _stamp(now - 3 * 86400)}}}]}})


@pytest.fixture
async def world(emulator):
    build_world(emulator.store)
    return emulator


async def test_curl_health_database_prints_the_body_and_exits_0(world):
    r = await kubectl(world, "exec", RT, "-n", NS, DEPLOY, "--", "curl", "-f",
                      "http://localhost:8080/health/database", check=False)
    assert r.returncode == 0, r.stderr
    body = json.loads(r.stdout)
    assert body["status"] == "healthy" and body["database"]["pool"]["size"] == 20
    assert "% Total" in r.stderr  # curl's progress meter: its stdout is not a terminal


async def test_a_failing_check_propagates_curls_exit_code(world):
    set_check_failure(world.cluster, "database")
    r = await kubectl(world, "exec", RT, "-n", NS, DEPLOY, "--", "curl", "-f",
                      "http://localhost:8080/health/database", check=False)
    assert r.returncode == 22 and r.stdout == ""
    assert "curl: (22) The requested URL returned error: 503" in r.stderr
    assert "command terminated with exit code 22" in r.stderr
    r = await kubectl(world, "exec", RT, "-n", NS, DEPLOY, "--", "no-such-tool", check=False)
    assert r.returncode == 127 and "no-such-tool: command not found" in r.stderr


async def test_stdin_is_forwarded_and_eof_ends_the_command(world):
    text = "first line\nsecond line\n" + "x" * 100_000 + "\n"
    r = await kubectl(world, "exec", RT, "-i", "-n", NS, DEPLOY, "--", "cat", input=text)
    assert r.stdout == text


async def test_a_handler_streaming_100000_lines_arrives_complete_and_in_order(world):
    async def numbered(ctx):
        for i in range(LINES):
            await ctx.stdout.write(f"line {i:06d}\n")
        return 0

    register_exec_handler(world.cluster, numbered, commands={"numbered"})
    expected = "".join(f"line {i:06d}\n" for i in range(LINES))
    r = await kubectl(world, "exec", RT, "-n", NS, DEPLOY, "--", "numbered")
    assert r.stdout == expected

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(world.kubeconfig),
                                  client_configuration=configuration)
    async with WsApiClient(configuration=configuration) as ws_api:
        pod = (await kubectl(world, "get", "pods", "-n", NS, "-o", "name")).stdout.split()[0]
        out = await client.CoreV1Api(api_client=ws_api).connect_get_namespaced_pod_exec(
            pod.split("/", 1)[1], NS, command=["numbered"], stdout=True, stderr=True)
    assert out == expected


async def test_ws_api_client_gives_the_same_output_as_kubectl(world):
    pod = "mcp-server-production-6f7d9-0x2kq"
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(world.kubeconfig),
                                  client_configuration=configuration)
    async with WsApiClient(configuration=configuration) as ws_api:
        v1 = client.CoreV1Api(api_client=ws_api)
        for command in (["env"], ["cat", "/etc/resolv.conf"],
                        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://localhost:8080/health"]):
            via_kubectl = (await kubectl(world, "exec", RT, "-n", NS, pod, "--", *command)).stdout
            via_client = await v1.connect_get_namespaced_pod_exec(
                pod, NS, command=command, stdout=True, stderr=True)
            assert via_client == via_kubectl and via_kubectl
        health = await v1.connect_get_namespaced_pod_exec(
            pod, NS, command=["curl", "-sf", "http://localhost:8080/health/database"],
            stdout=True, stderr=True)
        # the client json-decodes str responses that parse as JSON and returns their repr
        assert ast.literal_eval(health)["database"]["status"] == "healthy"
        ws = await v1.connect_get_namespaced_pod_exec(
            pod, NS, command=["curl", "-sf", "http://localhost:8080/nope"], stdout=True,
            stderr=True, _preload_content=False)
        async with ws as conn:
            frames = [m.data async for m in conn]
        assert WsApiClient.parse_error_data(frames[-1][1:]) == 22


async def test_newest_kubectl_speaks_v5_too(world):
    r = await kubectl(world, "exec", RT, "-n", NS, DEPLOY, "--", "hostname", version="1.33")
    assert r.stdout.startswith("mcp-server-production-6f7d9-")


async def test_spdy_only_kubectl_is_told_why_it_cannot_exec(world):
    r = await kubectl(world, "exec", RT, "-n", NS, DEPLOY, "--", "hostname", version="1.28",
                      check=False)
    assert r.returncode != 0 and "SPDY" in r.stderr and "WebSockets" in r.stderr
