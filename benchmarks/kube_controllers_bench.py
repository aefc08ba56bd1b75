"""Figures of the emulator's controllers and seeded world (prints figures; asserts nothing).

    .venv/bin/python benchmarks/kube_controllers_bench.py [--pods 10000] [--speed 50]

- seeding the world with ``--pods`` extra pods (the scale-test Deployment);
- how long the controllers take to publish PodMetrics for every pod;
- how much the controllers stall the event loop with that many pods (the API server shares
  the loop, so this is the latency they add to every request), measured with a 10 ms ticker;
- a rolling update of ``mcp-server-production`` (6 replicas), in real and emulated seconds;
- scaling the big Deployment down by 1,000 pods and back up until all are Ready (the nodes'
  pod capacity is sized for the seeded count, so it cannot grow beyond it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.kube.cluster import build_cluster  # noqa: E402

NS = "mcp-production"


def complete(store, name: str, replicas: int) -> bool:
    d = store.peek("deployments.apps", NS, name)
    s = d.get("status") or {}
    return (s.get("observedGeneration") == d["metadata"]["generation"]
            and s.get("updatedReplicas") == s.get("replicas") == s.get("availableReplicas")
            == replicas)


async def wait_for(predicate, timeout: float = 300.0) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            return float("nan")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def stall(seconds: float) -> tuple[float, float]:
    """(max, p99) extra delay of a 10 ms sleep while the controllers run."""
    lags = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        lags.append(time.perf_counter() - t0 - 0.01)
    lags.sort()
    return lags[-1], lags[int(len(lags) * 0.99)]


async def main(pods: int, speed: float) -> None:
    t0 = time.perf_counter()
    cluster = build_cluster(extra_pods=pods, speed=speed)
    seeded = time.perf_counter() - t0
    store = cluster.store
    total = len(store.iter("pods"))
    print(f"seed: {total} pods, {store.resource_version} objects written in {seeded:.2f} s")
    cluster.extras["hpa_actuation"] = False
    t0 = time.perf_counter()
    await cluster.start()
    print(f"controllers started in {time.perf_counter() - t0:.3f} s")
    running = sum(1 for p in store.iter("pods") if p["status"].get("phase") == "Running")
    took = await wait_for(lambda: len(store.iter("pods.metrics.k8s.io")) >= running)
    print(f"PodMetrics for all {running} running pods after {took:.2f} s")
    worst, p99 = await stall(10.0)
    print(f"event-loop stall over 10 s at speed {speed:g}: max {worst * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.1f} ms")

    emulated0 = cluster.clock.now()
    store.mutate("deployments.apps", NS, "mcp-server-production", lambda d: d["spec"]["template"][
        "spec"]["containers"][0].__setitem__("image", "pratiko/mcp-server:v1.2.0"))
    took = await wait_for(lambda: complete(store, "mcp-server-production", 6))
    print(f"rolling update of 6 MCP pods: {took:.2f} s real, "
          f"{cluster.clock.now() - emulated0:.0f} s emulated")

    if pods:
        smaller = max(0, pods - 1000)
        for target in (smaller, pods):
            store.mutate("deployments.apps", NS, "mcp-load-extra",
                         lambda d, n=target: d["spec"].__setitem__("replicas", n))
            took = await wait_for(lambda n=target: complete(store, "mcp-load-extra", n) and sum(
                1 for p in store.iter("pods", NS)
                if p["metadata"]["labels"].get("app") == "mcp-load-extra") == n)
            print(f"scale mcp-load-extra to {target}: settled after {took:.2f} s real")
        worst, p99 = await stall(5.0)
        print(f"event-loop stall afterwards: max {worst * 1000:.0f} ms, p99 {p99 * 1000:.1f} ms")
    errors = cluster.extras["controllers"].errors
    await cluster.stop()
    gc.unfreeze()
    print(f"controller errors: {len(errors)}")
    if errors:
        print(statistics.mode(errors))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--speed", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.pods, args.speed))
