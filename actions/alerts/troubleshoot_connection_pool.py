"""``troubleshoot-connection-pool`` — the runbook's "Database Connection Pool Exhaustion".

Look: the connections by state and application against ``max_connections`` (as in
``alert-db-connections``), and ``max_connections`` itself from ``pg_settings``: its value,
where it comes from, and ``pending_restart``.

The runbook raises the limit with ``ALTER SYSTEM SET max_connections = 200`` and
``SELECT pg_reload_conf()``. That changes nothing in a running server: ``max_connections``
is a ``postmaster`` setting, read only at start; the reload leaves it as it was and
``pg_settings.pending_restart`` turns true. So here:

- ``terminate-idle`` (the default when connections are over their band and a pool holds
  idle ones) and ``restart`` (the application, to reset its pool) free connections now;
- ``raise-max`` writes the new value with ``ALTER SYSTEM``, says that it waits for a
  restart and shows ``pending_restart``; it is refused on RDS, where ``ALTER SYSTEM`` is
  not allowed (the parameter group is the way, and an RDS reboot); the database restart
  that applies it is offered only where the platform runs the database itself (its
  workload on the cluster), as a destructive step that asks for ``restart_database=yes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

from console.execution.context import StepContext
from console.execution.inputs import BoolInput, IntInput
from console.execution.kube.ops import RolloutRestart
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.execution.writers.sql import SqlWriter

from ..library.diagnosis import diagnosis_step
from ..library.plan import commands
from .common import after_step, chosen, remedy_input, restart_step
from .db_connections import APPLICATION, connection_findings, default_remedy, plan_idle, run_idle

SETTING_SQL = """
SELECT setting::int AS value, boot_val, reset_val, source, context, pending_restart
FROM pg_settings WHERE name = 'max_connections'
"""
RDS_SQL = "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_superuser')"


async def on_rds(ctx: StepContext) -> bool:
    """The database is an RDS instance: the config names one, or the server has RDS's
    own role."""
    if ctx.env.aws.rds_primary_id:
        return True
    return bool(await (await ctx.postgres()).fetchval(RDS_SQL))


async def platform_workload(ctx: StepContext) -> str | None:
    """The kind of the database's workload on the cluster (StatefulSet or Deployment), or
    None when the platform does not run it."""
    reader = await ctx.kube()
    name = ctx.env.kubernetes.database_workload
    for kind in ("StatefulSet", "Deployment"):
        try:
            if await reader.raw(kind, name) is not None:
                return kind
        except Exception:  # noqa: BLE001 - unreadable: not offered
            return None
    return None


def plan_setting(ctx: StepContext) -> Plan:
    return Plan("max_connections from pg_settings: value, source, context, pending_restart; "
                "RDS or a database the platform runs?",
                (Plan.command("psql", "-c", "SELECT name, setting, source, context, "
                              "pending_restart FROM pg_settings WHERE name = "
                              "'max_connections';"),))


async def run_setting(ctx: StepContext) -> AsyncIterator[StepOutput]:
    row = await (await ctx.postgres()).fetchrow(SETTING_SQL)
    yield (f"max_connections = {row['value']} (source {row['source']}, default "
           f"{row['boot_val']}, context {row['context']}); pending_restart = "
           f"{str(row['pending_restart']).lower()}")
    if row["context"] == "postmaster":
        yield ("max_connections is read only when the server starts: ALTER SYSTEM + "
               "pg_reload_conf() (the runbook's fix) changes nothing until a restart")
    if await on_rds(ctx):
        yield ("RDS: ALTER SYSTEM is refused there; change max_connections in the DB "
               "parameter group and reboot the instance")
    else:
        kind = await platform_workload(ctx)
        yield (f"the platform runs the database ({kind.lower()}/"
               f"{ctx.env.kubernetes.database_workload}): a restart can apply a new limit"
               if kind else "the database's workload is not on the cluster: no restart offered")
    yield f"remedy: {ctx.values.get('remedy')}"


MAX_CONNECTIONS = IntInput("max_connections", "New max_connections (raise-max only)",
                           minimum=20, maximum=10_000, required=False,
                           help="Each connection costs memory (work_mem...): raise the "
                                "pool's efficiency first.")
RESTART_DB = BoolInput("restart_database", "Restart the database to apply it (raise-max)",
                       default=False, required=False,
                       help="Every session is cut: only in a maintenance window.")
REMEDY = remedy_input(("terminate-idle", "restart", "raise-max"), default_remedy,
                      "Default: terminate-idle when connections are over their band and a "
                      "pool holds idle ones, else restart; raise-max writes a new limit that "
                      "waits for a database restart.")


def plan_raise(ctx: StepContext) -> Plan:
    n = ctx.values.get("max_connections")
    return Plan(f"ALTER SYSTEM SET max_connections = {n} and reload: written to "
                "postgresql.auto.conf, applied only at the next restart (pending_restart "
                "shown); refused on RDS",
                (Plan.command("psql", "-c", SqlWriter.alter_system_sql("max_connections",
                                                                       int(n or 0)) + ";"),
                 Plan.command("psql", "-c", SqlWriter.RELOAD_SQL + ";")))


async def run_raise(ctx: StepContext) -> AsyncIterator[StepOutput]:
    n = ctx.values.get("max_connections")
    if not n:
        raise StepFailed("give the new limit: --set max_connections=N")
    if await on_rds(ctx):
        raise StepFailed("the database is on RDS, where ALTER SYSTEM is refused: change "
                         "max_connections in its DB parameter group and reboot the instance; "
                         "nothing was changed")
    pg = await ctx.postgres()
    before = await pg.fetchrow(SETTING_SQL)
    ctx.note(f"max_connections before: {before['value']} (source {before['source']})",
             previous_max_connections=before["value"], source=before["source"])
    writer = await ctx.mutations.sql()
    yield await writer.alter_system("max_connections", int(n))
    yield f"pg_reload_conf() -> {await writer.reload_conf()}"
    # each backend re-reads the files when it handles the reload signal, which may be a
    # moment after pg_reload_conf() returns: ask until this one has (at most ~3 s)
    after = await pg.fetchrow(SETTING_SQL)
    for _ in range(30):
        if after["pending_restart"] or str(after["value"]) == str(n):
            break
        await asyncio.sleep(0.1)
        after = await pg.fetchrow(SETTING_SQL)
    yield (f"max_connections still {after['value']}; pending_restart = "
           f"{str(after['pending_restart']).lower()}: {n} applies at the next restart")


def plan_restart_db(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    op = RolloutRestart(k.database_workload, k.namespace, kind="StatefulSet")
    return Plan(f"Restart {k.database_workload} so the new max_connections applies: every "
                "session is cut", commands(ctx, [op]))


async def run_restart_db(ctx: StepContext) -> AsyncIterator[StepOutput]:
    if not ctx.values.get("restart_database"):
        yield "restart_database not set: the new limit waits for the next restart"
        return
    kind = await platform_workload(ctx)
    if kind is None or await on_rds(ctx):
        raise StepFailed("the platform does not run this database: no restart from here")
    k = ctx.env.kubernetes
    yield await (await ctx.mutations.kube()).apply(
        RolloutRestart(k.database_workload, k.namespace, kind=kind))
    row = await (await ctx.postgres()).fetchrow(SETTING_SQL)
    yield f"max_connections = {row['value']}; pending_restart = {row['pending_restart']}"


WIZARD = Wizard(
    id="troubleshoot-connection-pool", title="Troubleshoot connection-pool exhaustion",
    section="Troubleshooting › Database Connection Pool Exhaustion",
    when="\"too many connections\": who holds them; free them now, or raise the limit "
         "(it needs a database restart).",
    steps=(
        diagnosis_step("connections", "Connections by state and application",
                       "pg_stat_activity against max_connections.",
                       diagnose=connection_findings,
                       commands=lambda ctx: [Plan.command(
                           "psql", "-c", "SELECT application_name, state, count(*) FROM "
                           "pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC;")]),
        Step("max-connections", "The limit and what changing it takes", "pg_settings: "
             "max_connections is a postmaster setting; pending_restart says when a new value "
             "waits.", Risk.READ, plan_setting, run_setting,
             inputs=(REMEDY, APPLICATION, MAX_CONNECTIONS, RESTART_DB)),
        replace(Step("terminate-idle", "End a pool's idle sessions", "Sessions a leaking pool "
                     "holds idle: ending them frees connections at once.", Risk.CHANGE,
                     plan_idle, run_idle), applies=chosen("terminate-idle")),
        restart_step("kubectl rollout restart of the MCP server: its pool starts afresh."),
        Step("raise-max", "Raise max_connections (applies at restart)", "ALTER SYSTEM; "
             "refused on RDS; pending_restart shown.", Risk.CHANGE, plan_raise, run_raise,
             applies=chosen("raise-max")),
        Step("restart-database", "Restart the database", "Only where the platform runs it, "
             "and only with restart_database=yes: every session is cut.", Risk.DESTRUCTIVE,
             plan_restart_db, run_restart_db,
             applies=lambda v: v.get("remedy") == "raise-max" and bool(
                 v.get("restart_database"))),
        after_step(("database",)),
    ),
)
