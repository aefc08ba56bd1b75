"""The ``velero-restore`` wizard — the guide's "Application Recovery from Backup".

List the backups (``velero backup get``); check the chosen one before restoring: its
storage location must be Available and it must hold items of the namespaces to restore
(``velero backup describe``), and what it holds is shown — its resource list per kind and
namespace, read from the location's bucket (:mod:`.velero_contents`); create the Restore the CLI would create, named as the CLI
names it, with the scope chosen and explained (:mod:`.velero_scope`: existing-resource
policy, namespaces, resources, namespace mapping); follow its phase with a progress bar
from ``status.progress``, then show its warnings and errors (``velero restore describe
--details``). Completed goes on to the health check. Failed stops. PartiallyFailed *stops for a decision*: some objects did not
come back, and only the operator can judge whether the application can run like that —
in the console the failed step offers retry / skip (accept and go on) / abort; on the
command line ``--set accept_partial=yes`` (also when resuming) accepts it. Whatever the
outcome, the objects the restore created, updated and skipped are listed, read back from
the cluster.
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
from . import velero_scope as scope
from .velero_contents import contents_of, resource_list_key
from .velero_location import location_state

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
    return CreateVeleroRestore(_restore_name(ctx), ctx.values["backup"],
                               namespaces=scope.namespaces(ctx),
                               existing_policy=ctx.values.get("existing_policy") or "none",
                               resources=scope.resources(ctx),
                               namespace_mapping=scope.mapping(ctx))


# ---- 1b. check the chosen backup ------------------------------------------------------
def plan_check(ctx: StepContext) -> Plan:
    backup = ctx.values.get("backup") or "<backup>"
    return Plan(f"Check backup {backup} before restoring: its storage location must be "
                "Available and it must hold items of the namespaces to restore; show what it "
                "holds (its resource list, per kind and namespace, read from the bucket)",
                (Plan.command("velero", "backup", "describe", backup, "--details"),
                 Plan.command("velero", "backup-location", "get"),
                 Plan.command("aws", "s3", "cp", "s3://<location bucket>/<prefix>/"
                              + resource_list_key("", backup), "-") + " | gunzip"))


async def run_check(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    name = ctx.values["backup"]
    raw = await reader.raw("Backup", name, namespace=_velero_ns(ctx), api_version="velero.io/v1")
    if raw is None:
        raise StepFailed(f"backup {name} not found")
    spec, status = raw.get("spec") or {}, raw.get("status") or {}
    included = spec.get("includedNamespaces") or ["*"]
    progress = status.get("progress") or {}
    items = int(progress.get("itemsBackedUp") or 0)
    yield (f"backup {name}: {status.get('phase', 'New')}, namespaces {', '.join(included)}, "
           f"{items}/{progress.get('totalItems', '?')} items backed up, "
           f"{status.get('errors', 0)} errors, {status.get('warnings', 0)} warnings, "
           f"expires {status.get('expiration', '?')}")
    location = spec.get("storageLocation") or "default"
    available, where = await location_state(ctx, reader, location)
    yield where
    if not available:
        raise StepFailed(f"Velero cannot read backup {name}: its {where}")
    for line in await contents_of(ctx, reader, location, name):
        yield line
    if items == 0:
        raise StepFailed(f"backup {name} holds no items: nothing to restore")
    outside = [n for n in scope.namespaces(ctx) if n != "*" and "*" not in included
               and n not in included]
    if outside:
        raise StepFailed(f"backup {name} does not hold namespace(s) {', '.join(outside)} "
                         f"(it holds {', '.join(included)})")
    ctx.cache["velero.backup_namespaces"] = included
    yield f"restore scope: {scope.explain(ctx)}"


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
                          f"{op.backup}: {scope.explain(ctx)}", [op])


async def run_create(ctx: StepContext) -> AsyncIterator[StepOutput]:
    op = _restore(ctx)
    existing = await (await ctx.kube()).restore(op.name)
    if existing is not None:  # a retried step: the restore is already there
        ctx.cache["velero.restore"] = op.name
        yield f"restore {op.name} already exists (phase {existing.phase or 'New'})"
        return
    before = await scope.inventory(await ctx.kube(), scope.kinds_in_scope(ctx),
                                   _target_namespaces(ctx))
    ctx.cache["velero.before"] = {k: o["metadata"].get("resourceVersion", "")
                                  for k, o in before.items()}
    yield await (await ctx.mutations.kube()).apply(op)
    ctx.cache["velero.restore"] = op.name


def _target_namespaces(ctx: StepContext) -> list[str]:
    spaces = scope.target_namespaces(ctx, ctx.cache.get("velero.backup_namespaces") or [])
    return [n for n in spaces if n != "*"] or [ctx.env.kubernetes.namespace]


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
    before = ctx.cache.get("velero.before")
    if before is not None:
        touched = await scope.what_changed(await ctx.kube(), name, scope.kinds_in_scope(ctx),
                                           _target_namespaces(ctx), before)
        async for line in scope.describe(touched):
            yield line
    else:
        yield ("created/updated/skipped: not known in a resumed run; objects restored carry "
               f"the label velero.io/restore-name={name}")
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
        Step("check-backup", "Check the backup and the scope", "velero backup describe: "
             "the backup's storage location must be Available and it must hold the "
             "namespaces to restore. The scope chosen is explained.", Risk.READ, plan_check,
             run_check, inputs=(BACKUP, scope.POLICY, scope.NAMESPACES, scope.RESOURCES,
                                scope.MAPPING), timeout=60),
        Step("create-restore", "Restore from the backup", "velero restore create "
             "--from-backup: missing objects come back as they were at backup time; with "
             "existing_policy=update, existing ones that differ are patched back too.",
             Risk.DESTRUCTIVE, plan_create, run_create, inputs=(ACCEPT_PARTIAL,), timeout=120),
        Step("follow-restore", "Monitor the restore", "velero restore describe --details: "
             "progress, then warnings and errors. PartiallyFailed stops here for your "
             "decision.", Risk.READ, plan_follow, run_follow,
             timeout=RESTORE_TIMEOUT),
        health_check_step("./scripts/health-check.sh after the restore: the service answers "
                          "and its pods are Ready."),
    ),
)
