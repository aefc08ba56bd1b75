"""Snapshot tests of the live dashboard at 80x24 and 200x60.

Every figure comes from a real collection: the emulator (its own process, via
``python -m sandbox.kube``), the real PostgreSQL and Redis, a real HTTP service (in
a thread) and moto S3. Figures that change from run to run (latencies, ages, pod name
suffixes, CPU, other engineers' connections and Redis memory) are then pinned to fixed
values with ``dataclasses.replace`` before they reach the panels, so the picture is stable
while the path (collect -> snapshot -> message -> render) is the real one. Only one poll
per source happens (refresh interval 10 minutes), so sparklines are stable too.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
from health_support import HealthServer, live_environment, start_moto
from waiting import until, until_sync

from console.collectors.kube import KubeCollector
from console.collectors.registry import collectors_for
from console.config.model import Config, KubernetesSettings
from console.identity import Operator
from screens.app import McpOpsApp
from screens.header import StatusHeader
from screens.panels import Panel

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]


class ThreadedService:
    """The HTTP service in its own thread and loop (snap_compare runs the app's loop)."""

    def __enter__(self) -> HealthServer:
        self.loop = asyncio.new_event_loop()
        self.server = HealthServer()
        self.server.record(90, seconds=0.03)
        self.server.record(1, status=500, seconds=0.2)
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)
        return self.server

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def settled(kubeconfig: Path) -> bool:
    """Whether the emulated deployment shows 6/6 ready pods, each with metrics reported:
    what the pictures show. (A fresh emulator needs a moment to get there.)"""
    async def look() -> bool:
        c = KubeCollector(KubernetesSettings(kubeconfig=str(kubeconfig), request_timeout=5),
                          watch=False)
        try:
            snap = await c.collect()
        finally:
            await c.close()
        return (snap.error is None and snap.deployment is not None
                and snap.deployment.ready == 6 and len(snap.pods) == 6
                and all(p.cpu_m is not None for p in snap.pods))

    return asyncio.run(look())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("snapshots")
    kubeconfig = base / "kubeconfig"
    emulator = subprocess.Popen(
        [sys.executable, "-m", "sandbox.kube", "--port", "0", "--kubeconfig-out",
         str(kubeconfig), "--speed", "10"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    # the backups collector reads moto with the standard credential chain; set for this
    # module only, then put back as it was
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        try:
            assert "emulator listening" in emulator.stdout.readline()
            moto, moto_url = start_moto()
            until_sync(lambda: settled(kubeconfig), interval=0.2,
                       what="the emulated deployment at 6/6 ready with metrics")
            with ThreadedService() as service:
                yield Config.model_validate({
                    "ui": {"refresh_seconds": 600, "source_timeout_seconds": 5},
                    "environments": {"live": live_environment(service.url, moto_url, kubeconfig)},
                })
            moto.stop()
        finally:
            emulator.terminate()
            emulator.wait(10)


# ---- pinning the figures that differ between runs --------------------------------------
def _service(s):
    endpoints = tuple(dataclasses.replace(e, latency_ms=12.0 + i) for i, e in enumerate(s.endpoints))
    return dataclasses.replace(s, endpoints=endpoints)


def _pods(s):
    pods = []
    for i, p in enumerate(sorted(s.pods, key=lambda p: p.name)):
        stem = p.name.rsplit("-", 1)[0]
        pods.append(dataclasses.replace(p, name=f"{stem}-pod{i:02d}", age_seconds=3600.0 * (i + 1),
                                        cpu_m=(p.cpu_request_m or 100) * (0.3 + 0.05 * i),
                                        memory_bytes=(p.memory_limit_bytes or 2**28) * 0.4,
                                        node=f"node-{i % 3}"))
    hpa = dataclasses.replace(s.hpa, cpu_current_pct=42) if s.hpa else None
    deployment = dataclasses.replace(s.deployment, image="pratiko/mcp-server:v1.1.0")
    return dataclasses.replace(s, pods=tuple(pods), hpa=hpa, events=(), deployment=deployment,
                               nodes=tuple(dataclasses.replace(n, name=f"node-{i}", cpu_pct=30.0,
                                                               memory_pct=50.0)
                                           for i, n in enumerate(s.nodes)))


def _database(s):
    return dataclasses.replace(s, connections=12, groups=(), sessions=(), blocking=(), slow=(),
                               idle_in_transaction=(), cache_hit_ratio_pct=99.5,
                               database_size_bytes=7_700_000)


# the INFO fields the Cache panel lists when it has room (200x60)
CACHE_INFO = (("redis_version", "7.0.15"), ("role", "master"), ("uptime_in_seconds", "86400"),
              ("used_memory_peak_human", "1.50M"), ("maxmemory_human", "0B"),
              ("maxmemory_policy", "noeviction"), ("mem_fragmentation_ratio", "1.20"),
              ("connected_clients", "3"), ("blocked_clients", "0"),
              ("rejected_connections", "0"), ("keyspace_hits", "3900"),
              ("keyspace_misses", "100"), ("expired_keys", "0"), ("evicted_keys", "0"),
              ("total_commands_processed", "12000"), ("connected_slaves", "0"))


def _cache(s):
    return dataclasses.replace(s, used_memory=1_400_000, maxmemory=0, hit_rate_pct=97.5,
                               recent_hit_rate_pct=None, ops_per_sec=12.0, evictions_per_sec=None,
                               connected_clients=3, blocked_clients=0, slowlog=(), slowlog_len=0,
                               role="master", connected_replicas=0, info=CACHE_INFO)


def _backups(s):
    # seeded names carry today's date: pin them too
    velero = tuple(dataclasses.replace(b, age_hours=2.0 + 24 * i, name=re.sub(r"\d{8}", f"day{i}", b.name))
                   for i, b in enumerate(sorted(s.velero, key=lambda b: b.name, reverse=True)))
    s3 = tuple(dataclasses.replace(d, age_hours=1.0) for d in s.s3)
    return dataclasses.replace(s, velero=velero, s3=s3)


PIN = {"service": _service, "pods": _pods, "database": _database, "cache": _cache,
       "backups": _backups}


class Pinned:
    def __init__(self, name, inner) -> None:
        self.name, self.inner = name, inner

    async def collect(self):
        snap = await self.inner.collect()
        assert snap.error is None, f"{self.name}: {snap.error}"
        return dataclasses.replace(PIN[self.name](snap), collected_at=datetime(2026, 11, 29, 3, 0))

    async def close(self) -> None:
        await self.inner.close()


def pinned_collectors(env, **kw):
    return {name: Pinned(name, c) for name, c in collectors_for(env, **kw).items()}


def make_app(config) -> McpOpsApp:
    app = McpOpsApp(config, "live", operator=Operator("oncall", "ops-1"),
                    clock=lambda: datetime(2026, 11, 29, 3, 0, 0))
    app.collector_factory = pinned_collectors
    return app


async def all_data(pilot) -> None:
    """Wait until every panel shows its one poll's data, the health report covers all five
    components and the start-up credentials probe has answered (the header then shows
    creds:rw: before it answers it shows nothing, so the picture would depend on timing)."""
    app = pilot.app

    def complete() -> bool:
        hub = getattr(app, "_live_data", {}).get("live")
        panels = [p for p in app.query(Panel) if p.COMPONENT]
        return bool(hub and hub.report and len(hub.report.components) == 5
                    and all(p.snapshot for p in panels)
                    and app.query_one(StatusHeader).credentials_can_write is not None)

    await until(complete, interval=0.1, sleep=pilot.pause,
                what="live data in every panel and the credentials probe")
    await pilot.pause(0.3)


def test_dashboard_live_80x24(snap_compare, world):
    assert snap_compare(make_app(world), terminal_size=(80, 24), run_before=all_data)


def test_dashboard_live_200x60(snap_compare, world):
    assert snap_compare(make_app(world), terminal_size=(200, 60), run_before=all_data)
