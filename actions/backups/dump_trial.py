"""A trial restore of a dump into a scratch database: the only proof a dump restores, and the
restore part of the RTO.

On the scratch server the operator names (``trial_restore``: a ``postgresql://`` URL
without password, never the primary), a database ``mcp_ops_trial_<random>`` is created,
the dump is restored into it with the options db-pitr uses (``--no-owner --no-acl``, one
transaction, stop at the first error), the key tables are counted, and the database is
dropped again whatever happened. The restore is timed on its own: that figure is how long
the restore part of a real recovery takes for a dump of this size.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.process import Process

from ..library.units import human_size
from .dump_check import IDENTIFIER, downloaded

TRIAL_OPTIONS = ("--no-owner", "--no-acl", "--single-transaction", "--exit-on-error")


@dataclass(frozen=True)
class ScratchServerInput(Input):
    """A ``postgresql://`` URL of a scratch server (no password; ``~/.pgpass`` or
    ``PGPASSWORD`` supply it), or empty for no trial restore."""

    kind: str = field(default="postgresql:// URL", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        text = (await super().convert(text, ctx)).strip()
        if not text:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
            raise InputError(f"{text!r} is not a postgresql://host/... URL")
        if parts.password:
            raise InputError("no password in the URL: use ~/.pgpass or PGPASSWORD")
        if ctx is not None and _same_server(text, ctx.env.postgres.dsn):
            raise InputError("that is the primary's server: a trial restore needs a scratch one")
        return text


def _same_server(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.hostname, pa.port or 5432, pa.path) == (pb.hostname, pb.port or 5432, pb.path)


TRIAL = ScratchServerInput(
    "trial_restore", "Trial restore on this scratch server (empty: none)", default="",
    required=False,
    help="A postgresql:// URL of a scratch PostgreSQL server, never the primary. A database "
         "is created there, the dump restored and counted, the database dropped; the restore "
         "time is the restore part of the RTO.")


def with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def quoted(table: str) -> str:
    if not IDENTIFIER.match(table):
        raise ValueError(f"{table!r} is not a table name")
    return ".".join(f'"{part}"' for part in table.split("."))


@dataclass
class TrialResult:
    restored: bool = False
    seconds: float = 0.0
    counts: dict[str, int | str] = field(default_factory=dict)
    error: str = ""


async def _lines(process: Process) -> AsyncIterator[str]:
    async for line in process:
        yield line.text


async def trial_restore(ctx: StepContext, key: str, size: int, server: str,
                        tables: Sequence[str], result: TrialResult) -> AsyncIterator[str]:
    """Yields what happens; fills ``result``."""
    scratch = f"mcp_ops_trial_{uuid.uuid4().hex[:10]}"
    target = with_database(server, scratch)
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    async with downloaded(ctx, key) as path:
        create = ctx.mutations.process([*psql, "-d", server, "-c", f'CREATE DATABASE "{scratch}"'])
        async for text in _lines(create):
            yield text
        if not (create.result and create.result.ok):
            result.error = f"could not create the scratch database {scratch}"
            yield result.error
            return
        yield f"scratch database {scratch} created"
        try:
            started = time.monotonic()
            restore = ctx.mutations.process(["pg_restore", *TRIAL_OPTIONS, "-d", target,
                                             str(path)])
            errors = [text async for text in _lines(restore)]
            result.seconds = time.monotonic() - started
            for text in errors[-5:]:
                yield f"  {text}"
            if not (restore.result and restore.result.ok):
                result.error = (f"pg_restore failed after {result.seconds:.1f}s: "
                                + (errors[-1] if errors else "no message"))
                yield result.error
                return
            result.restored = True
            yield (f"restored {human_size(size)} in {result.seconds:.1f}s — the restore part "
                   f"of the RTO for this dump")
            for table in tables:
                count = ctx.mutations.process([*psql, "-A", "-t", "-d", target, "-c",
                                               f"SELECT count(*) FROM {quoted(table)}"])
                out = [text async for text in _lines(count)]
                ok = count.result is not None and count.result.ok and out
                result.counts[table] = int(out[-1]) if ok and out[-1].isdigit() else \
                    (out[-1] if out else "unreadable")
                yield f"  {table}: {result.counts[table]} rows"
        finally:
            drop = ctx.mutations.process([*psql, "-d", server, "-c",
                                          f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'])
            async for text in _lines(drop):
                yield text
            yield (f"scratch database {scratch} dropped" if drop.result and drop.result.ok
                   else f"could not drop {scratch}: drop it by hand")
