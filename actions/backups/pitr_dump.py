"""Which dump db-pitr restores, checked before anything changes, and what it will lose.

The default dump is the newest one whose size is plausible against its predecessors (an
empty or cut upload — the ``backup-failed`` night — is passed over, and the listing says
why). The check step then reads the chosen dump with the real ``pg_restore``
(:mod:`.dump_check`) and *refuses* a dump that would not restore, naming the next older
one that passes, so the operator's ``--set dump=...`` is one copy away.

The data-loss window is stated while the old database still runs untouched: the dump's
time, now, and — if the old database answers — how many rows the key tables hold now and
how many were written after the dump where a table has a timestamp column to tell.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from console.execution.context import StepContext
from console.execution.inputs import LiveChoiceInput
from console.execution.model import Plan, StepFailed, StepOutput

from ..library.units import human_age, human_size
from .dump_check import check_dump, plausible_size, table_names
from .s3_dumps import Dump, list_dumps

TIME_COLUMNS = ("updated_at", "created_at", "inserted_at", "modified_at", "timestamp")


async def _dumps(ctx: StepContext) -> list[Dump]:
    if "s3.dumps" not in ctx.cache:
        ctx.cache["s3.dumps"] = await list_dumps(ctx)
    dumps: list[Dump] = ctx.cache["s3.dumps"]
    return dumps


def plausible(dumps: Sequence[Dump]) -> list[Dump]:
    """The dumps whose size is plausible against their predecessors, newest first."""
    return [d for i, d in enumerate(dumps) if plausible_size(d, dumps[i + 1:])[0]]


async def dump_choices(ctx: StepContext) -> list[str]:
    try:
        return [d.key for d in await _dumps(ctx)]
    except Exception:  # noqa: BLE001 - an unreadable bucket must not block the way back
        return []


async def default_dump(ctx: StepContext) -> str | None:
    try:
        good = plausible(await _dumps(ctx))
    except Exception:  # noqa: BLE001
        return None
    return good[0].key if good else None


DUMP = LiveChoiceInput("dump", "Database dump to restore (S3 key)", source=dump_choices,
                       default=default_dump, required=False,
                       help="The dumps under the configured prefix, newest first; the default "
                            "is the newest whose size is plausible (an empty or cut newest "
                            "dump is passed over). It is read with pg_restore before anything "
                            "changes.")


def plan_check(ctx: StepContext) -> Plan:
    a = ctx.env.aws
    key = ctx.values.get("dump") or "<no dump chosen>"
    return Plan(f"Before anything changes: read s3://{a.s3_backup_bucket}/{key} with "
                "pg_restore (size against the earlier dumps, the expected tables, every data "
                "block), refuse it if it would not restore, and state the data-loss window "
                "(the dump's time, now, the rows written since as far as the old database "
                "can tell)",
                (Plan.command("aws", "s3", "ls", f"s3://{a.s3_backup_bucket}/{a.s3_backup_prefix}"),
                 Plan.command("aws", "s3", "cp", f"s3://{a.s3_backup_bucket}/{key}", "/tmp/dump"),
                 Plan.command("pg_restore", "--list", "/tmp/dump")))


async def run_check(ctx: StepContext) -> AsyncIterator[StepOutput]:
    dumps = await _dumps(ctx)
    key = ctx.values.get("dump")
    for i, d in enumerate(dumps[:5]):
        fits, why = plausible_size(d, dumps[i + 1:])
        mark = "chosen" if d.key == key else ("ok" if fits else "REFUSED")
        yield f"{mark:>8}  {d.key}  {human_size(d.size):>10}  age {human_age(d.age_hours())}" \
              + ("" if fits else f"  ({why})")
    if not key:
        raise StepFailed("no dump to restore (the S3 listing was empty or unreadable)")
    chosen = next((d for d in dumps if d.key == key), None)
    if chosen is None:
        raise StepFailed(f"{key} is not among the dumps under the prefix")
    if dumps and dumps[0].key != key:
        fits, why = plausible_size(dumps[0], dumps[1:])
        if not fits:
            yield f"the newest dump {dumps[0].key} is refused ({why}): {key} is offered instead"
    tables = table_names(ctx.values.get("expected_tables"))
    index = dumps.index(chosen)
    check = await check_dump(ctx, chosen, dumps[index + 1:], tables)
    for line in check.lines:
        yield line
    if not check.ok:
        older = [d for d in plausible(dumps[index + 1:])]
        offer = (f"; the previous plausible dump is {older[0].key} "
                 f"({human_size(older[0].size)}, {human_age(older[0].age_hours())} old): "
                 f"--set dump={older[0].key}" if older else "; no older dump is plausible")
        raise StepFailed(f"refused: {check.verdict()}{offer}")
    ctx.cache["pitr.extensions"] = check.extensions
    ctx.cache["pitr.dump_time"] = chosen.modified
    yield f"dump accepted: {check.verdict()}"
    async for line in loss_window(ctx, chosen, tables):
        yield line


async def loss_window(ctx: StepContext, dump: Dump, tables: Sequence[str]) -> AsyncIterator[str]:
    now = datetime.now(UTC)
    yield (f"DATA-LOSS WINDOW: the dump is of {dump.modified:%Y-%m-%d %H:%M:%S} UTC, now is "
           f"{now:%Y-%m-%d %H:%M:%S} UTC: everything written in the last "
           f"{human_age(dump.age_hours(now))} is not in it")
    try:
        db = await ctx.postgres()
        for table in tables:
            schema, _, name = table.rpartition(".")
            schema = schema or "public"
            exists = await db.fetchval("SELECT to_regclass($1) IS NOT NULL",
                                       f"{schema}.{name}")
            if not exists:
                yield f"  {table}: not in the old database"
                continue
            count = await db.fetchval(f'SELECT count(*) FROM "{schema}"."{name}"')
            column = await db.fetchval(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 "
                "AND table_name = $2 AND column_name = ANY($3::text[]) AND data_type LIKE "
                "'timestamp%' ORDER BY array_position($3::text[], column_name::text) LIMIT 1",
                schema, name, list(TIME_COLUMNS))
            since = ""
            if column:
                newer = await db.fetchval(
                    f'SELECT count(*) FROM "{schema}"."{name}" WHERE "{column}" > $1',
                    dump.modified)
                since = f", {newer} written after the dump ({column})"
            stats = await db.fetchrow(
                "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables "
                "WHERE schemaname = $1 AND relname = $2", schema, name)
            counters = (f"; since statistics reset {stats[0]} inserted, {stats[1]} updated, "
                        f"{stats[2]} deleted" if stats else "")
            ctx.cache.setdefault("pitr.old_counts", {})[table] = int(count)
            yield f"  {table}: {count} rows in the old database now{since}{counters}"
    except Exception as exc:  # noqa: BLE001 - the old database may be the broken part
        yield f"  the old database does not answer ({type(exc).__name__}: {exc}): rows " \
              "written since the dump cannot be counted"
