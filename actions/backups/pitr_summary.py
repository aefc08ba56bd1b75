"""The end of a database recovery: what was lost, what it cost, and what must follow.

The recovered database is a stop-gap — one bare pod on one volume, no replica, no backup
job of its own, no monitoring of its own — and the summary says so with the checklist of
what must follow, in the output and so in the session log and its export. The database
component is checked where the application now reads (``pg_isready`` and the key tables in
the recovery pod). The console's own database view follows the switch (recorded on the
Deployment) when the environment says how to reach the recovery instance
(``postgres.recovery_dsn``); otherwise it still watches ``postgres.dsn``, the old primary,
shows a WARNING saying so, and the summary says that plainly too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from console.execution.context import StepContext
from console.execution.kube import run_in_pod
from console.execution.model import Plan, StepFailed, StepOutput
from console.sources.postgres import describe_dsn

from .dump_check import table_names
from .dump_trial import quoted
from .pitr_common import RECOVERY_POD, recovery_host
from .pitr_recovery import psql_in_pod

FOLLOW_UP = (
    "Give the recovered data a proper home: a managed/replicated primary (or the "
    "StatefulSet) restored from this instance, then switch again",
    "Until then the recovery pod has no replica and no backup: run a pg_dump of it to S3 now "
    "and point the nightly backup job at it",
    "Point monitoring at it; the console follows it only where "
    "environments.<env>.postgres.recovery_dsn says how to reach the recovery Service",
    "Keep the old database untouched for the post-mortem; delete it only after sign-off",
    "Write down the data-loss window above in the incident ticket and tell the affected "
    "users",
    "When the proper primary is live: delete pod/postgres-recovery, its Service and claim",
)


def plan_summary(ctx: StepContext) -> Plan:
    ns = ctx.env.kubernetes.namespace
    return Plan("Check the database where the application now reads, and sum up: the "
                "data-loss window, the outage and restore times, and the follow-up checklist "
                "(the recovery instance is a stop-gap)",
                (Plan.command("kubectl", "exec", "-n", ns, RECOVERY_POD, "--", "pg_isready",
                              "-d", ctx.env.postgres.database),))


async def run_summary(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    code, lines = await run_in_pod(reader.exec_target(
        RECOVERY_POD, ["pg_isready", "-d", ctx.env.postgres.database]))
    if code != 0:
        raise StepFailed("database: the recovery instance does not accept connections: "
                         + " ".join(line.text for line in lines))
    yield f"database: {RECOVERY_POD} accepts connections ({recovery_host(ctx)})"
    for table in table_names(ctx.values.get("expected_tables")):
        code, lines = await run_in_pod(reader.exec_target(
            RECOVERY_POD, psql_in_pod(ctx, f"SELECT count(*) FROM {quoted(table)}")))
        rows = [line.text for line in lines if line.stream == "stdout" and line.text.strip()]
        shown = rows[-1].strip() if code == 0 and rows else "unreadable"
        old = (ctx.cache.get("pitr.old_counts") or {}).get(table)
        against = ""
        if old is not None and shown.isdigit():
            against = (f"; the old database had {old} before the recovery "
                       f"({int(shown) - old:+d} in the recovered one)")
        yield f"database: {table} {shown} rows{against}"
    outage = ctx.cache.get("pitr.outage_seconds")
    restore = ctx.cache.get("pitr.restore_seconds")
    if outage is not None:
        yield (f"outage {outage:.1f}s" + (f", restore {restore:.1f}s (outside the outage)"
                                          if restore is not None else ""))
    followed = ctx.env.postgres.recovery_dsn
    if followed:
        yield (f"console: environment {ctx.env_name}'s database view follows the switch: it "
               f"watches {describe_dsn(followed)} (postgres.recovery_dsn)")
    else:
        yield (f"console: environment {ctx.env_name} still watches the old primary "
               f"({describe_dsn(ctx.env.postgres.dsn)}) and shows a WARNING saying so; set its "
               f"postgres.recovery_dsn to reach {recovery_host(ctx)} to follow")
    yield "STOP-GAP: the application runs on a single recovery pod. Follow-up checklist:"
    for n, item in enumerate(FOLLOW_UP, 1):
        yield f"  [ ] {n}. {item}"
    ctx.note("follow-up checklist", items=list(FOLLOW_UP))
