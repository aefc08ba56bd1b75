"""The poll chain: bounded polls, capped exponential backoff, no overlap, a gate that
pauses it, and recovery, against real sources (Redis, a hung TCP server)."""

from __future__ import annotations

import asyncio
import time

import pytest
from health_support import REDIS_URL, hung_server

from console.collectors.redis import RedisCollector, RedisSnapshot
from console.config.model import RedisSettings
from console.polling import Poller, backoff_delay

pytestmark = pytest.mark.timeout(30)


def test_backoff_doubles_and_is_capped():
    assert [backoff_delay(2, n, 30) for n in range(6)] == [2, 4, 8, 16, 30, 30]


async def test_hung_source_times_out_backs_off_and_never_overlaps():
    async with hung_server() as port:
        collector = RedisCollector(RedisSettings(url=f"redis://127.0.0.1:{port}/0"), timeout=30)
        states = []
        poller = Poller("cache", collector.collect, RedisSnapshot.failed, states.append,
                        interval=0.05, timeout=0.2, max_backoff=0.4)
        poller.start()
        await asyncio.sleep(1.6)
        await poller.stop()
        await collector.close()
    assert all(s.error == "timed out after 0.2 s" for s in states)
    assert [s.failures for s in states[:3]] == [1, 2, 3]
    assert [s.next_in for s in states[:4]] == [0.1, 0.2, 0.4, 0.4]
    # each poll waits 0.2 s + backoff: about 0.3, 0.4, 0.6, 0.6 ... in 1.6 s
    assert 3 <= len(states) <= 5
    assert poller.max_in_flight == 1


async def test_live_source_polls_at_the_interval_and_keeps_the_last_good():
    collector = RedisCollector(RedisSettings(url=REDIS_URL))
    states = []
    poller = Poller("cache", collector.collect, RedisSnapshot.failed, states.append,
                    interval=0.1, timeout=2)
    poller.start()
    await asyncio.sleep(0.55)
    await poller.stop()
    await collector.close()
    assert 3 <= len(states) <= 7
    assert all(not s.stale and s.last_good is s.latest for s in states)
    assert states[-1].latest.collected_at > states[0].latest.collected_at


async def test_gate_pauses_polling_and_poll_now_wakes_it():
    collector = RedisCollector(RedisSettings(url=REDIS_URL))
    visible = False
    states = []
    poller = Poller("cache", collector.collect, RedisSnapshot.failed, states.append,
                    interval=10, timeout=2, gate=lambda: visible, gate_check=0.05)
    poller.start()
    await asyncio.sleep(0.3)
    assert states == []  # not on screen: nothing collected
    visible = True
    await asyncio.sleep(0.3)
    assert len(states) == 1  # one poll, then a 10 s interval
    started = time.monotonic()
    poller.poll_now()
    while len(states) < 2 and time.monotonic() - started < 2:
        await asyncio.sleep(0.02)
    assert len(states) == 2
    await poller.stop()
    await collector.close()


async def test_stale_state_keeps_the_last_good_snapshot():
    good = RedisSnapshot(version="7")
    results = [good, RedisSnapshot.failed("connection refused")]

    async def collect():
        return results.pop(0)

    states = []
    poller = Poller("cache", collect, RedisSnapshot.failed, states.append, interval=0.01)
    await poller.poll_once()
    await poller.poll_once()
    assert states[-1].stale and states[-1].error == "connection refused"
    assert states[-1].last_good is good
    assert states[-1].stale_age() is not None
