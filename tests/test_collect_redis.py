"""The Redis collector against the real Redis of tests/servers.py (db 13).

Other engineers share this server, so counters are compared with INFO read around our own
traffic (never with a figure that assumes only our traffic happened), and the server-wide
maxmemory is restored after the test whatever its outcome.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis.asyncio as aioredis
from health_support import REDIS_URL, hung_server

from console.collectors.redis import RedisCollector
from console.collectors.registry import collect_bounded
from console.config.model import RedisSettings

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def r():
    client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def maxmemory(r):
    """Set maxmemory to 4x what is used (so nothing is evicted), restore it afterwards."""
    before = (await r.config_get("maxmemory"))["maxmemory"]
    used = int((await r.info("memory"))["used_memory"])
    limit = max(used * 4, 64 * 1024 * 1024)
    await r.config_set("maxmemory", limit)
    try:
        yield limit
    finally:
        await r.config_set("maxmemory", before)


@pytest.fixture
async def collector():
    c = RedisCollector(RedisSettings(url=REDIS_URL))
    yield c
    await c.close()


async def test_memory_percent_matches_info(collector, r, maxmemory):
    snap = await collector.collect()
    info = await r.info("memory")
    assert snap.error is None
    assert snap.maxmemory == maxmemory == int(info["maxmemory"])
    expected = 100 * int(info["used_memory"]) / maxmemory
    assert snap.memory_pct == pytest.approx(expected, rel=0.05)


async def stats(r) -> dict[str, int]:
    info = await r.info("stats")
    return {k: int(info[k]) for k in ("keyspace_hits", "keyspace_misses", "evicted_keys")}


def pct(hits: int, misses: int) -> float:
    return 100 * hits / (hits + misses)


async def test_hit_rate_total_and_between_polls(collector, r):
    """The server is shared, so the collector's figures are checked against INFO read just
    before and just after each of its readings: every counter it saw lies in that bracket,
    and so does any rate made from them."""
    prefix = f"mcp-ops-test:{uuid.uuid4().hex[:6]}"
    await r.mset({f"{prefix}:{i}": i for i in range(10)})
    b1 = await stats(r)
    first = await collector.collect()
    a1 = await stats(r)
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.get(f"{prefix}:{i % 10}")  # hits
    for i in range(100):
        pipe.get(f"{prefix}:missing:{i}")  # misses
    await pipe.execute()
    b2 = await stats(r)
    second = await collector.collect()
    a2 = await stats(r)
    await r.delete(*[f"{prefix}:{i}" for i in range(10)])
    assert first.error is None and second.error is None
    # rates need two readings
    assert first.recent_hit_rate_pct is None and first.evictions_per_sec is None
    hits = second.keyspace_hits - first.keyspace_hits
    misses = second.keyspace_misses - first.keyspace_misses
    assert hits >= 300 and misses >= 100  # at least our own traffic, maybe others' too
    assert b2["keyspace_hits"] <= second.keyspace_hits <= a2["keyspace_hits"]
    assert b2["keyspace_misses"] <= second.keyspace_misses <= a2["keyspace_misses"]
    # between the polls: at least what happened from a1 to b2, at most from b1 to a2
    least_h, most_h = b2["keyspace_hits"] - a1["keyspace_hits"], a2["keyspace_hits"] - b1["keyspace_hits"]
    least_m, most_m = b2["keyspace_misses"] - a1["keyspace_misses"], \
        a2["keyspace_misses"] - b1["keyspace_misses"]
    assert pct(least_h, most_m) - 1e-9 <= second.recent_hit_rate_pct <= pct(most_h, least_m) + 1e-9
    # since the server started
    assert pct(b2["keyspace_hits"], a2["keyspace_misses"]) - 1e-9 <= second.hit_rate_pct \
        <= pct(a2["keyspace_hits"], b2["keyspace_misses"]) + 1e-9
    if a2["evicted_keys"] == b1["evicted_keys"]:
        assert second.evictions_per_sec == 0  # nothing evicted anywhere in between
    else:
        assert second.evictions_per_sec is not None and second.evictions_per_sec >= 0
    assert second.ops_per_sec and second.ops_per_sec > 0


async def test_a_slow_command_appears_in_the_slowlog(collector, r):
    threshold = int((await r.config_get("slowlog-log-slower-than"))["slowlog-log-slower-than"])
    marker = uuid.uuid4().hex[:10]
    script = f"local i = 0 while i < 3000000 do i = i + 1 end return '{marker}'"
    started = time.perf_counter()
    await r.eval(script, 0)
    took_us = (time.perf_counter() - started) * 1e6
    if threshold < 0 or took_us < threshold:
        pytest.skip(f"the script ran in {took_us:.0f} us, under slowlog-log-slower-than")
    snap = await collector.collect()
    mine = [e for e in snap.slowlog if marker in e.command]
    assert mine, [e.command[:60] for e in snap.slowlog]
    assert mine[0].duration_us >= threshold
    assert snap.slowlog_len >= 1
    assert snap.slowest_us >= mine[0].duration_us


async def test_role_clients_and_info_fields(collector, r):
    snap = await collector.collect()
    info = await r.info()
    assert snap.role == info["role"]
    assert snap.version == info["redis_version"]
    assert snap.connected_clients >= 1
    assert dict(snap.info)["role"] == info["role"]


async def test_unreachable_and_hung_redis():
    c = RedisCollector(RedisSettings(url="redis://127.0.0.1:1/0"), timeout=1)
    snap = await c.collect()
    assert snap.error
    await c.close()
    async with hung_server() as port:
        c = RedisCollector(RedisSettings(url=f"redis://127.0.0.1:{port}/0"), timeout=30)
        started = time.monotonic()
        snap = await collect_bounded("cache", c, 0.5)
        print(f"hung Redis cut off after {time.monotonic() - started:.2f} s")
        # the text only the bound's own timeout writes: the client (30 s) did not give up
        assert snap.error == "timed out after 0.5 s"
        await c.close()
