"""Database maintenance: VACUUM ANALYZE of the application's tables, with progress.

The runbook runs ``kubectl exec deployment/postgres-production-primary -- psql -c "VACUUM
ANALYZE;"``: a bare ``psql`` in the pod connects as whatever role the container's user maps
to, to a database of the same name, and a database-wide VACUUM skips (with a warning) every
table that role does not own. Here each application table is vacuumed by name on the
configured primary, outside a transaction (VACUUM cannot run in one), with progress from
``pg_stat_progress_vacuum``, and checked afterwards in ``pg_stat_user_tables``
(``last_vacuum``, ``last_analyze``).

It then runs ``SELECT pg_stat_reset();`` calling it "update statistics". It is not: it
*erases* the database's cumulative statistics — the dead-tuple and modification counters
autovacuum uses to decide when to vacuum and analyze (so autovacuum goes blind until they
build up again), and the sequential/index scan counts the weekly performance review reads.
The planner's statistics are what ANALYZE just updated. So the reset is a separate,
destructive, off-by-default step that runs only when asked for (``reset_statistics=yes``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from console.execution.context import StepContext
from console.execution.inputs import BoolInput, Input, InputError
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput
from console.execution.writers.sql import SqlWriter, VacuumProgress, validate_identifier

USER_TABLES = ("SELECT schemaname || '.' || relname FROM pg_stat_user_tables "
               "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
               "ORDER BY schemaname, relname")
TABLE_STATS = ("SELECT schemaname || '.' || relname AS name, last_vacuum, last_analyze "
               "FROM pg_stat_user_tables WHERE schemaname || '.' || relname = ANY($1::text[])")
STARTED = "maintenance.vacuum_started"


async def application_tables(ctx: StepContext) -> list[str]:
    db = await ctx.postgres()
    return [str(r[0]) for r in await db.fetch(USER_TABLES)]


@dataclass(frozen=True)
class TablesInput(Input):
    """``all`` (every user table) or ``schema.table`` / ``table`` names, comma-separated."""

    kind: str = field(default="tables", init=False)

    async def options(self, ctx: StepContext) -> list[str]:
        return await application_tables(ctx)

    async def convert(self, text: str, ctx: StepContext) -> tuple[str, ...]:
        if text.strip().lower() == "all":
            tables = await self.options(ctx)
            if not tables:
                raise InputError("the database has no application table to vacuum")
            return tuple(tables)
        names = [p.strip() for p in text.split(",") if p.strip()]
        for name in names:
            try:
                validate_identifier(name, what="table")
            except ValueError as err:
                raise InputError(str(err)) from None
        known = await self.options(ctx)
        chosen = [n if "." in n else f"public.{n}" for n in names]
        unknown = [n for n in chosen if n not in known]
        if unknown:
            raise InputError(f"no such table: {', '.join(unknown)}")
        return tuple(dict.fromkeys(chosen))

    def show(self, value: object) -> str:
        return ",".join(value) if isinstance(value, tuple) else str(value or "")


TABLES = TablesInput("tables", "Tables to VACUUM ANALYZE", default="all",
                     help="all (every application table), or schema.table names")
RESET = BoolInput("reset_statistics", "Also reset the statistics counters (pg_stat_reset)",
                  default=False, required=False,
                  help="no (default). It wipes the counters autovacuum and the weekly "
                       "review rely on; it does NOT update planner statistics")


def _tables(ctx: StepContext) -> tuple[str, ...]:
    tables = ctx.values.get("tables")
    return tables if isinstance(tables, tuple) else ()


def _psql(ctx: StepContext, sql: str) -> str:
    url = urlsplit(ctx.env.postgres.dsn)
    return Plan.command("psql", "-h", url.hostname or "", "-p", str(url.port or 5432), "-U",
                        url.username or "", "-d", url.path.lstrip("/"), "-c", sql)


def plan_vacuum(ctx: StepContext) -> Plan:
    tables = _tables(ctx)
    return Plan(f"VACUUM (ANALYZE) each of {len(tables)} application tables on the primary, "
                "one at a time, outside a transaction, with progress from "
                "pg_stat_progress_vacuum; then check last_vacuum/last_analyze",
                tuple(_psql(ctx, SqlWriter.vacuum_sql(t)) for t in tables))


def _describe(p: VacuumProgress) -> str:
    blocks = (f", heap {p.heap_blks_scanned}/{p.heap_blks_total} blocks scanned"
              if p.heap_blks_total else "")
    return f"  {p.relation or '?'}: {p.phase}{blocks}"


async def run_vacuum(ctx: StepContext) -> AsyncIterator[StepOutput]:
    tables = _tables(ctx)
    writer = await ctx.mutations.sql()
    ctx.cache[STARTED] = datetime.now(UTC)
    for done, table in enumerate(tables):
        yield Progress(done, len(tables), "tables vacuumed")
        seen: asyncio.Queue[VacuumProgress] = asyncio.Queue()
        started = time.monotonic()
        task = asyncio.ensure_future(writer.vacuum(table, analyze=True,
                                                   progress=seen.put_nowait))
        last = None
        try:
            while not task.done() or not seen.empty():
                try:
                    row = await asyncio.wait_for(seen.get(), timeout=0.5)
                except TimeoutError:
                    continue
                shown = (row.phase, row.heap_blks_scanned)
                if shown != last:
                    last = shown
                    yield _describe(row)
                    if row.heap_blks_total:
                        yield Progress(done + (row.fraction or 0.0), len(tables),
                                       "tables vacuumed")
            status = await task
        finally:
            if not task.done():
                task.cancel()
        yield f"{SqlWriter.vacuum_sql(table)}: {status} ({time.monotonic() - started:.1f}s)"
    yield Progress(len(tables), len(tables), "tables vacuumed")


async def verify_vacuum(ctx: StepContext) -> str:
    tables = _tables(ctx)
    since = ctx.cache.get(STARTED)
    db = await ctx.postgres()
    rows = {str(r["name"]): r for r in await db.fetch(TABLE_STATS, list(tables))}
    stale = [t for t in tables if t not in rows or rows[t]["last_vacuum"] is None
             or rows[t]["last_analyze"] is None
             or (since is not None and (rows[t]["last_vacuum"] < since
                                        or rows[t]["last_analyze"] < since))]
    if stale:
        raise StepFailed(f"last_vacuum/last_analyze not updated for {', '.join(stale)}")
    return f"last_vacuum and last_analyze set on {len(tables)} tables"


def plan_reset(ctx: StepContext) -> Plan:
    return Plan("Reset the database's cumulative statistics (pg_stat_reset): every scan, "
                "tuple and dead-tuple counter back to zero. Autovacuum loses the counts it "
                "schedules by, and the weekly performance review loses its history. This is "
                "not 'update statistics' (that was the ANALYZE above)",
                (_psql(ctx, SqlWriter.stat_reset_sql() + ";"),))


async def run_reset(ctx: StepContext) -> AsyncIterator[StepOutput]:
    writer = await ctx.mutations.sql()
    ctx.note(f"maintenance: pg_stat_reset() asked for by {ctx.operator.user}")
    await writer.stat_reset()
    yield "pg_stat_reset() done: the counters autovacuum relies on start again from zero"


def _reset_applies(values: Mapping[str, Any]) -> bool:
    return bool(values.get("reset_statistics"))


def vacuum_step() -> Step:
    return Step(
        "vacuum-analyze", "VACUUM ANALYZE",
        "Database maintenance: run VACUUM and ANALYZE. Table by table on the configured "
        "primary (not a bare psql in the pod, which skips tables its role does not own), "
        "outside a transaction, with progress; checked in pg_stat_user_tables.",
        Risk.CHANGE, plan_vacuum, run_vacuum, inputs=(TABLES, RESET), verify=verify_vacuum,
        timeout=3600)


def reset_step() -> Step:
    return Step(
        "pg-stat-reset", "Reset statistics counters (off by default)",
        "The runbook's 'Update statistics' is SELECT pg_stat_reset(), which erases the "
        "counters autovacuum and the weekly performance review rely on; planner statistics "
        "were updated by ANALYZE. Runs only with reset_statistics=yes.",
        Risk.DESTRUCTIVE, plan_reset, run_reset, applies=_reset_applies,
        timeout=60)
