"""Pods: our Kubernetes collector against ``kubectl get pods`` with the app selector, on
the emulator (its own process) holding ``--pods`` extra pods in the namespace.

- first complete snapshot: a fresh collector's first ``collect()`` in a fresh process
  (lists done and every panel figure read; the watches open just after it, from the
  lists' resourceVersion; the modules the collector's own
  module imports are loaded before, anything it loads on first use is timed), against
  ``kubectl get pods -l app=mcp-server`` (its discovery cache warm, KUBECACHEDIR a
  temporary directory), median of 3 each, taken in turns (kubectl, ours, kubectl...)
  so both meet the same load; our process's CPU for it beside (a steadier figure);
- steady state, while 1 % of the namespace's pods change every second (annotation
  patches sent from this process): CPU of the collector's process per 1 s refresh (the
  watch events it digests between refreshes included), API requests per minute, and the
  process's peak RSS.

The collector runs in a child process (``--child``) so its CPU and RSS are its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if __name__ == "__main__":
    sys.path[:0] = [str(HERE), str(ROOT)]

NS = "mcp-production"
SELECTOR = "app=mcp-server"
GOAL_CPU = 0.020
GOAL_RSS = 250


def start_emulator(tmp: Path, pods: int) -> tuple[subprocess.Popen, Path]:
    kubeconfig = tmp / "kubeconfig"
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.kube", "--port", "0",
                             "--kubeconfig-out", str(kubeconfig), "--pods", str(pods)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = proc.stdout.readline()
    if "listening" not in line:
        proc.kill()
        raise RuntimeError(f"the emulator did not start: {line!r}")
    return proc, kubeconfig


def server_of(kubeconfig: Path) -> tuple[str, str]:
    import yaml

    doc = yaml.safe_load(kubeconfig.read_text())
    return doc["clusters"][0]["cluster"]["server"], doc["users"][0]["user"]["token"]


class Churn:
    """Patches ``rate`` pods a second (a fresh annotation each: a real change, one watch
    event) from a thread of its own until stopped."""

    def __init__(self, kubeconfig: Path, rate: int) -> None:
        self.url, self.token = server_of(kubeconfig)
        self.rate = rate
        self.patched = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.get(f"{self.url}/api/v1/namespaces/{NS}/pods", ssl=False) as resp:
                names = [p["metadata"]["name"] for p in (await resp.json())["items"]]
            tick = 0
            while not self.stop.is_set():
                started = time.monotonic()
                tick += 1
                batch = random.sample(names, min(self.rate, len(names)))
                await asyncio.gather(*(self._patch(http, name, tick) for name in batch))
                await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    async def _patch(self, http, name: str, tick: int) -> None:
        body = json.dumps({"metadata": {"annotations": {"bench/tick": str(tick)}}})
        async with http.patch(f"{self.url}/api/v1/namespaces/{NS}/pods/{name}", data=body,
                              headers={"Content-Type": "application/merge-patch+json"},
                              ssl=False) as resp:
            if resp.status < 300:
                self.patched += 1

    def __enter__(self) -> Churn:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(30)


def kubectl_env(kubeconfig: Path, tmp: Path) -> dict[str, str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp / "kubecache")}
    subprocess.run(["kubectl", "get", "ns", "--request-timeout=60s"], env=env, check=True,
                   capture_output=True)  # discovery cached, as for an operator's second command
    return env


def kubectl_once(env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(["kubectl", "get", "pods", "-n", NS, "-l", SELECTOR,
                    "--request-timeout=120s"], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def first_snapshots(kubeconfig: Path, tmp: Path,
                    runs: int = 3) -> tuple[float, float, float | None]:
    """Medians of ``runs`` first snapshots, ours (wall time and CPU) and kubectl's (None
    without kubectl), taken in turns so both see the same load on a shared machine."""
    env = kubectl_env(kubeconfig, tmp) if shutil.which("kubectl") else None
    ours: list[tuple[float, float]] = []
    theirs: list[float] = []
    for _ in range(runs):
        if env is not None:
            theirs.append(kubectl_once(env))
        ours.append(first_only(kubeconfig))
    return (median([w for w, _ in ours]), median([c for _, c in ours]),
            median(theirs) if theirs else None)


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux keeps that across exec,
    so a child started by a big parent would report the parent's peak."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


# ---- the child: our collector in a process of its own -------------------------------------
async def child(kubeconfig: str, refreshes: int, first_only: bool = False) -> dict:
    from console.collectors.kube import KubeCollector
    from console.config.model import KubernetesSettings
    from console.sources.kube import KubeSource

    class CountingSource(KubeSource):
        requests = 0

        async def _open(self, path, params, timeout, **kw):
            CountingSource.requests += 1
            return await super()._open(path, params, timeout, **kw)

    settings = KubernetesSettings(kubeconfig=kubeconfig, request_timeout=60)
    collector = KubeCollector(settings, watch=True, timeout=60,
                              source=CountingSource(settings, timeout=60))
    try:
        started, cpu_started = time.perf_counter(), time.process_time()
        snap = await collector.collect()
        first, first_cpu = time.perf_counter() - started, time.process_time() - cpu_started
        if snap.error:
            raise SystemExit(f"first snapshot failed: {snap.error}")
        pods = len(snap.pods)
        if first_only:
            return {"first": first, "first_cpu": first_cpu, "pods": pods}
        print("first", flush=True)  # the parent starts the churn now
        sys.stdin.readline()
        await asyncio.sleep(1.0)
        requests0, cpu0, wall0 = CountingSource.requests, time.process_time(), time.monotonic()
        for _ in range(refreshes):
            tick = time.monotonic()
            snap = await collector.collect()
            if snap.error:
                raise SystemExit(f"refresh failed: {snap.error}")
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        wall = time.monotonic() - wall0
        return {"first": first, "pods": pods,
                "cpu_per_refresh": (time.process_time() - cpu0) / refreshes,
                "requests_per_minute": (CountingSource.requests - requests0) * 60 / wall,
                "lists": sum(i.lists for i in collector.informers.values()),
                "watches": sum(i.watches for i in collector.informers.values()),
                "rss_mb": peak_rss_mb()}
    finally:
        await collector.close()


def run_child(kubeconfig: Path, refreshes: int, churn_rate: int) -> tuple[dict, int]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child",
                             str(kubeconfig), "--refreshes", str(refreshes)],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        if proc.stdout.readline().strip() != "first":
            raise RuntimeError("the collector's child failed before its first snapshot")
        with Churn(kubeconfig, churn_rate) as churn:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            out = proc.stdout.readline()
        proc.wait(60)
        if not out:
            raise RuntimeError("the collector's child failed during the steady state")
        return json.loads(out), churn.patched
    finally:
        if proc.poll() is None:
            proc.kill()


def first_only(kubeconfig: Path) -> tuple[float, float]:
    """A fresh process's first snapshot (no steady state): wall time, and its CPU."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                          str(kubeconfig), "--first-only"], cwd=ROOT, capture_output=True,
                         text=True, check=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    result = json.loads(out.stdout)
    return result["first"], result["first_cpu"]


