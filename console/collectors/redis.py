"""Redis collector: INFO, SLOWLOG GET 10 and SLOWLOG LEN in one pipelined round trip.

Rates (hit rate between polls, evictions/s, ops/s) need two readings; the collector keeps
the previous counters and the monotonic time they were read. On the first poll it reports
the totals since the server started and Redis's own instantaneous ops/s. ``evicting_seconds``
says how long evictions have been seen without a break, so a rule can tell a blip from
sustained eviction.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from console.config.model import RedisSettings
from console.sources import redis as source

from .base import Snapshot, describe_error, utcnow

INFO_KEYS = (
    "redis_version", "role", "uptime_in_seconds", "used_memory", "used_memory_human",
    "used_memory_peak_human", "maxmemory", "maxmemory_human", "maxmemory_policy",
    "mem_fragmentation_ratio", "connected_clients", "blocked_clients", "keyspace_hits",
    "keyspace_misses", "evicted_keys", "expired_keys", "total_commands_processed",
    "instantaneous_ops_per_sec", "connected_slaves", "master_host", "master_port",
    "master_link_status", "master_last_io_seconds_ago", "rejected_connections",
)


@dataclass(frozen=True, kw_only=True)
class SlowEntry:
    id: int
    started: int  # unix time
    duration_us: int
    command: str
    client: str = ""


@dataclass(frozen=True, kw_only=True)
class RedisSnapshot(Snapshot):
    version: str = ""
    role: str = ""
    used_memory: int = 0
    maxmemory: int = 0
    maxmemory_policy: str = ""
    keyspace_hits: int = 0
    keyspace_misses: int = 0
    hit_rate_pct: float | None = None  # since the server started
    recent_hit_rate_pct: float | None = None  # between the last two polls
    evicted_keys: int = 0
    evictions_per_sec: float | None = None
    evicting_seconds: float = 0.0
    ops_per_sec: float | None = None
    connected_clients: int = 0
    blocked_clients: int = 0
    connected_replicas: int = 0
    master_link_status: str = ""  # on a replica: up / down
    slowlog: tuple[SlowEntry, ...] = ()
    slowlog_len: int = 0
    info: tuple[tuple[str, str], ...] = ()  # the INFO fields above, for the drill-down

    @property
    def memory_pct(self) -> float | None:
        return 100.0 * self.used_memory / self.maxmemory if self.maxmemory else None

    @property
    def slowest_us(self) -> int:
        return max((e.duration_us for e in self.slowlog), default=0)


@dataclass(frozen=True)
class _Reading:
    at: float
    hits: int
    misses: int
    evicted: int
    commands: int


class RedisCollector:
    def __init__(self, settings: RedisSettings, *, timeout: float = 3.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._client: Any = None
        self._last: _Reading | None = None
        self._evicting_since: float | None = None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def collect(self) -> RedisSnapshot:
        try:
            return await self._collect()
        except asyncio.CancelledError:
            await self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a snapshot
            await self.close()
            return RedisSnapshot.failed(describe_error(exc))

    async def _collect(self) -> RedisSnapshot:
        if self._client is None:
            self._client = source.client(self.settings, timeout=self.timeout)
        pipe = self._client.pipeline(transaction=False)
        pipe.info("all")
        pipe.slowlog_get(10)
        pipe.slowlog_len()
        info, slowlog, slowlog_len = await pipe.execute()
        now = time.monotonic()
        reading = _Reading(now, _int(info, "keyspace_hits"), _int(info, "keyspace_misses"),
                           _int(info, "evicted_keys"), _int(info, "total_commands_processed"))
        recent_hit = evictions = ops = None
        prev = self._last
        if prev is not None and now > prev.at:
            dt = now - prev.at
            recent_hit = _ratio(reading.hits - prev.hits, reading.misses - prev.misses)
            evictions = max(0, reading.evicted - prev.evicted) / dt
            ops = max(0, reading.commands - prev.commands) / dt
        else:
            ops = float(_int(info, "instantaneous_ops_per_sec"))
        self._last = reading
        if evictions:
            self._evicting_since = self._evicting_since or (prev.at if prev else now)
        elif evictions == 0:
            self._evicting_since = None
        return RedisSnapshot(
            collected_at=utcnow(),
            version=str(info.get("redis_version", "")),
            role=str(info.get("role", "")),
            used_memory=_int(info, "used_memory"),
            maxmemory=_int(info, "maxmemory"),
            maxmemory_policy=str(info.get("maxmemory_policy", "")),
            keyspace_hits=reading.hits,
            keyspace_misses=reading.misses,
            hit_rate_pct=_ratio(reading.hits, reading.misses),
            recent_hit_rate_pct=recent_hit,
            evicted_keys=reading.evicted,
            evictions_per_sec=evictions,
            evicting_seconds=(now - self._evicting_since) if self._evicting_since else 0.0,
            ops_per_sec=ops,
            connected_clients=_int(info, "connected_clients"),
            blocked_clients=_int(info, "blocked_clients"),
            connected_replicas=_int(info, "connected_slaves"),
            master_link_status=str(info.get("master_link_status", "")),
            slowlog=tuple(_slow(e) for e in slowlog),
            slowlog_len=int(slowlog_len),
            info=tuple((k, str(info[k])) for k in INFO_KEYS if k in info),
        )


def _int(info: dict, key: str) -> int:
    try:
        return int(info.get(key, 0))
    except (TypeError, ValueError):
        return 0


def _ratio(hits: int, misses: int) -> float | None:
    total = hits + misses
    return 100.0 * hits / total if total > 0 else None


def _slow(entry: dict) -> SlowEntry:
    command = entry.get("command", "")
    if isinstance(command, bytes | list | tuple):
        parts = command if isinstance(command, list | tuple) else [command]
        command = " ".join(p.decode(errors="replace") if isinstance(p, bytes) else str(p)
                           for p in parts)
    return SlowEntry(id=int(entry.get("id", 0)), started=int(entry.get("start_time", 0)),
                     duration_us=int(entry.get("duration", 0)), command=str(command)[:200],
                     client=str(entry.get("client_address", "") or ""))
