"""``troubleshoot-redis`` on the real Redis (a database index of its own, keys under a
prefix of this test's): the pattern holding the memory is found by SCAN and named, deleted
with SCAN + UNLINK in batches while the working set stays; FLUSHDB refuses to run without
the environment's name typed.
"""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
import servers
from conftest import cli, drive

pytestmark = pytest.mark.timeout(180)
DB = 13


@pytest.fixture
async def cache(world):
    text = world.config_path.read_text().replace(f"{servers.REDIS_PORT}/0", f"{servers.REDIS_PORT}/{DB}")
    world.config_path.write_text(text)
    prefix = f"wzalerts-{uuid.uuid4().hex[:6]}"
    client = aioredis.Redis(host="127.0.0.1", port=servers.REDIS_PORT, db=DB)
    pipe = client.pipeline(transaction=False)
    for i in range(1200):
        pipe.set(f"{prefix}:export:20261206:{i}", b"p" * 4096)
    for i in range(200):
        pipe.set(f"{prefix}:resp:{i}", b"r" * 100, ex=3600)
    await pipe.execute()
    try:
        yield prefix, client
    finally:
        async for key in client.scan_iter(f"{prefix}:*", count=1000):
            await client.unlink(key)
        await client.aclose()


async def count(client, pattern: str) -> int:
    """Distinct keys: SCAN may return one twice when the table is resized under it."""
    return len({k async for k in client.scan_iter(pattern, count=1000)})


async def test_read_only_names_the_pattern_and_stops_at_the_unlink(world, cache):
    prefix, _ = cache
    out = await cli(world.config_path, "run", "troubleshoot-redis", "--env", "sandbox",
                    "--read-only", "--set", "remedy=unlink-pattern")
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"pattern {prefix}:export:*: 1200 keys" in out.stdout
    assert "1200 of 50 sampled" not in out.stdout and "50 of 50 sampled without TTL" in out.stdout
    assert "unlink-pattern" in out.stdout and "read-only mode" in out.stdout


async def test_the_pattern_is_unlinked_in_batches_and_the_working_set_stays(world, cache):
    prefix, client = cache
    driven = await drive(world, "troubleshoot-redis", {"remedy": "unlink-pattern",
                                                       "batch": "100"})
    text = driven.text()
    assert driven.statuses["unlink-pattern"] == "ok", text
    assert driven.statuses["flushdb"] == "skipped"
    assert f"{prefix}:export:*: 1200 keys" in text and "1200 keys unlinked" in text
    assert [p.done for p in driven.progress if p.label == "keys unlinked"][:3] == [100, 200, 300]
    assert await count(client, f"{prefix}:export:*") == 0
    assert await count(client, f"{prefix}:resp:*") == 200
    [note] = [r["data"] for r in driven.records("note") if "pattern" in r["data"]]
    assert note["keys"] == 1200 and note["pattern"] == f"{prefix}:export:*"


async def test_flushdb_is_refused_without_the_typed_name(world, cache):
    prefix, client = cache
    driven = await drive(world, "troubleshoot-redis", {"remedy": "flushdb"})
    assert driven.statuses["flushdb"] == "failed"
    assert "--set flushdb_confirm=sandbox" in driven.outcomes["flushdb"].error
    assert await count(client, f"{prefix}:*") == 1400


async def test_a_pattern_of_wildcards_only_is_refused_as_an_input(world, cache):
    driven = await drive(world, "troubleshoot-redis", {"remedy": "unlink-pattern",
                                                       "pattern": "*"})
    assert driven.problems and "FLUSHDB" in str(driven.problems)
