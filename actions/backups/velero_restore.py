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

from console.execution.context import StepContext
from console.execution.inputs import BoolInput, LiveChoiceInput
from console.execution.kube.ops import CreateVeleroRestore
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard

from ..library import velero
from ..library.health import health_check_step
from ..library.plan import kube_plan

RESTORE_TIMEOUT = 1800.0

BACKUP = LiveChoiceInput(
    "backup", "Velero backup to restore from", source=velero.restorable_backups,
    default=velero.newest_completed,
    help="Completed or PartiallyFailed backups, newest first; the default is the newest "
         "Completed one.")
ACCEPT_PARTIAL = BoolInput(
    "accept_partial", "Go on if the restore ends PartiallyFailed", default=False,
    help="no: stop for a decision after showing the warnings and errors (the safe answer).")


def _velero_ns(ctx: StepContext) -> str:
    return ctx.env.kubernetes.velero_namespace


def _restore_name(ctx: StepContext) -> str:
    """Chosen once per run (the plan shown is the restore created), like the CLI's."""
    names: dict[str, str] = ctx.cache.setdefault("velero.restore_names", {})
    backup = ctx.values["backup"]
    if backup not in names:
        names[backup] = velero.restore_name(backup, datetime.now())
    return names[backup]


def _restore(ctx: StepContext) -> CreateVeleroRestore:
    return CreateVeleroRestore(_restore_name(ctx), ctx.values["backup"])


# ---- 1. list ---------------------------------------------------------------------------
def plan_list(ctx: StepContext) -> Plan:
    return Plan("List the Velero backups, oldest to newest, with phase, age, errors and "
                "warnings", (Plan.command("velero", "backup", "get"),
                             Plan.command("kubectl", "get", "backups", "-n", _velero_ns(ctx),
                                          "--sort-by=.metadata.creationTimestamp")))


async def run_list(ctx: StepContext) -> AsyncIterator[StepOutput]:
    backups = await (await ctx.kube()).backups()
    for backup in backups:
        yield velero.describe_backup(backup)
    done = [b for b in backups if b.phase in velero.RESTORABLE]
    if not done:
        raise StepFailed("no Completed or PartiallyFailed backup to restore from")
    yield f"{len(backups)} backups, {len(done)} restorable"


# ---- 2. create -------------------------------------------------------------------------
def plan_create(ctx: StepContext) -> Plan:
    op = _restore(ctx)
    return kube_plan(ctx, f"Create Restore {op.name} in {_velero_ns(ctx)} from backup "
                          f"{op.backup}: Velero re-creates every missing object of the "
                          "backup's namespaces and leaves existing ones as they are", [op])


async def run_create(ctx: StepContext) -> AsyncIterator[StepOutput]:
    op = _restore(ctx)
    existing = await (await ctx.kube()).restore(op.name)
    if existing is not None:  # a retried step: the restore is already there
        ctx.cache["velero.restore"] = op.name
        yield f"restore {op.name} already exists (phase {existing.phase or 'New'})"
        return
    yield await (await ctx.mutations.kube()).apply(op)
    ctx.cache["velero.restore"] = op.name


# ---- 3. follow -------------------------------------------------------------------------
async def _current_restore(ctx: StepContext) -> str:
    """This run's restore; after a resume, the newest restore of the chosen backup."""
    if ctx.cache.get("velero.restore"):
        return str(ctx.cache["velero.restore"])
    ours = [r for r in await (await ctx.kube()).restores() if r.backup == ctx.values["backup"]]
    if not ours:
        raise StepFailed(f"no restore of backup {ctx.values['backup']} found")
    ctx.cache["velero.restore"] = name = ours[-1].name
    return name


def plan_follow(ctx: StepContext) -> Plan:
    name = ctx.cache.get("velero.restore") or _restore_name(ctx)
    return Plan(f"Follow restore {name} until it finishes, then show its warnings and errors",
                (Plan.command("velero", "restore", "describe", name, "--details"),
                 Plan.command("kubectl", "get", "restore", name, "-n", _velero_ns(ctx),
                              "-o", "yaml")))


async def run_follow(ctx: StepContext) -> AsyncIterator[StepOutput]:
    name = await _current_restore(ctx)
    seen = velero.Followed()
    async for item in velero.follow(ctx, "Restore", name, timeout=int(RESTORE_TIMEOUT) - 30,
                                    seen=seen):
        yield item
    restore = seen.restore
    assert restore is not None
    for line in velero.outcome_lines(restore):
        yield line
    for event in await (await ctx.kube()).events(name, namespace=_velero_ns(ctx)):
        yield f"event {event.type} {event.reason}: {event.message}"
    outcome = restore.phase
    if outcome == "Completed":
        yield f"restore {name} Completed"
        return
    if outcome == "PartiallyFailed":
        summary = (f"restore {name} ended PartiallyFailed with {restore.warnings} "
                   f"warnings and {restore.errors} errors")
        if ctx.values.get("accept_partial"):
            yield f"{summary}: accepted (accept_partial=yes); going on to the health check"
            return
        raise StepFailed(f"{summary}. Decide: skip this step to accept it and go on to the "
                         "health check, or abort (command line: --set accept_partial=yes)")
    raise StepFailed(f"restore {name} {outcome}: "
                     + (restore.failure_reason or "; ".join(restore.validation_errors)
                        or "see velero restore logs"))


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
