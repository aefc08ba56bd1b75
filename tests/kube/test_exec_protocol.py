"""The exec endpoint's WebSocket channel protocol, over real sockets.

The exec handler is mounted on a small aiohttp app (the API server's router does the
same after authorisation), and real clients talk to it: aiohttp's WebSocket client for
the raw frames, kubernetes-asyncio's ``WsApiClient`` for what the console will use.
"""

from __future__ import annotations

import ast
import asyncio
import json

import aiohttp
import pytest
from aiohttp import web
from kubernetes_asyncio import client
from kubernetes_asyncio.stream import WsApiClient

from sandbox.kube.cluster import Cluster
from sandbox.kube.exec import handle_exec
from sandbox.kube.exec_handlers import register_exec_handler

pytestmark = pytest.mark.timeout(60)


def make_pod(name, labels=None, containers=("main",), phase="Running", statuses=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "ns", "labels": labels or {}},
           "spec": {"containers": [{"name": c, "image": "img"} for c in containers]},
           "status": {"phase": phase}}
    if statuses is not None:
        pod["status"]["containerStatuses"] = statuses
    return pod


@pytest.fixture
async def exec_server():
    cluster = Cluster()
    cluster.store.create("pods", make_pod("mcp-server-1", {"app": "mcp-server"}))

    async def route(request):
        return await handle_exec(request, cluster, request.match_info["ns"], request.match_info["name"])

    app = web.Application()
    app.router.add_route("*", "/api/v1/namespaces/{ns}/pods/{name}/exec", route)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield cluster, base
    await runner.cleanup()


def exec_url(base, pod, command, **flags):
    query = [("command", c) for c in command]
    query += [(k, "true" if v else "false") for k, v in ({"stdout": True, "stderr": True} | flags).items()]
    return f"{base}/api/v1/namespaces/ns/pods/{pod}/exec?" + "&".join(
        f"{k}={aiohttp.helpers.quote(v, safe='')}" for k, v in query)


async def collect(ws):
    """All frames until the server closes, as {channel: bytes} plus the frame list."""
    frames = []
    async for msg in ws:
        if msg.type == aiohttp.WSMsgType.BINARY:
            frames.append((msg.data[0], msg.data[1:]))
    channels: dict[int, bytes] = {}
    for ch, payload in frames:
        channels[ch] = channels.get(ch, b"") + payload
    return channels, frames


async def test_v5_is_negotiated_and_success_status_closes_the_stream(exec_server):
    cluster, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["hostname"]),
                                protocols=["v5.channel.k8s.io"]) as ws:
            assert ws.protocol == "v5.channel.k8s.io"
            channels, frames = await collect(ws)
    assert frames[0] == (1, b"")  # the kubelet's "streams ready" empty frame
    assert channels[1] == b"mcp-server-1\n"
    assert json.loads(channels[3]) == {"metadata": {}, "status": "Success"}
    assert ws.close_code == 1000


async def test_client_preference_order_picks_v4_when_listed_first(exec_server):
    _, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["true"]),
                                protocols=["v4.channel.k8s.io", "v5.channel.k8s.io"]) as ws:
            assert ws.protocol == "v4.channel.k8s.io"
            await collect(ws)


async def test_nonzero_exit_travels_as_nonzero_exit_code_status(exec_server):
    _, base = exec_server
    command = ["curl", "-sf", "http://localhost:8080/nope"]
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", command),
                                protocols=["v5.channel.k8s.io"]) as ws:
            channels, _ = await collect(ws)
    status = json.loads(channels[3])
    assert status == {
        "metadata": {}, "status": "Failure",
        "message": "command terminated with non-zero exit code: error executing command "
                   "[curl -sf http://localhost:8080/nope], exit code 22",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": "22"}]}}
    assert WsApiClient.parse_error_data(channels[3]) == 22


async def test_v1_protocol_reports_errors_as_text_and_nothing_on_success(exec_server):
    _, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["false"]),
                                protocols=["channel.k8s.io"]) as ws:
            channels, _ = await collect(ws)
        assert channels[3].decode().startswith("command terminated with non-zero exit code")
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["true"]),
                                protocols=["channel.k8s.io"]) as ws:
            channels, _ = await collect(ws)
        assert 3 not in channels


async def test_base64_protocol_uses_text_frames(exec_server):
    _, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["echo", "hi"]),
                                protocols=["v4.base64.channel.k8s.io"]) as ws:
            texts = [m.data async for m in ws if m.type == aiohttp.WSMsgType.TEXT]
    assert "1aGkK" in texts  # "1" + base64("hi\n")
    assert json.loads(__import__("base64").b64decode(texts[-1][1:]))["status"] == "Success"


async def test_stdin_is_echoed_and_v5_close_signal_ends_it(exec_server):
    _, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["cat"], stdin=True),
                                protocols=["v5.channel.k8s.io"]) as ws:
            await ws.send_bytes(b"\x00first line\n")
            await ws.send_bytes(b"\x00second line\n")
            await ws.send_bytes(bytes([255, 0]))  # half-close stdin
            channels, _ = await collect(ws)
    assert channels[1] == b"first line\nsecond line\n"
    assert json.loads(channels[3])["status"] == "Success"


