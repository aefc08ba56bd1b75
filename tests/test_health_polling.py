"""The poll chain: bounded polls, capped exponential backoff, no overlap, a gate that
pauses it, and recovery, against real sources (Redis, a hung TCP server).

These tests assert the order of events (failure counts, the delays armed), waiting for them
to happen; how many polls fit in a given time depends on the machine's load and is printed
by ``benchmarks/bench_polling.py`` instead."""

from __future__ import annotations

import pytest
from health_support import REDIS_URL, hung_server
from waiting import until

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
        try:
            await until(lambda: len(states) >= 4, what="four timed-out polls")
        finally:
            await poller.stop()
            await collector.close()
    assert all(s.error == "timed out after 0.2 s" for s in states)
    assert [s.failures for s in states[:4]] == [1, 2, 3, 4]
    # the wait doubles from the 0.05 s interval and is capped at max_backoff
    assert [s.next_in for s in states[:4]] == [0.1, 0.2, 0.4, 0.4]
    assert all(s.last_good is None for s in states)
    assert poller.max_in_flight == 1


async def test_live_source_polls_at_the_interval_and_keeps_the_last_good():
    collector = RedisCollector(RedisSettings(url=REDIS_URL))
    states = []
    poller = Poller("cache", collector.collect, RedisSnapshot.failed, states.append,
                    interval=0.1, timeout=10)
    poller.start()
    try:
        await until(lambda: len(states) >= 3, what="three polls")
    finally:
        await poller.stop()
        await collector.close()
    assert all(not s.stale and s.last_good is s.latest and s.failures == 0 for s in states)
    # after a success the next poll is armed one interval after this one began
    assert all(0 <= s.next_in <= 0.1 for s in states)
    times = [s.latest.collected_at for s in states]
    assert times == sorted(times) and len(set(times)) == len(times)  # a new snapshot each time
    assert poller.max_in_flight == 1


async def test_gate_pauses_polling_and_poll_now_wakes_it():
    collector = RedisCollector(RedisSettings(url=REDIS_URL))
    visible = False
    asked = 0
    states = []

    def gate() -> bool:
        nonlocal asked
        asked += 1
        return visible

    # an hour between polls: a second poll within the test can only come from poll_now
    poller = Poller("cache", collector.collect, RedisSnapshot.failed, states.append,
                    interval=3600, timeout=10, gate=gate, gate_check=0.02)
    poller.start()
    try:
        await until(lambda: asked >= 3, what="the gate consulted three times")
        assert states == [] and poller.polls == 0  # not on screen: nothing collected
        visible = True
        await until(lambda: len(states) == 1, what="the first poll once visible")
        assert states[0].next_in > 3000  # then it waits the interval
        poller.poll_now()
        await until(lambda: len(states) == 2, what="the poll asked for by poll_now")
        assert poller.polls == 2 and not states[1].stale
    finally:
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


async def test_refresh_pressed_during_a_slow_poll_is_not_lost():
    """An hour between polls: a second poll soon after can only come from the refresh
    pressed while the first poll was still running."""
    import asyncio

    collector = RedisCollector(RedisSettings(url=REDIS_URL))
    polling = asyncio.Event()
    release = asyncio.Event()

    async def slow_collect():
        polling.set()
        await release.wait()
        return await collector.collect()

    states = []
    poller = Poller("cache", slow_collect, RedisSnapshot.failed, states.append,
                    interval=3600, timeout=10)
    poller.start()
    try:
        await asyncio.wait_for(polling.wait(), 10)
        poller.poll_now()  # the operator presses r while the poll is in flight
        release.set()
        await until(lambda: len(states) >= 2, what="the poll the refresh asked for")
    finally:
        await poller.stop()
        await collector.close()
    assert not states[1].stale and poller.max_in_flight == 1


async def test_a_failing_on_update_does_not_end_the_poll_chain(caplog):
    collector = RedisCollector(RedisSettings(url=REDIS_URL))
    states = []

    def on_update(state):
        states.append(state)
        if len(states) == 1:
            raise RuntimeError("widget went away")

    poller = Poller("cache", collector.collect, RedisSnapshot.failed, on_update,
                    interval=0.05, timeout=10)
    poller.start()
    try:
        await until(lambda: len(states) >= 3, what="polls after the failed update")
        assert poller.running
    finally:
        await poller.stop()
        await collector.close()
    assert poller.update_errors == 1
    assert "widget went away" in caplog.text
