"""The PostgreSQL framing guard (console/sources/pg_framing.py): what a real server sends
passes, however the socket cuts it; a header no server sends is caught wherever it falls.
The guard on a live connection, faulted by a proxy, is in tests/reliability/
test_fault_matrix.py (the dashboard's panel and the query's error)."""

from __future__ import annotations

import asyncio
import random
import struct

import asyncpg
import pytest
import servers

from console.sources import pg_framing
from console.sources.pg_framing import FrameWalker


def message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", 4 + len(body)) + body


def cuts(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` in chunks as a socket might deliver it: single bytes, cut headers, many
    messages at once."""
    chunks, at = [], 0
    while at < len(data):
        size = rng.choice((1, 2, 3, 4, 5, 6, rng.randint(1, 64), rng.randint(1, 4096)))
        chunks.append(data[at:at + size])
        at += size
    return chunks


def stream(rng: random.Random, count: int) -> bytes:
    kinds = b"RSKZTDCEN1234nst"
    return b"".join(message(bytes([rng.choice(kinds)]), rng.randbytes(rng.choice(
        (0, 0, 1, 5, rng.randint(0, 300), rng.randint(0, 70_000))))) for _ in range(count))


def walk(chunks: list[bytes]) -> str | None:
    walker = FrameWalker()
    for chunk in chunks:
        if problem := walker.feed(chunk):
            return problem
    return None


def test_valid_streams_pass_however_they_are_cut():
    rng = random.Random(18)
    for _ in range(300):
        data = stream(rng, rng.randint(1, 40))
        assert walk(cuts(data, rng)) is None


@pytest.mark.parametrize("length", [-124069, -1, 0, 3])
def test_a_length_below_four_is_caught_wherever_the_cuts_fall(length):
    rng = random.Random(length)
    for _ in range(200):
        good = stream(rng, rng.randint(0, 10))
        bad = b"\x00" + struct.pack("!i", length)
        problem = walk(cuts(good + bad + stream(rng, 2), rng))
        assert problem is not None
        assert f"type 0x00 with length {length}," in problem
        assert "does not speak PostgreSQL" in problem


def test_the_bytes_after_a_valid_message_are_its_successor_not_its_body():
    # a body holding what would be a bad header is data, not a header
    assert walk([message(b"D", b"\x00\xff\xff\xff\xff" * 3), message(b"Z", b"I")]) is None
    # the body's length is counted across chunks: two body bytes, then a bad header
    body_then_bad = [b"D" + struct.pack("!i", 4 + 2) + b"\x00", b"\x01" + b"Z" +
                     struct.pack("!i", 2)]
    assert "type Z with length 2," in walk(body_then_bad)
    # one body byte more, and the same bytes are a body and a good header
    assert walk([b"D" + struct.pack("!i", 4 + 3) + b"\x00", b"\x01Z" + struct.pack("!i", 2)
                 + b"\x00\x00\x00\x04"]) is None


async def test_a_real_server_session_passes_through_the_guard():
    """A real PostgreSQL's start-up, authentication, a large result and an error pass."""
    pg_framing.install()
    assert issubclass(asyncpg.protocol.Protocol, pg_framing.GuardedProtocol)
    conn = await asyncpg.connect(servers.pg_dsn(), timeout=5)
    try:
        rows = await conn.fetch("SELECT g, repeat('x', g % 5000) FROM generate_series(1, 20000) g")
        assert len(rows) == 20000 and rows[-1][0] == 20000
        with pytest.raises(asyncpg.UndefinedTableError):
            await conn.fetch("SELECT * FROM no_such_table_here")
        assert await asyncio.wait_for(conn.fetchval("SELECT 40 + 2"), 5) == 42
    finally:
        await conn.close()
