"""Figures of the dashboard's data path (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_health.py [--runs 20] [--pods 1000] [--replicas 300]

- one collection of each source against the real services of this machine (PostgreSQL,
  Redis, an HTTP service with /metrics, the Kubernetes emulator in its own process, moto S3),
  median and 95th percentile over ``--runs``;
- the Kubernetes refresh with list+watch caches against a full list each time, with the
  deployment scaled to ``--replicas`` (real kubectl) and ``--pods`` other pods seeded, and
  how many lists/watches the cached mode made;
- ``run_checks`` for one environment end to end (what ``mcp-ops check`` costs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from health_support import HealthServer, live_environment, start_moto  # noqa: E402

from console.collectors.kube import KubeCollector  # noqa: E402
from console.collectors.registry import collectors_for  # noqa: E402
from console.config.model import Config  # noqa: E402
from console.health.check import run_checks  # noqa: E402


def figures(samples: list[float]) -> str:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return f"median {statistics.median(samples) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


async def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        snap = await fn()
        out.append(time.perf_counter() - started)
        if snap.error:
            raise SystemExit(f"collection failed: {snap.error}")
    return out


async def main(args) -> None:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    tmp = Path(tempfile.mkdtemp())
    kubeconfig = tmp / "kubeconfig"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "sandbox.kube", "--port", "0", "--kubeconfig-out",
         str(kubeconfig), "--pods", str(args.pods)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    moto, moto_url = start_moto()
    service = await HealthServer().start()
    service.record(1000)
    try:
        emulator.stdout.readline()
        kubectl_env = os.environ | {"KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp / "kc")}
        subprocess.run(["kubectl", "--request-timeout=30s", "-n", "mcp-production", "scale",
                        "deployment/mcp-server-production", f"--replicas={args.replicas}"],
                       env=kubectl_env, check=True, capture_output=True)
        subprocess.run(["kubectl", "--request-timeout=120s", "-n", "mcp-production", "rollout",
                        "status", "deployment/mcp-server-production", "--timeout=120s"],
                       env=kubectl_env, check=True, capture_output=True)
        config = Config.model_validate({"environments": {
            "live": live_environment(service.url, moto_url, kubeconfig)}})
        env = config.environments["live"]
        print(f"one collection, {args.runs} runs each ({args.replicas} mcp-server pods, "
              f"{args.pods} other pods)")
        collectors = collectors_for(env, timeout=10, watch=True)
        for name, collector in collectors.items():
            await collector.collect()  # connect / fill caches first
            print(f"  {name:<9} {figures(await timed(collector.collect, args.runs))}")
        kube = collectors["pods"]
        print(f"  pods (watch mode) made {sum(i.lists for i in kube.informers.values())} lists and "
              f"{sum(i.watches for i in kube.informers.values())} watches in "
              f"{args.runs + 1} refreshes")
        for c in collectors.values():
            await c.close()
        listing = KubeCollector(env.kubernetes, watch=False, timeout=30)
        await listing.collect()
        print(f"  pods (list each time) {figures(await timed(listing.collect, args.runs))}")
        await listing.close()
        started = time.perf_counter()
        reports = await run_checks(config, ["live"], timeout=10)
        print(f"run_checks(live): {(time.perf_counter() - started) * 1000:.0f} ms, "
              f"status {reports[0].status.label}")
    finally:
        await service.stop()
        moto.stop()
        emulator.terminate()
        emulator.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=300)
    asyncio.run(main(parser.parse_args()))
