"""Figures of the poll chain (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_polling.py [--seconds 2]

How many polls one :class:`console.polling.Poller` makes in a fixed wall time, against a
source that hangs (every poll times out and the wait backs off) and against the real Redis
on 127.0.0.1:6379 (every poll succeeds and the next is armed one interval later). The tests
in ``tests/test_health_polling.py`` check the order of events; these counts depend on the
machine's load, so they are printed here rather than asserted there.

With a 0.2 s timeout, a 0.05 s interval and a 0.4 s cap the hung source should make about
one poll per 0.2 + (0.1, 0.2, 0.4, 0.4, ...) s; the live source, at a 0.1 s interval, about
ten per second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from health_support import REDIS_URL, hung_server  # noqa: E402

from console.collectors.redis import RedisCollector, RedisSnapshot  # noqa: E402
from console.config.model import RedisSettings  # noqa: E402
from console.polling import Poller  # noqa: E402


async def count_polls(collector: RedisCollector, seconds: float, **poller_args) -> list:
    states: list = []
    poller = Poller("cache", collector.collect, RedisSnapshot.failed, states.append,
                    **poller_args)
    started = time.monotonic()
    poller.start()
    await asyncio.sleep(seconds)
    await poller.stop()
    await collector.close()
    elapsed = time.monotonic() - started
    print(f"  {len(states)} polls in {elapsed:.2f} s, at most {poller.max_in_flight} in flight")
    return states


async def main(seconds: float) -> None:
    print(f"hung source, timeout 0.2 s, interval 0.05 s, backoff cap 0.4 s, {seconds:g} s:")
    async with hung_server() as port:
        collector = RedisCollector(RedisSettings(url=f"redis://127.0.0.1:{port}/0"), timeout=30)
        states = await count_polls(collector, seconds, interval=0.05, timeout=0.2,
                                   max_backoff=0.4)
    print(f"  waits armed: {[s.next_in for s in states]}")
    print(f"live Redis, interval 0.1 s, {seconds:g} s:")
    states = await count_polls(RedisCollector(RedisSettings(url=REDIS_URL)), seconds,
                               interval=0.1, timeout=2)
    if states:
        stale = sum(1 for s in states if s.stale)
        print(f"  {stale} stale; waits armed {min(s.next_in for s in states) * 1000:.1f}.."
              f"{max(s.next_in for s in states) * 1000:.1f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    asyncio.run(main(parser.parse_args().seconds))