async def test_spdy_upgrade_gets_a_helpful_400(exec_server):
    _, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.post(exec_url(base, "mcp-server-1", ["ls"]),
                          headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                   "X-Stream-Protocol-Version": "v4.channel.k8s.io"}) as r:
            body = await r.json()
    assert r.status == 400 and body["kind"] == "Status" and body["reason"] == "BadRequest"
    assert "SPDY" in body["message"] and "1.30" in body["message"]


@pytest.mark.parametrize(
    ("pod", "query_container", "code", "message"),
    [
        ("missing", None, 404, 'pods "missing" not found'),
        ("mcp-server-1", "sidecar", 400, "container sidecar is not valid for pod mcp-server-1"),
        ("two", None, 400, "a container name must be specified for pod two, choose one of: [app proxy]"),
        ("pending", None, 400, 'container "main" in pod "pending" is waiting to start: ContainerCreating'),
        ("crashing", None, 400, 'container "main" in pod "crashing" is waiting to start: CrashLoopBackOff'),
    ],
)
async def test_refusals_are_real_status_objects(exec_server, pod, query_container, code, message):
    cluster, base = exec_server
    cluster.store.create("pods", make_pod("two", containers=("app", "proxy")))
    cluster.store.create("pods", make_pod("pending", phase="Pending"))
    cluster.store.create("pods", make_pod("crashing", statuses=[
        {"name": "main", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]))
    url = exec_url(base, pod, ["ls"]) + (f"&container={query_container}" if query_container else "")
    async with aiohttp.ClientSession() as s:
        async with s.get(url, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                       "Sec-WebSocket-Version": "13",
                                       "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as r:
            body = await r.json()
    assert (r.status, body["code"], body["message"]) == (code, code, message)


async def test_plain_get_without_upgrade_is_refused(exec_server):
    _, base = exec_server
    async with aiohttp.ClientSession() as s:
        async with s.get(exec_url(base, "mcp-server-1", ["ls"])) as r:
            assert r.status == 400
            assert (await r.json())["message"] == "Upgrade request required"


async def test_client_disconnect_cancels_the_handler(exec_server):
    cluster, base = exec_server
    cancelled = asyncio.Event()

    async def forever(ctx):
        await ctx.stdout.write("started\n")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    register_exec_handler(cluster, forever, commands={"wait-forever"})
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(exec_url(base, "mcp-server-1", ["wait-forever"]),
                                protocols=["v5.channel.k8s.io"])
        while (await ws.receive()).data != b"\x01started\n":
            pass
        await ws.close()
    await asyncio.wait_for(cancelled.wait(), 5)


async def test_handler_crash_becomes_internal_error_status(exec_server):
    cluster, base = exec_server

    async def broken(ctx):
        raise RuntimeError("disk on fire")

    register_exec_handler(cluster, broken, commands={"broken"})
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(exec_url(base, "mcp-server-1", ["broken"]),
                                protocols=["v4.channel.k8s.io"]) as ws:
            channels, _ = await collect(ws)
    status = json.loads(channels[3])
    assert status["reason"] == "InternalError" and "disk on fire" in status["message"]


async def test_ws_api_client_preload_returns_stdout_and_stderr(exec_server):
    _, base = exec_server
    async with WsApiClient(configuration=client.Configuration(host=base)) as api:
        v1 = client.CoreV1Api(api_client=api)
        out = await v1.connect_get_namespaced_pod_exec(
            "mcp-server-1", "ns", command=["curl", "-s", "http://localhost:8080/health/database"],
            stdout=True, stderr=True, stdin=False, tty=False)
        # kubernetes-asyncio json-decodes a 'str' response that parses as JSON and hands
        # back its Python repr (a long-standing client quirk): undo that to compare.
        body = ast.literal_eval(out)
        assert body["status"] == "healthy" and body["database"]["status"] == "healthy"
        missing = await v1.connect_get_namespaced_pod_exec(
            "mcp-server-1", "ns", command=["nslookup", "x"], stdout=True, stderr=True)
        assert missing == "nslookup: command not found\n"


async def test_multibyte_text_split_across_frames_stays_decodable(exec_server):
    """kubernetes-asyncio decodes each frame on its own; no character may be cut."""
    cluster, base = exec_server
    text = "é€😀" * 30000  # ~270 KB of 2-, 3- and 4-byte characters

    async def unicode(ctx):
        await ctx.stdout.write(text.encode()[:100001])  # ends inside a character...
        await ctx.stdout.write(text.encode()[100001:])  # ...completed by the next write
        return 0

    register_exec_handler(cluster, unicode, commands={"unicode"})
    async with WsApiClient(configuration=client.Configuration(host=base)) as api:
        out = await client.CoreV1Api(api_client=api).connect_get_namespaced_pod_exec(
            "mcp-server-1", "ns", command=["unicode"], stdout=True, stderr=True)
    assert out == text