def measure(opts, progress) -> list:
    from bench_table import Row, ms, ratio

    pods = opts.pods
    refreshes = 5 if opts.quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        emulator, kubeconfig = start_emulator(Path(tmp), pods)
        progress(f"  emulator with {pods:,} extra pods up in {time.monotonic() - started:.1f} s")
        try:
            first, first_cpu, theirs = first_snapshots(kubeconfig, Path(tmp))
            ours, patched = run_child(kubeconfig, refreshes, max(1, pods // 100))
            ours["first"] = first
        finally:
            emulator.terminate()
            emulator.wait(30)
    label = f"Pods, {SELECTOR} with {pods:,} pods in the namespace"
    rows = [Row(f"{label}: first complete snapshot",
                f"{ms(ours['first'])} (CPU {ms(first_cpu)})",
                f"kubectl get pods -l {SELECTOR} {ms(theirs)}" if theirs else "n/a (no kubectl)",
                ratio(ours["first"], theirs), "≤ kubectl",
                theirs is not None and ours["first"] <= theirs)]
    rows.append(Row(f"{label}: steady CPU per 1 s refresh, 1 % of pods changing per second",
                    f"{ms(ours['cpu_per_refresh'])} ({ours['requests_per_minute']:.0f} API "
                    f"requests/min, {ours['lists']} lists, {ours['watches']} watches; "
                    f"{patched} pods patched)", "—", "—", f"< {GOAL_CPU * 1000:.0f} ms",
                    ours["cpu_per_refresh"] < GOAL_CPU))
    rows.append(Row(f"{label}: peak RSS of the collector's process", f"{ours['rss_mb']:.0f} MB",
                    "—", "—", f"< {GOAL_RSS} MB", ours["rss_mb"] < GOAL_RSS))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", metavar="KUBECONFIG")
    parser.add_argument("--refreshes", type=int, default=15)
    parser.add_argument("--first-only", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(child(args.child, args.refreshes, args.first_only))),
          flush=True)
