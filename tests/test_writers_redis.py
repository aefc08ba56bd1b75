"""The Redis writer against the real Redis of tests/servers.py.

The server is shared: every test writes only keys under a prefix of its own and deletes them
in a finally. Commands that would touch the whole server (FLUSHDB at destructive risk,
SLOWLOG RESET) are checked against the allow-list with ``check`` and never sent.
"""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
import servers

from console.execution.writers import RedisWriter, WriterRefused

pytestmark = pytest.mark.timeout(60)

URL = f"redis://{servers.REDIS_HOSTPORT}/0"


@pytest.fixture
async def client():
    redis = aioredis.Redis.from_url(URL, decode_responses=True, socket_timeout=5)
    try:
        yield redis
    finally:
        await redis.aclose()


@pytest.fixture
async def prefix(client):
    name = f"mcp-ops-test:{uuid.uuid4().hex[:12]}:"
    try:
        yield name
    finally:
        keys = [k async for k in client.scan_iter(match=name + "*", count=1000)]
        if keys:
            await client.delete(*keys)


async def fill(client, pattern: str, count: int, value: str = "v") -> None:
    async with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            pipe.set(pattern.format(i), value)
        await pipe.execute()


async def test_change_risk_allows_its_commands(client, prefix):
    writer = RedisWriter(client, risk="change")
    key = prefix + "session:1"
    assert await writer.command("SET", key, "x", "EX", "600") is True
    assert await writer.command("PERSIST", key) is True
    assert await client.ttl(key) == -1
    assert await writer.command("EXPIRE", key, 300) is True
    assert 0 < await client.ttl(key) <= 300
    await client.set(prefix + "other", "y")
    assert await writer.command("UNLINK", key) == 1
    assert await writer.command("del", prefix + "other") == 1  # case does not matter
    # CONFIG SET on an allowed parameter: set to the value it has (the server is shared)
    current = (await client.config_get("slowlog-max-len"))["slowlog-max-len"]
    assert await writer.command("CONFIG", "SET", "slowlog-max-len", current) in (True, "OK")
    assert await writer.command("MEMORY", "PURGE") in (True, "OK")
    writer.check("SLOWLOG", "RESET")  # allowed; not sent, the slow log is the server's
    writer.check("CONFIG", "SET", "maxmemory-policy", "allkeys-lru", "maxmemory", "1gb")


async def test_flushdb_needs_destructive_and_flushall_is_never_sent(client, prefix):
    await client.set(prefix + "keep", "1")
    change = RedisWriter(client, risk="change")
    destructive = RedisWriter(client, risk="destructive")
    with pytest.raises(WriterRefused) as caught:
        await change.command("FLUSHDB")
    assert str(caught.value) == "Redis FLUSHDB needs a destructive step; this step is change"
    destructive.check("FLUSHDB")  # allowed at destructive (not sent: the server is shared)
    destructive.check("FLUSHDB", "ASYNC")
    for writer in (change, destructive):
        for argv in (("FLUSHALL",), ("flushall", "ASYNC"), ("CONFIG", "REWRITE"),
                     ("SHUTDOWN", "NOSAVE"), ("DEBUG", "SLEEP", "0"), ("MODULE", "LIST"),
                     ("EVAL", "return 1", "0"), ("KEYS", "*"), ("SLOWLOG", "GET"),
                     ("CONFIG", "GET", "maxmemory"), ("REPLICAOF", "NO", "ONE"),
                     ("ACL", "SETUSER", "x")):
            with pytest.raises(WriterRefused, match="not permitted from mcp-ops at any risk"):
                await writer.command(*argv)
    assert await client.get(prefix + "keep") == "1"  # nothing was flushed


async def test_config_set_only_on_its_parameters(client):
    writer = RedisWriter(client, risk="destructive")
    for argv in (("CONFIG", "SET", "appendonly", "no"), ("CONFIG", "SET", "dir", "/tmp"),
                 ("CONFIG", "SET", "maxmemory", "1gb", "requirepass", "x")):
        with pytest.raises(WriterRefused, match="allowed: maxmemory, maxmemory-policy, slowlog-"):
            await writer.command(*argv)
    with pytest.raises(WriterRefused, match="parameter/value pairs"):
        await writer.command("CONFIG", "SET", "maxmemory")
    with pytest.raises(WriterRefused, match="no Redis command"):
        await writer.command()
    with pytest.raises(ValueError, match="risk"):
        RedisWriter(client, risk="read")  # type: ignore[arg-type]


async def test_count_pattern(client, prefix):
    await fill(client, prefix + "cache:{}", 300, "x" * 100)
    await fill(client, prefix + "other:{}", 5)
    writer = RedisWriter(client, risk="change")
    exact = await writer.count_pattern(prefix + "cache:*", sample=1000)
    sampled = await writer.count_pattern(prefix + "cache:*", sample=20)
    keys, size = sampled
    assert exact.keys == keys == 300
    assert exact.bytes >= 300 * 100
    assert 0.5 * exact.bytes <= size <= 2 * exact.bytes  # an estimate from 20 keys
    assert await writer.count_pattern(prefix + "none:*") == (0, 0)


async def test_unlink_pattern_deletes_exactly_the_pattern_in_batches(client, prefix):
    await fill(client, prefix + "cache:{}", 1234)
    await fill(client, prefix + "keep:{}", 10)
    writer = RedisWriter(client, risk="change")
    counts = [n async for n in writer.unlink_pattern(prefix + "cache:*", batch=500)]
    assert counts[-1] == 1234
    assert counts == sorted(counts) and len(counts) >= 3
    assert all(b - a <= 500 for a, b in zip([0, *counts], counts, strict=False))
    assert [k async for k in client.scan_iter(match=prefix + "cache:*")] == []
    # a set: SCAN may return a key twice when the table is resized under it, as the
    # shrinking after 1,234 UNLINKs can do
    assert len({k async for k in client.scan_iter(match=prefix + "keep:*")}) == 10
    assert [n async for n in writer.unlink_pattern(prefix + "cache:*")] == [0]


async def test_a_pattern_matching_everything_is_a_flushdb(client, prefix):
    await client.set(prefix + "keep", "1")
    writer = RedisWriter(client, risk="change")
    for pattern in ("*", "**", "?*"):
        with pytest.raises(WriterRefused, match="needs a destructive step"):
            async for _ in writer.unlink_pattern(pattern):
                pass
    with pytest.raises(ValueError, match="empty"):
        async for _ in writer.unlink_pattern(""):
            pass
    assert await client.get(prefix + "keep") == "1"
