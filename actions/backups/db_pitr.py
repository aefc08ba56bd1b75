"""The ``db-pitr`` wizard — the guide's "Database Point-in-Time Recovery", with the outage
kept to the switch.

1. look (deployment, HPA, earlier attempts); 2. choose and *read* the dump before anything
changes (an empty or cut dump is refused and the previous good one offered) and state the
data-loss window; [2b. stop writes first, only when asked: corruption still spreading];
3. create the ``postgres-recovery`` instance sized as the primary (a leftover is checked
empty); 4. restore the dump into it, timed, **while the application still runs** on the
old database; 5. verify with read-only queries; 6. only now stop traffic (replicas to 0,
count remembered); 7. accept the results and switch the credentials secret; 8. scale back,
the outage (0 replicas → all ready) measured and printed; 9. health check; 10. summary: a
stop-gap, with its follow-up checklist.

The recovered database is a *new* instance and the old one is left exactly as it was: the
damaged data stays there for the post-mortem, and the way back is always "scale the
application up again on the old database". A failure at any step stops the wizard there and
its message gives that way back; taking it (``way_back=yes``, in a resumed run or a fresh
one) skips the recovery steps, puts the old host back into the secret if it had been
switched, and scales the application to the remembered count.

In the sandbox the recovery pod's PostgreSQL programs reach an empty database of their own
on the sandbox server, so the rehearsal restores real rows into a fresh instance while the
damaged primary stays damaged, as in production.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import BoolInput
from console.execution.kube import KubeError
from console.execution.model import Plan, Risk, Step, StepOutput, Wizard

from ..library.health import health_check_step
from . import pitr_dump, pitr_recovery, pitr_summary, pitr_traffic, pitr_verify
from .dump_check import TABLES
from .pitr_common import (
    HOST_KEY,
    RECOVERY_POD,
    offers_way_back,
    recovery_host,
    remembered_replicas,
)

WAY_BACK = BoolInput(
    "way_back", "Take the way back instead (scale the application up on the old database)",
    default=False, help="no: recover the database. yes: skip the recovery; undo the switch "
                        "if it happened and scale the application back to its remembered count.")


STOP_WRITES_FIRST = BoolInput(
    "stop_writes_first", "Stop the application before restoring (corruption still spreading)",
    default=False, help="no (the short outage): restore and verify while the application "
                        "runs on the old database, stop it only for the switch. yes: stop "
                        "it now, when every minute on the old database does more damage.")


def _recovering(values: Mapping[str, Any]) -> bool:
    return not values.get("way_back")


def _stopping_first(values: Mapping[str, Any]) -> bool:
    return _recovering(values) and bool(values.get("stop_writes_first"))


# ---- 1. look ---------------------------------------------------------------------------
def plan_look(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan(f"Show deployment/{k.deployment}, its HPA, the credentials' host (masked) and "
                "what an earlier recovery attempt left (remembered replicas, recovery pod)",
                (Plan.command("kubectl", "get", f"deployment/{k.deployment}", f"hpa/{k.hpa}",
                              "-n", k.namespace),
                 Plan.command("kubectl", "get", f"pod/{RECOVERY_POD}", "-n", k.namespace)))


async def run_look(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = ctx.env.kubernetes
    reader = await ctx.kube()
    deployment = await reader.deployment()
    yield f"deployment/{k.deployment}: spec.replicas {deployment.desired}"
    remembered = remembered_replicas(deployment.annotations)
    if remembered is not None:
        yield f"an earlier recovery remembered {remembered} replicas (it did not finish)"
    try:
        hpa = await reader.hpa()
        yield (f"hpa/{k.hpa}: min {hpa.min}, max {hpa.max}; "
               "at 0 replicas Kubernetes disables it (ScalingDisabled) until replicas return")
    except KubeError:  # no HPA is fine
        yield f"hpa/{k.hpa}: not found"
    try:
        secret = await reader.secret(k.database_secret)
        host = base64.b64decode(((secret or {}).get("data") or {}).get(HOST_KEY, "")).decode()
        where = "the recovery database" if host == recovery_host(ctx) else "the old database"
        yield f"secret/{k.database_secret}: host points at {where}"
    except Exception as exc:  # noqa: BLE001 - a reader may not see secrets; looking goes on
        yield f"secret/{k.database_secret}: not readable with these credentials ({exc})"
    pod = await reader.pod(RECOVERY_POD)
    yield (f"pod/{RECOVERY_POD}: {pod.phase or '?'}" if pod
           else f"pod/{RECOVERY_POD}: not there yet")
    if ctx.values.get("way_back"):
        yield "way back chosen: the recovery steps will be skipped"
    elif ctx.values.get("stop_writes_first"):
        yield "stop_writes_first=yes: the application stops before the restore (longer outage)"
    else:
        yield ("the application keeps running on the old database until the recovered one "
               "is verified; it stops only for the switch")


WIZARD = Wizard(
    id="db-pitr", title="Database point-in-time recovery",
    section="Backup and Recovery › Database Point-in-Time Recovery",
    when="Data was lost or corrupted: restore the database from a backup.",
    steps=(
        Step("look", "Before stopping anything", "Look first: how many replicas run now (they "
             "come back at that count), the HPA, and whether an earlier recovery attempt left "
             "something behind.", Risk.READ, plan_look, run_look,
             inputs=(WAY_BACK, STOP_WRITES_FIRST), timeout=60),
        Step("check-dump", "Choose and read the dump", "Nothing changes yet: the dump is read "
             "with pg_restore (an empty or cut one is refused, the previous good one offered) "
             "and the data-loss window is stated.", Risk.READ, pitr_dump.plan_check,
             pitr_dump.run_check, inputs=(pitr_dump.DUMP, TABLES), applies=_recovering,
             timeout=1800),
        Step("stop-writes-first", "Stop writes first (asked for)", "Only with "
             "stop_writes_first=yes: the application stops now, so the outage includes the "
             "restore.", Risk.DESTRUCTIVE, pitr_traffic.plan_stop,
             offers_way_back(pitr_traffic.run_stop), verify=pitr_traffic.verify_stopped,
             applies=_stopping_first, timeout=300),
        Step("recovery-instance", "2. Create the recovery instance", "A fresh PostgreSQL pod "
             "(postgres:15-alpine) sized as the primary, on its own volume; the old database "
             "is left untouched.", Risk.CHANGE, pitr_recovery.plan_instance,
             offers_way_back(pitr_recovery.run_instance), verify=pitr_recovery.verify_instance,
             inputs=(pitr_recovery.CLEAN_LEFTOVER,), applies=_recovering, timeout=360),
        Step("restore", "3. Restore from backup", "pg_restore of the chosen dump into the "
             "recovery instance, streamed from S3, all or nothing, while the application "
             "still runs.", Risk.CHANGE, pitr_recovery.plan_restore,
             offers_way_back(pitr_recovery.run_restore), applies=_recovering, timeout=3600),
        Step("verify-data", "4. Verify data integrity", "The guide counts critical_table; "
             "any read-only queries can be given. Look at the results: the switch asks you "
             "to accept them.", Risk.READ, pitr_verify.plan_verify,
             offers_way_back(pitr_verify.run_verify), inputs=(pitr_verify.QUERIES,),
             applies=_recovering, timeout=300),
        Step("stop-traffic", "5. Stop application traffic", "Only now, for the switch: scale "
             "the MCP server to 0, remembering its replica count; the outage starts here.",
             Risk.DESTRUCTIVE, pitr_traffic.plan_stop, offers_way_back(pitr_traffic.run_stop),
             verify=pitr_traffic.verify_stopped, applies=_recovering, timeout=300),
        Step("switch-database", "6. Accept and switch to the recovered database", "Confirming "
             "accepts the verification results; the credentials secret then points the "
             "application at the recovery instance. Declining stops here (way back below).",
             Risk.DESTRUCTIVE, pitr_verify.plan_switch, offers_way_back(pitr_verify.run_switch),
             verify=pitr_verify.verify_switch, applies=_recovering, timeout=60),
        Step("restart-application", "7. Restart the application", "Scale back to the "
             "remembered replica count and follow the rollout; the outage ends when every "
             "replica is ready, and is printed.", Risk.CHANGE,
             pitr_traffic.plan_restart, offers_way_back(pitr_traffic.scale_back),
             verify=pitr_traffic.verify_running, applies=_recovering, timeout=600),
        Step("way-back", "The way back: old database", "Undo: put the old database host back "
             "if it was switched, and scale the application up again on the old database.",
             Risk.CHANGE, pitr_traffic.plan_way_back, pitr_traffic.run_way_back,
             verify=pitr_traffic.verify_running, applies=lambda v: bool(v.get("way_back")),
             timeout=600),
        health_check_step("./scripts/health-check.sh: the application answers on its database "
                          "and its pods are Ready; the database judged where the console now "
                          "watches it.", components=("service", "pods", "database")),
        Step("summary", "Summary: a stop-gap", "The database where the application now "
             "reads, the outage and restore times, and what must follow: the recovery pod "
             "is a stop-gap.", Risk.READ, pitr_summary.plan_summary, pitr_summary.run_summary,
             applies=_recovering, timeout=120),
    ),
)
