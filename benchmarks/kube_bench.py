"""Figures of the Kubernetes emulator's API server (prints figures; asserts nothing).

    .venv/bin/python benchmarks/kube_bench.py [--pods 10000] [--updates 1000] [--runs 3]

- the server's share of a 10,000-pod list (raw GET, nothing decoded);
- listing 10,000 pods with the real kubectl: ``-o json`` in kubectl's default 500-item
  chunks and in one request, and the default table;
- the same list with kubernetes-asyncio: typed (``V1PodList`` models) and raw JSON;
- the rate at which a watch delivers 1,000 pod updates made straight in the store, read
  raw over HTTP and through kubernetes-asyncio's ``Watch``.

The emulator runs in its own thread and event loop, as it would in its own process, so the
clients measured here do not share a loop with the server. The seeded world is used with
``extra_pods`` added (``--pods``) and no controllers, so only the API server is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from kubernetes_asyncio import client, config, watch  # noqa: E402

from sandbox.kube.auth import ADMIN_TOKEN  # noqa: E402
from sandbox.kube.cluster import build_cluster  # noqa: E402
from sandbox.kube.server import start_server  # noqa: E402

NS = "mcp-production"


class EmulatorThread:
    """A seeded cluster and its API server on a loop of their own."""

    def __init__(self, pods: int):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.cluster = build_cluster(seeded=True, extra_pods=pods)
        self.server = self.call(start_server(self.cluster, bookmark_interval=3600))

    def call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def run(self, fn):
        async def wrapper():
            return fn()

        return self.call(wrapper())

    def stop(self) -> None:
        self.call(self.server.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def timed_kubectl(env: dict, args: list[str], runs: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(runs):
        started = time.perf_counter()
        res = subprocess.run(["kubectl", *args, "--request-timeout=120s"], env=env,
                             capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - started)
        out = res.stdout
    return statistics.median(times), out


def bench_kubectl(emu: EmulatorThread, tmp: Path, runs: int) -> None:
    kubeconfig = emu.server.write_kubeconfig(tmp / "kubeconfig")
    env = dict(os.environ, KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(tmp / "cache"))
    subprocess.run(["kubectl", "get", "ns", "--request-timeout=30s"], env=env, check=True,
                   capture_output=True)  # discovery cached, as for an operator's second command
    for label, args in (("kubectl get pods -o json (500-item chunks)", ["-o", "json"]),
                        ("kubectl get pods -o json --chunk-size=0", ["-o", "json", "--chunk-size=0"]),
                        ("kubectl get pods (table)", [])):
        seconds, out = timed_kubectl(env, ["get", "pods", "-n", NS, *args], runs)
        count = len(json.loads(out)["items"]) if "-o" in args else len(out.splitlines()) - 1
        print(f"{label}: {count:,} pods in {seconds:.2f}s (median of {runs})")


async def bench_raw_list(emu: EmulatorThread, runs: int) -> None:
    """The server's share: one GET of the whole list, bytes read, nothing decoded."""
    url = f"{emu.server.url}/api/v1/namespaces/{NS}/pods"
    times, size = [], 0
    async with aiohttp.ClientSession() as session:
        for _ in range(runs):
            started = time.perf_counter()
            async with session.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, ssl=False) as resp:
                size = len(await resp.read())
            times.append(time.perf_counter() - started)
    print(f"raw HTTP GET of the list (server side + transfer): {size / 1e6:.1f} MB in "
          f"{statistics.median(times):.2f}s (median of {runs})")


async def bench_asyncio(emu: EmulatorThread, tmp: Path, runs: int) -> None:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(emu.server.write_kubeconfig(tmp / "kc")),
                                  client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)
        for label, raw in (("typed V1PodList", False), ("raw JSON", True)):
            times, count = [], 0
            for _ in range(runs):
                started = time.perf_counter()
                if raw:
                    resp = await core.list_namespaced_pod(NS, _preload_content=False)
                    count = len(json.loads(await resp.read())["items"])
                else:
                    count = len((await core.list_namespaced_pod(NS)).items)
                times.append(time.perf_counter() - started)
            print(f"kubernetes-asyncio list ({label}): {count:,} pods in "
                  f"{statistics.median(times):.2f}s (median of {runs})")


def _touch_pods(emu: EmulatorThread, updates: int) -> None:
    """``updates`` real changes (a value never written before: a no-op write makes no event)."""
    names = [p["metadata"]["name"] for p in emu.cluster.store.iter("pods", NS)][:updates]
    run = time.perf_counter_ns()
    for i in range(updates):
        emu.cluster.store.mutate("pods", NS, names[i % len(names)],
                                 lambda p, i=i: p["metadata"].setdefault("annotations", {}).update(
                                     {"bench/update": f"{run}-{i}"}))


async def _wait_for_watch(emu: EmulatorThread) -> None:
    ctx = emu.cluster.extras["api_server"]
    while ctx.watchers < 1:
        await asyncio.sleep(0.01)


async def bench_watch_raw(emu: EmulatorThread, updates: int) -> None:
    rv = emu.run(lambda: emu.cluster.store.resource_version)
    url = f"{emu.server.url}/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={rv}"
    async with aiohttp.ClientSession() as session:
        async with session.get(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, ssl=False) as resp:
            await _wait_for_watch(emu)
            started = time.perf_counter()
            writer = asyncio.get_running_loop().run_in_executor(None, emu.run, lambda: _touch_pods(emu, updates))
            seen = 0
            async for _line in resp.content:
                seen += 1
                if seen == updates:
                    break
            elapsed = time.perf_counter() - started
            await writer
    print(f"watch (raw HTTP): {updates:,} pod updates delivered in {elapsed:.2f}s = "
          f"{updates / elapsed:,.0f} events/s")


async def bench_watch_asyncio(emu: EmulatorThread, tmp: Path, updates: int) -> None:
    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(emu.server.write_kubeconfig(tmp / "kc2")),
                                  client_configuration=configuration)
    loop = asyncio.get_running_loop()
    async with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)
        rv = emu.run(lambda: emu.cluster.store.resource_version)
        writer = loop.run_in_executor(None, emu.run, lambda: _touch_pods(emu, updates))
        seen, started = 0, time.perf_counter()
        async with watch.Watch() as watcher:
            async for _event in watcher.stream(core.list_namespaced_pod, NS,
                                               resource_version=str(rv), timeout_seconds=120):
                seen += 1
                if seen == updates:
                    break
        elapsed = time.perf_counter() - started
        await writer
    print(f"watch (kubernetes-asyncio Watch, typed V1Pod): {seen:,} pod updates delivered in "
          f"{elapsed:.2f}s = {seen / elapsed:,.0f} events/s")


async def main(args: argparse.Namespace) -> None:
    print(f"building the seeded world with {args.pods:,} extra pods...", flush=True)
    started = time.perf_counter()
    emu = EmulatorThread(args.pods)
    total = emu.run(lambda: len(emu.cluster.store.iter("pods", NS)))
    print(f"  {total:,} pods in {NS}, ready in {time.perf_counter() - started:.1f}s")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            await bench_raw_list(emu, args.runs)
            await asyncio.to_thread(bench_kubectl, emu, tmp_path, args.runs)
            await bench_asyncio(emu, tmp_path, args.runs)
            await bench_watch_raw(emu, args.updates)
            await bench_watch_asyncio(emu, tmp_path, args.updates)
    finally:
        emu.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
