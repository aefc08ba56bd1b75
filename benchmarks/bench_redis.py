"""Redis: round trips and commands per refresh of our collector against ``redis-cli
--stat``, both through the same counting proxy in front of the machine's Redis."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import shutil
import subprocess
import time

from bench_proxy import CountingProxy
from bench_table import Row

from console.collectors.redis import RedisCollector
from console.config.model import RedisSettings

REDIS_PORT = 6379


async def _collect(port: int, proxy: CountingProxy, refreshes: int) -> tuple[float, float, str]:
    collector = RedisCollector(RedisSettings(url=f"redis://127.0.0.1:{port}/0"), timeout=10)
    try:
        first = await collector.collect()  # connects (and says hello): not a refresh
        if first.error:
            raise RuntimeError(first.error)
        await asyncio.sleep(0.1)
        proxy.reset()
        for _ in range(refreshes):
            snap = await collector.collect()
            if snap.error:
                raise RuntimeError(snap.error)
        await asyncio.sleep(0.1)
        return proxy.round_trips / refreshes, proxy.commands / refreshes, snap.version
    finally:
        await collector.close()


def _redis_cli(proxy: CountingProxy, seconds: float) -> tuple[float, float, int]:
    """``redis-cli --stat`` on a terminal (into a pipe it buffers its lines); one printed
    line of figures is one refresh."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(["redis-cli", "-h", "127.0.0.1", "-p", str(proxy.port), "--stat",
                             "-i", "0.5"], stdout=secondary, stderr=subprocess.DEVNULL)
    os.close(secondary)
    out = b""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if select.select([primary], [], [], left)[0]:
            out += os.read(primary, 65536)
    proc.terminate()
    proc.wait(10)
    os.close(primary)
    refreshes = sum(1 for line in out.decode().splitlines() if line[:1].isdigit())
    return proxy.round_trips / refreshes, proxy.commands / refreshes, refreshes


def measure(opts, progress) -> list[Row]:
    what = "Redis collector: round trips / commands per refresh"
    goal = "1 round trip"
    with CountingProxy(REDIS_PORT, resp=True) as proxy:
        trips, commands, _version = asyncio.run(_collect(proxy.port, proxy, opts.samples))
    if shutil.which("redis-cli"):
        with CountingProxy(REDIS_PORT, resp=True) as proxy:
            their_trips, their_commands, refreshes = _redis_cli(proxy, 3.2)
        against = (f"redis-cli --stat {their_trips:.1f} / {their_commands:.1f} "
                   f"({refreshes} refreshes)")
    else:
        against = "n/a (redis-cli not installed)"
    return [Row(what, f"{trips:.1f} / {commands:.1f} ({opts.samples} refreshes)", against,
                "—", goal, trips <= 1.0)]
