"""The ``velero-restore`` wizard — the guide's "Application Recovery from Backup".

List the backups (``velero backup get``); create the Restore the CLI would create, named as
the CLI names it; follow its phase with a progress bar from ``status.progress``, then show
its warnings and errors (``velero restore describe --details``). Completed goes on to the
health check. Failed stops. PartiallyFailed *stops for a decision*: some objects did not
come back, and only the operator can judge whether the application can run like that —
in the console the failed step offers retry / skip (accept and go on) / abort; on the
command line ``--set accept_partial=yes`` (also when resuming) accepts it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from console.execution.inputs import BoolInput, LiveChoiceInput
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from . import velero
from .cluster import ClusterReads, ClusterWrites
from .health import health_check_step

RESTORE_TIMEOUT = 1800.0

BACKUP = LiveChoiceInput(
    "backup", "Velero backup to restore from", source=velero.restorable_backups,
    default=velero.newest_completed,
    help="Completed or PartiallyFailed backups, newest first; the default is the newest "
         "Completed one.")
ACCEPT_PARTIAL = BoolInput(
    "accept_partial", "Go on if the restore ends PartiallyFailed", default=False,
    help="no: stop for a decision after showing the warnings and errors (the safe answer).")


def _velero_ns(ctx: Any) -> str:
    return ctx.env.kubernetes.velero_namespace


def _restore_name(ctx: Any) -> str:
    """Chosen once per run (the plan shown is the restore created), like the CLI's."""
    names = ctx.cache.setdefault("velero.restore_names", {})
    backup = ctx.values["backup"]
    if backup not in names:
        names[backup] = velero.restore_name(backup, datetime.now())
    return names[backup]


# ---- 1. list ---------------------------------------------------------------------------
def plan_list(ctx: Any) -> Plan:
    return Plan("List the Velero backups, oldest to newest, with phase, age, errors and "
                "warnings", (Plan.command("velero", "backup", "get"),
                             Plan.command("kubectl", "get", "backups", "-n", _velero_ns(ctx),
                                          "--sort-by=.metadata.creationTimestamp")))


async def run_list(ctx: Any) -> AsyncIterator[StepOutput]:
    reads = ClusterReads(await ctx.kube())
    backups = velero.by_creation(await reads.velero_list("backups"))
    for backup in backups:
        yield velero.describe_backup(backup)
    done = [b for b in backups if velero.phase(b) in velero.RESTORABLE]
    if not done:
        raise StepFailed("no Completed or PartiallyFailed backup to restore from")
    yield f"{len(backups)} backups, {len(done)} restorable"


# ---- 2. create -------------------------------------------------------------------------
def plan_create(ctx: Any) -> Plan:
    backup, name = ctx.values["backup"], _restore_name(ctx)
    return Plan(f"Create Restore {name} in {_velero_ns(ctx)} from backup {backup}: Velero "
                "re-creates every missing object of the backup's namespaces and leaves "
                "existing ones as they are",
                (Plan.command("velero", "restore", "create", name, f"--from-backup={backup}"),))


async def run_create(ctx: Any) -> AsyncIterator[StepOutput]:
    name, backup = _restore_name(ctx), ctx.values["backup"]
    reads = ClusterReads(await ctx.kube())
    existing = await reads.velero("restores", name)
    if existing is not None:  # a retried step: the restore is already there
        ctx.cache["velero.restore"] = name
        yield f"restore {name} already exists (phase {velero.phase(existing)})"
        return
    writes = ClusterWrites(await ctx.mutations.kube())
    created = await writes.create_velero("restores", velero.restore_manifest(name, backup))
    yield f"restore {created['metadata']['name']} created from backup {backup}"
    ctx.cache["velero.restore"] = name


# ---- 3. follow -------------------------------------------------------------------------
async def _current_restore(ctx: Any, reads: ClusterReads) -> str:
    """This run's restore; after a resume, the newest restore of the chosen backup."""
    if ctx.cache.get("velero.restore"):
        return ctx.cache["velero.restore"]
    ours = [r for r in await reads.velero_list("restores")
            if (r.get("spec") or {}).get("backupName") == ctx.values["backup"]]
    if not ours:
        raise StepFailed(f"no restore of backup {ctx.values['backup']} found")
    name = velero.by_creation(ours)[-1]["metadata"]["name"]
    ctx.cache["velero.restore"] = name
    return name


def plan_follow(ctx: Any) -> Plan:
    name = ctx.cache.get("velero.restore") or _restore_name(ctx)
    return Plan(f"Follow restore {name} until it finishes, then show its warnings and errors",
                (Plan.command("velero", "restore", "describe", name, "--details"),
                 Plan.command("kubectl", "get", "restore", name, "-n", _velero_ns(ctx),
                              "-o", "yaml")))


async def run_follow(ctx: Any) -> AsyncIterator[StepOutput]:
    reads = ClusterReads(await ctx.kube())
    name = await _current_restore(ctx, reads)
    holder: dict[str, Any] = {}
    async for item in velero.follow(reads, "restores", name, timeout=int(RESTORE_TIMEOUT) - 30,
                                    holder=holder):
        yield item
    restore = holder["object"]
    for line in velero.outcome_lines(restore):
        yield line
    for event in await reads.events(_velero_ns(ctx), name):
        yield f"event {event.get('type', '')} {event.get('reason', '')}: {event.get('message', '')}"
    outcome = velero.phase(restore)
    status = restore.get("status") or {}
    if outcome == "Completed":
        yield f"restore {name} Completed"
        return
    if outcome == "PartiallyFailed":
        summary = (f"restore {name} ended PartiallyFailed with {status.get('warnings', 0)} "
                   f"warnings and {status.get('errors', 0)} errors")
        if ctx.values.get("accept_partial"):
            yield f"{summary}: accepted (accept_partial=yes); going on to the health check"
            return
        raise StepFailed(f"{summary}. Decide: skip this step to accept it and go on to the "
                         "health check, or abort (command line: --set accept_partial=yes)")
    raise StepFailed(f"restore {name} {outcome}: "
                     + (status.get("failureReason") or "; ".join(
                         status.get("validationErrors") or []) or "see velero restore logs"))


WIZARD = Wizard(
    id="velero-restore", title="Application recovery from a Velero backup",
    section="Backup and Recovery › Application Recovery from Backup",
    when="Kubernetes objects were lost or broken: restore them from a Velero backup.",
    steps=(
        Step("list-backups", "Available backups", "velero backup get: what can be restored, "
             "and how each backup went.", Risk.READ, plan_list, run_list, timeout=60),
        Step("create-restore", "Restore from the backup", "velero restore create "
             "--from-backup: objects missing from the cluster come back as they were at "
             "backup time.", Risk.DESTRUCTIVE, plan_create, run_create,
             inputs=(BACKUP, ACCEPT_PARTIAL), timeout=60),
        Step("follow-restore", "Monitor the restore", "velero restore describe --details: "
             "progress, then warnings and errors. PartiallyFailed stops here for your "
             "decision.", Risk.READ, plan_follow, run_follow,
             timeout=RESTORE_TIMEOUT),
        health_check_step("./scripts/health-check.sh after the restore: the service answers "
                          "and its pods are Ready."),
    ),
)
