"""Is a dump in S3 one that would restore? Checked with the real ``pg_restore``, read only.

A dump only being non-empty proves little: a dump cut off by a failed upload still has its
table of contents at the start, so ``pg_restore --list`` alone succeeds on it. The check
therefore reads it three ways, each a line of the verdict:

1. size against its predecessors (the median of up to seven earlier, non-empty dumps): a
   dump below ``PLAUSIBLE_FRACTION`` of it is implausible — databases do not halve overnight;
2. ``pg_restore --list``: the archive's table of contents is readable, and every expected
   table has its ``TABLE DATA`` entry (the extensions it needs are collected too);
3. ``pg_restore --file=/dev/null``: every data block is read to its end, which is where a
   truncated dump fails ("could not read from input file: end of file").

The object is downloaded through the run's AWS reader into a private temporary file (the
archive format needs a seekable file) and removed afterwards.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.process import Process

from ..library.units import human_size
from .s3_dumps import CHUNK, Dump

PLAUSIBLE_FRACTION = 0.5
PREDECESSORS = 7
DEFAULT_TABLES = "critical_table"
TOC_ENTRY = re.compile(r"^\d+; \d+ \d+ (?P<desc>TABLE DATA|EXTENSION|TABLE|SCHEMA) "
                       r"(?P<schema>\S+) (?P<name>\S+)")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


def table_names(text: str | None) -> list[str]:
    """``"a, public.b"`` -> ``["a", "public.b"]``; names only (they reach SQL as text)."""
    names = [t.strip() for t in (text or DEFAULT_TABLES).replace(";", ",").split(",")]
    return [t for t in names if t]


@dataclass
class DumpCheck:
    key: str
    size: int
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)  # schema.name with TABLE DATA
    extensions: list[str] = field(default_factory=list)
    entries: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def verdict(self) -> str:
        if self.problems:
            return f"dump {self.key}: " + "; ".join(self.problems)
        return (f"dump {self.key} ({human_size(self.size)}) reads to its end: {self.entries} "
                f"entries, {len(self.tables)} tables with data")


def plausible_size(dump: Dump, others: Sequence[Dump]) -> tuple[bool, str]:
    """Against the median of the earlier non-empty dumps (newest first in ``others``)."""
    if dump.size == 0:
        return False, "empty file (0 bytes)"
    earlier = [d.size for d in others if d.modified <= dump.modified and d.key != dump.key
               and d.size > 0][:PREDECESSORS]
    if not earlier:
        return True, f"{human_size(dump.size)}; no earlier dump to compare with"
    median = statistics.median(earlier)
    shown = (f"{human_size(dump.size)} against a median of {human_size(int(median))} over "
             f"the {len(earlier)} earlier dump{'s' if len(earlier) > 1 else ''}")
    if dump.size < PLAUSIBLE_FRACTION * median:
        return False, f"implausibly small: {shown}"
    return True, shown


@asynccontextmanager
async def downloaded(ctx: StepContext, key: str) -> AsyncIterator[Path]:
    """The object in a private temporary file, removed on the way out."""
    with tempfile.TemporaryDirectory(prefix="mcp-ops-dump-") as tmp:
        path = Path(tmp) / "dump"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            async for chunk in (await ctx.aws()).stream_object(ctx.env.aws.s3_backup_bucket,
                                                               key, CHUNK):
                out.write(chunk)
        yield path


async def _run(process: Process) -> tuple[int | None, list[str], list[str]]:
    out: list[str] = []
    err: list[str] = []
    async for line in process:
        (out if line.stream == "stdout" else err).append(line.text)
    assert process.result is not None
    return process.result.returncode, out, err


def read_toc(check: DumpCheck, listing: Sequence[str]) -> None:
    for line in listing:
        if not line or line.startswith(";"):
            continue
        check.entries += 1
        m = TOC_ENTRY.match(line)
        if m is None:
            continue
        if m["desc"] == "TABLE DATA":
            check.tables.append(f"{m['schema']}.{m['name']}")
        elif m["desc"] == "EXTENSION":
            check.extensions.append(m["name"])


def missing_tables(check: DumpCheck, expected: Sequence[str]) -> list[str]:
    have = set(check.tables) | {t.split(".", 1)[1] for t in check.tables}
    return [t for t in expected if t not in have]


async def check_dump(ctx: StepContext, dump: Dump, others: Sequence[Dump],
                     expected: Sequence[str]) -> DumpCheck:
    """The three readings of ``dump`` (see the module); ``others``: the listing."""
    check = DumpCheck(dump.key, dump.size)
    fits, why = plausible_size(dump, others)
    check.lines.append(f"size: {why}")
    if not fits:
        check.problems.append(why)
        return check  # an empty or cut file: nothing more to read
    async with downloaded(ctx, dump.key) as path:
        started = time.monotonic()
        code, listing, err = await _run(ctx.read_process(["pg_restore", "--list", str(path)]))
        if code != 0:
            check.problems.append(f"pg_restore --list failed (exit {code}): "
                                  + (err[-1] if err else "no message"))
            return check
        read_toc(check, listing)
        check.lines.append(f"pg_restore --list: {check.entries} entries, tables with data: "
                           + (", ".join(check.tables) or "none")
                           + (f"; extensions: {', '.join(check.extensions)}"
                              if check.extensions else ""))
        missing = missing_tables(check, expected)
        if missing:
            check.problems.append("expected tables missing: " + ", ".join(missing))
        code, _, err = await _run(ctx.read_process(["pg_restore", "--file=/dev/null",
                                                    str(path)]))
        seconds = time.monotonic() - started
        if code != 0:
            check.problems.append(f"does not read to its end (pg_restore exit {code}): "
                                  + (err[-1] if err else "no message"))
        else:
            check.lines.append(f"pg_restore read every data block in {seconds:.1f}s")
    return check


@dataclass(frozen=True)
class TablesInput(Input):
    """Comma-separated table names (``name`` or ``schema.name``)."""

    kind: str = field(default="table names", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        text = await super().convert(text, ctx)
        names = table_names(text)
        bad = [t for t in names if not IDENTIFIER.match(t)]
        if not names or bad:
            raise InputError(f"not table names: {', '.join(bad) or text!r}")
        return ", ".join(names)


TABLES = TablesInput(
    "expected_tables", "Tables the dump must hold (and that are counted)",
    default=DEFAULT_TABLES, help="Comma-separated; each must have its data in the dump.")
