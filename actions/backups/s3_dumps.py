"""The database dumps in S3: every key under the configured prefix, and one dump as a stream.

Listing uses the same aioboto3 session and client settings as the backups collector
(``console.sources.aws``), but pages through *every* object: the collector keeps the ten
newest for the dashboard, while an operator restoring may need last month's. Reading
streams the object in chunks so a dump of any size goes to the recovery pod without being
held in memory or written to local disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from console.sources import aws

CHUNK = 256 * 1024


@dataclass(frozen=True)
class Dump:
    key: str
    size: int
    modified: datetime

    def age_hours(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.modified).total_seconds() / 3600


def human_size(n: float) -> str:
    """Sizes as ``aws s3 ls --human-readable`` prints them (1024-based, one decimal)."""
    for unit in ("Bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "Bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} Bytes"


def human_age(hours: float | None) -> str:
    if hours is None:
        return "?"
    if hours < 1:
        return f"{max(0, round(hours * 60))}m"
    if hours < 48:
        return f"{hours:.1f}h"
    return f"{hours / 24:.1f}d"


def _client(ctx: Any, timeout: float = 10.0) -> Any:
    settings = ctx.env.aws
    return aws.session(settings).client("s3", **aws.client_kwargs(settings, timeout=timeout))


async def list_dumps(ctx: Any) -> list[Dump]:
    """Every object under the prefix, newest first."""
    settings = ctx.env.aws
    dumps: list[Dump] = []
    async with _client(ctx) as s3:
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=settings.s3_backup_bucket,
                                             Prefix=settings.s3_backup_prefix):
            dumps += [Dump(o["Key"], int(o.get("Size", 0)), o["LastModified"])
                      for o in page.get("Contents", [])]
    dumps.sort(key=lambda d: (d.modified, d.key), reverse=True)
    return dumps


async def dump_keys(ctx: Any) -> list[str]:
    """The choices for "which dump": cached per run so the form and the check agree."""
    cache = getattr(ctx, "cache", None)
    if isinstance(cache, dict) and "s3.dumps" in cache:
        return [d.key for d in cache["s3.dumps"]]
    dumps = await list_dumps(ctx)
    if isinstance(cache, dict):
        cache["s3.dumps"] = dumps
    return [d.key for d in dumps]


async def newest_key(ctx: Any) -> str | None:
    keys = await dump_keys(ctx)
    return keys[0] if keys else None


class DumpStream:
    """One object's bytes, chunk by chunk; ``size`` is known once opened."""

    def __init__(self, ctx: Any, key: str):
        self.ctx, self.key = ctx, key
        self.size: int | None = None

    async def __aenter__(self) -> DumpStream:
        self._client_cm = _client(self.ctx, timeout=60.0)
        self._s3 = await self._client_cm.__aenter__()
        try:
            head = await self._s3.head_object(Bucket=self.ctx.env.aws.s3_backup_bucket,
                                              Key=self.key)
        except BaseException:
            await self._client_cm.__aexit__(None, None, None)
            raise
        self.size = int(head.get("ContentLength", 0))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._client_cm.__aexit__(*exc)

    async def chunks(self) -> AsyncIterator[bytes]:
        response = await self._s3.get_object(Bucket=self.ctx.env.aws.s3_backup_bucket,
                                             Key=self.key)
        body = response["Body"]
        try:
            while chunk := await body.read(CHUNK):
                yield chunk
        finally:
            body.close()
