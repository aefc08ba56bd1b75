"""Redis commands a granted step may send, by an allow-list per risk.

A ``change`` step may delete or expire keys, set a key, tune a few settings (``CONFIG SET``
of ``maxmemory``, ``maxmemory-policy`` and ``slowlog-*`` only), reset the slow log and purge
allocator memory. A ``destructive`` step may also ``FLUSHDB`` (the runbook's last resort for
a cache gone bad). Nothing else is ever sent: ``FLUSHALL`` (every database of the server),
``CONFIG REWRITE``, ``SHUTDOWN``, ``DEBUG``, ``MODULE``, scripts, replication and ACL
commands are refused whatever the risk, with a :class:`WriterRefused` that names the command
and what it would need.

:meth:`RedisWriter.unlink_pattern` deletes the keys matching a pattern without blocking the
server: ``SCAN`` in pages and ``UNLINK`` (freed in the background) in batches, yielding the
running count; a pattern made only of wildcards would delete the whole database and is
refused below ``destructive``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .errors import WriterRefused

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["ALLOWED", "PatternSize", "RedisWriter", "Risk"]

Risk = Literal["change", "destructive"]
RISKS: tuple[Risk, ...] = ("change", "destructive")

# command -> (the lowest risk that may send it, allowed sub-commands or None for any arguments)
ALLOWED: dict[str, tuple[Risk, frozenset[str] | None]] = {
    "DEL": ("change", None),
    "UNLINK": ("change", None),
    "EXPIRE": ("change", None),
    "PEXPIRE": ("change", None),
    "PERSIST": ("change", None),
    "SET": ("change", None),
    "CONFIG": ("change", frozenset({"SET"})),
    "SLOWLOG": ("change", frozenset({"RESET"})),
    "MEMORY": ("change", frozenset({"PURGE"})),
    "FLUSHDB": ("destructive", None),
}
CONFIG_PARAMETERS = frozenset({"maxmemory", "maxmemory-policy"})
CONFIG_PREFIXES = ("slowlog-",)


class PatternSize(NamedTuple):
    keys: int  # counted exactly by SCAN
    bytes: int  # MEMORY USAGE of a sample, scaled to every key: an estimate


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


class RedisWriter:
    """Redis commands by an allow-list; ``risk`` is the step's risk level."""

    def __init__(self, client: redis.asyncio.Redis, *, risk: Risk) -> None:
        if risk not in RISKS:
            raise ValueError(f"risk {risk!r} is not one of {', '.join(RISKS)}")
        self._client = client
        self.risk: Risk = risk

    def __repr__(self) -> str:
        return f"<RedisWriter risk={self.risk}>"

    def check(self, *args: Any) -> None:
        """Raise :class:`WriterRefused` unless ``args`` may be sent at this risk."""
        if not args:
            raise WriterRefused("no Redis command given")
        name = _text(args[0]).upper()
        rule = ALLOWED.get(name)
        sub = _text(args[1]).upper() if len(args) > 1 else ""
        if rule is None or (rule[1] is not None and sub not in rule[1]):
            shown = f"{name} {sub}".strip() if rule is not None else name
            raise WriterRefused(f"Redis {shown} is not permitted from mcp-ops at any risk "
                                "(not on the allow-list)")
        needed, _subs = rule
        if RISKS.index(self.risk) < RISKS.index(needed):
            raise WriterRefused(f"Redis {name} needs a {needed} step; this step is {self.risk}")
        if name == "CONFIG":
            params = args[2::2]
            if not params or len(args[2:]) % 2:
                raise WriterRefused("CONFIG SET needs parameter/value pairs")
            for param in (_text(p).lower() for p in params):
                if param not in CONFIG_PARAMETERS and not param.startswith(CONFIG_PREFIXES):
                    raise WriterRefused(
                        f"CONFIG SET {param} is not permitted; allowed: maxmemory, "
                        "maxmemory-policy, slowlog-*")

    async def command(self, *args: Any) -> Any:
        """Send one allowed command; its reply."""
        self.check(*args)
        return await self._client.execute_command(*args)

    def _check_pattern(self, pattern: str) -> None:
        if not pattern:
            raise ValueError("empty key pattern")
        if set(pattern) <= {"*", "?"} and self.risk != "destructive":
            raise WriterRefused(f"pattern {pattern!r} matches every key: that is FLUSHDB, "
                                "which needs a destructive step")

    async def _scan(self, pattern: str, count: int) -> AsyncIterator[Sequence[Any]]:
        cursor: Any = 0
        while True:
            cursor, keys = await self._client.scan(cursor=cursor, match=pattern, count=count)
            if keys:
                yield keys
            if int(cursor) == 0:
                return

    async def count_pattern(self, pattern: str, *, sample: int = 200,
                            count: int = 1000) -> PatternSize:
        """Keys matching ``pattern`` (SCAN: exact, except that SCAN may return a key twice
        when the keyspace is resized during the scan) and their memory (``MEMORY USAGE`` of
        up to ``sample`` of them, scaled up: an estimate)."""
        if not pattern:
            raise ValueError("empty key pattern")
        keys = sampled = used = 0
        async for page in self._scan(pattern, count):
            keys += len(page)
            for key in page[: max(0, sample - sampled)]:
                usage = await self._client.memory_usage(key)
                if usage is not None:  # the key may have expired since SCAN saw it
                    used += int(usage)
                    sampled += 1
        size = used if sampled >= keys or not sampled else round(used / sampled * keys)
        return PatternSize(keys, size)

    async def unlink_pattern(self, pattern: str, *, batch: int = 500) -> AsyncIterator[int]:
        """``UNLINK`` every key matching ``pattern``, ``batch`` keys at a time; yields the
        running count of keys removed after each batch (at least once)."""
        self._check_pattern(pattern)
        self.check("UNLINK")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        removed = 0
        pending: list[Any] = []
        yielded = False
        async for page in self._scan(pattern, batch):
            pending.extend(page)
            while len(pending) >= batch:
                chunk, pending = pending[:batch], pending[batch:]
                removed += int(await self._client.unlink(*chunk))
                yielded = True
                yield removed
        if pending:
            removed += int(await self._client.unlink(*pending))
            yielded = True
            yield removed
        if not yielded:
            yield removed
