"""Throughput of the emulator's exec and log endpoints (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_kube_exec_logs.py

Measures, against an in-process emulator on a loopback TLS port:
- exec streaming 100,000 lines (``seq 100000``) through the real kubectl (v5 protocol)
  and through kubernetes-asyncio's WsApiClient (v4 protocol);
- ``kubectl logs --since=24h`` and a full-lifetime log read of a three-day-old MCP pod;
- how soon a line written while following reaches a kubernetes-asyncio reader.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path

from kubernetes_asyncio import client, config
from kubernetes_asyncio.stream import WsApiClient

from sandbox.kube.cluster import Cluster
from sandbox.kube.log_book import append_log_line
from sandbox.kube.server import start_server

NS = "mcp-production"
POD = "mcp-server-bench"
NL = b"\n"


def _pod(age: float) -> dict:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age))
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": POD, "namespace": NS, "labels": {"app": "mcp-server"},
                         "creationTimestamp": created},
            "spec": {"containers": [{"name": "mcp-server", "image": "mcp:2.4.1"}]},
            "status": {"phase": "Running", "startTime": created}}


async def _kubectl(env: dict, *args: str) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--request-timeout=60s", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await proc.communicate()
    return proc.returncode or 0, out, time.perf_counter() - started


async def main() -> None:
    cluster = Cluster()
    cluster.store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                        "metadata": {"name": NS}})
    cluster.store.create("pods", _pod(3 * 86400))
    server = await start_server(cluster)
    tmp = Path(tempfile.mkdtemp(prefix="bench-kube-"))
    kubeconfig = tmp / "kubeconfig"
    server.write_kubeconfig(kubeconfig)
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(tmp / "cache"))
    try:
        await _kubectl(env, "version")  # warm the dispatcher and discovery cache
        code, out, secs = await _kubectl(env, "exec", "-n", NS, POD, "--", "seq", "100000")
        print(f"kubectl exec seq 100000 (v5):        {secs:6.2f} s  {len(out) / secs / 1e6:6.1f} MB/s"
              f"  lines={out.count(NL)} exit={code}")

        api_config = client.Configuration()
        await config.load_kube_config(config_file=str(kubeconfig), client_configuration=api_config)
        async with WsApiClient(configuration=api_config) as ws_api:
            started = time.perf_counter()
            text = await client.CoreV1Api(api_client=ws_api).connect_get_namespaced_pod_exec(
                POD, NS, command=["seq", "100000"], stdout=True, stderr=True)
            secs = time.perf_counter() - started
        print(f"WsApiClient exec seq 100000 (v4):    {secs:6.2f} s  {len(text) / secs / 1e6:6.1f} MB/s"
              f"  lines={text.count(chr(10))}")

        code, out, secs = await _kubectl(env, "logs", "-n", NS, POD, "--since=24h")
        print(f"kubectl logs --since=24h (3-day pod): {secs:6.2f} s  lines={out.count(NL)}")
        code, out, secs = await _kubectl(env, "logs", "-n", NS, POD)
        print(f"kubectl logs, whole life (3 days):   {secs:6.2f} s  lines={out.count(NL)}")

        async with client.ApiClient(configuration=api_config) as api:
            resp = await client.CoreV1Api(api_client=api).read_namespaced_pod_log(
                POD, NS, follow=True, tail_lines=0, _preload_content=False)
            delays = []
            for i in range(10):
                marker = f"BENCH-MARKER {i}"
                sent = time.perf_counter()
                append_log_line(cluster, NS, POD, "mcp-server", marker)
                while marker.encode() not in await resp.content.readline():
                    pass
                delays.append(time.perf_counter() - sent)
            resp.release()
        print(f"logs -f delivery delay (10 lines):    mean {sum(delays) / len(delays) * 1000:5.0f} ms"
              f"  max {max(delays) * 1000:5.0f} ms (poll interval 200 ms)")
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main())
