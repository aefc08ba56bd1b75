"""Pods in every namespace — the outage wizard's view (``actions.outage.all_pods``: the
runbook's ``kubectl get pods -A``, read in pages of 500) — against ``kubectl get pods -A``
on the same emulator, at 10,000 and 50,000 pods in the cluster (``--quick``: 1,000 and
5,000).

For each size: the whole list read and parsed by a fresh process (wall time and CPU, the
modules the outage wizard imports loaded before, the client made inside the timing), and
that process's peak RSS; kubectl with its discovery cache warm, as for an operator's second
command. Median of 3 each, taken in turns so both meet the same load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __name__ == "__main__":
    sys.path[:0] = [str(HERE), str(ROOT)]

from bench_pods import kubectl_env, median, peak_rss_mb, start_emulator  # noqa: E402

GOAL_RSS = 250
RUNS = 3


# ---- the child: the outage wizard's read in a process of its own --------------------------
async def child(kubeconfig: str) -> dict:
    from actions.outage import all_pods
    from console.config.model import KubernetesSettings
    from console.execution.kube.api import KubeApi
    from console.execution.kube.reader import KubeReader

    settings = KubernetesSettings(kubeconfig=kubeconfig, request_timeout=120)

    class Reads:  # what ``all_pods`` asks of a step's context: its Kubernetes reader
        def __init__(self) -> None:
            self.api = KubeApi(settings)

        async def kube(self) -> KubeReader:
            return KubeReader(self.api, settings)

    ctx = Reads()
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        pods = await all_pods(ctx)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        await ctx.api.close()
    return {"wall": wall, "cpu": cpu, "pods": len(pods),
            "not_ready": sum(1 for p in pods if not p.is_ready),
            "rss_mb": peak_rss_mb()}


def ours_once(kubeconfig: Path) -> dict:
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                          str(kubeconfig)], cwd=ROOT, capture_output=True, text=True,
                         check=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return json.loads(out.stdout)


def kubectl_once(env: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    out = subprocess.run(["kubectl", "get", "pods", "-A", "--request-timeout=300s"], env=env,
                         check=True, capture_output=True, text=True)
    return time.perf_counter() - started, len(out.stdout.splitlines()) - 1


def one_size(pods: int, progress) -> list:
    from bench_table import Row, ms, ratio

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        emulator, kubeconfig = start_emulator(Path(tmp), pods)
        progress(f"  emulator with {pods:,} extra pods up in {time.monotonic() - started:.1f} s")
        try:
            env = kubectl_env(kubeconfig, Path(tmp)) if shutil.which("kubectl") else None
            ours: list[dict] = []
            theirs: list[tuple[float, int]] = []
            for _ in range(RUNS):
                if env is not None:
                    theirs.append(kubectl_once(env))
                ours.append(ours_once(kubeconfig))
        finally:
            emulator.terminate()
            emulator.wait(30)
    wall = median([o["wall"] for o in ours])
    cpu = median([o["cpu"] for o in ours])
    rss = max(o["rss_mb"] for o in ours)
    listed = ours[0]["pods"]
    kubectl = median([t for t, _ in theirs]) if theirs else None
    label = f"Pods, all namespaces, {listed:,} pods (the outage wizard's view)"
    against = (f"kubectl get pods -A {ms(kubectl)} ({theirs[0][1]:,} rows)" if theirs
               else "n/a (no kubectl)")
    progress(f"  {listed:,} pods: ours {wall:.2f} s, kubectl "
             f"{'-' if kubectl is None else f'{kubectl:.2f}'} s")
    return [Row(f"{label}: whole list read and parsed", f"{ms(wall)} (CPU {ms(cpu)}, "
                f"{ours[0]['not_ready']} not Ready)", against, ratio(wall, kubectl),
                "≤ kubectl", kubectl is not None and wall <= kubectl),
            Row(f"{label}: peak RSS of the reading process", f"{rss:.0f} MB", "—", "—",
                f"< {GOAL_RSS} MB", rss < GOAL_RSS)]


def measure(opts, progress) -> list:
    sizes = (1_000, 5_000) if opts.quick else (10_000, 50_000)
    rows: list = []
    for size in sizes:
        rows += one_size(size, progress)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", metavar="KUBECONFIG", required=True)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(child(args.child))), flush=True)
