"""The database dumps in S3: every key under the configured prefix, and one dump as a stream.

Read through the run's AWS reader (``ctx.aws()``), which pages through *every* object: the
backups collector keeps the ten newest for the dashboard, while an operator restoring may
need last month's. Reading streams the object in chunks so a dump of any size goes to the
recovery pod without being held in memory or written to local disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from console.execution.context import StepContext

from ..library.units import human_age, human_size

__all__ = ["Dump", "DumpStream", "dump_keys", "human_age", "human_size", "list_dumps",
           "newest_key"]
CHUNK = 256 * 1024
EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Dump:
    key: str
    size: int
    modified: datetime

    def age_hours(self, now: datetime | None = None) -> float:
        return ((now or datetime.now(UTC)) - self.modified).total_seconds() / 3600


async def list_dumps(ctx: StepContext) -> list[Dump]:
    """Every object under the prefix, newest first (same second: by the dated key)."""
    a = ctx.env.aws
    objects = await (await ctx.aws()).list_objects(a.s3_backup_bucket, a.s3_backup_prefix)
    dumps = [Dump(o.key, o.size, o.last_modified or EPOCH) for o in objects]
    dumps.sort(key=lambda d: (d.modified, d.key), reverse=True)
    return dumps


async def dump_keys(ctx: StepContext) -> list[str]:
    """The choices for "which dump": cached per run so the form and the check agree."""
    if "s3.dumps" not in ctx.cache:
        ctx.cache["s3.dumps"] = await list_dumps(ctx)
    dumps: list[Dump] = ctx.cache["s3.dumps"]
    return [d.key for d in dumps]


async def newest_key(ctx: StepContext) -> str | None:
    keys = await dump_keys(ctx)
    return keys[0] if keys else None


class DumpStream:
    """One object's bytes, chunk by chunk; ``size`` is known once entered."""

    def __init__(self, ctx: StepContext, key: str):
        self.ctx, self.key = ctx, key
        self.bucket = ctx.env.aws.s3_backup_bucket
        self.size: int | None = None

    async def __aenter__(self) -> DumpStream:
        await self.find_size()
        return self

    async def find_size(self) -> int:
        """The object's size in bytes (a HEAD), also kept in ``size``."""
        self.size = (await (await self.ctx.aws()).head_object(self.bucket, self.key)).size
        return self.size

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def chunks(self) -> AsyncIterator[bytes]:
        async for chunk in (await self.ctx.aws()).stream_object(self.bucket, self.key, CHUNK):
            yield chunk
