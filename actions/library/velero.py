"""Velero Backups and Restores as the ``velero`` CLI makes and shows them, without the CLI.

``velero restore create --from-backup B`` creates a ``velero.io/v1`` Restore named
``B-<YYYYMMDDHHMMSS>`` (the CLI's local time); ``velero backup create NAME`` a Backup. Both
then move through phases that :func:`follow` watches (one watch stream), reporting
``status.progress`` as a progress bar until a final phase. The listing mirrors
``kubectl get backups -n velero --sort-by=.metadata.creationTimestamp``; that order and the
records are the collectors' own, so "the newest Completed backup" here is the dashboard's
"latest backup". :func:`velero_backup_step` is the library's "Velero backup to Completed":
create (or reuse) a backup, follow it, and verify it (Completed, items backed up, no
errors).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from console.collectors.backups_model import VeleroBackup, VeleroRestore
from console.collectors.velero_parse import by_creation, velero_backup, velero_restore
from console.execution.context import StepContext
from console.execution.kube.ops import CreateVeleroBackup
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput

from .plan import kube_plan
from .units import human_age

FINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
RESTORABLE = ("Completed", "PartiallyFailed")
Kind = Literal["Backup", "Restore"]

__all__ = ["FINAL", "RESTORABLE", "Followed", "by_creation", "describe_backup", "follow",
           "newest_completed", "outcome_lines", "restorable_backups", "restore_name",
           "velero_backup_step"]


def restore_name(backup: str, now: datetime | None = None) -> str:
    """The name ``velero restore create --from-backup`` gives: ``<backup>-<timestamp>``."""
    return f"{backup}-{(now or datetime.now()):%Y%m%d%H%M%S}"


def describe_backup(backup: dict[str, object] | VeleroBackup,
                    now: datetime | None = None) -> str:
    """One listing line (name, phase, age, errors, warnings), the same in every wizard; a
    raw Backup object is read by the collectors' parser, so its age means the same too."""
    if isinstance(backup, dict):
        backup = velero_backup(backup, now or datetime.now(UTC))
    return (f"{backup.name:<40} {backup.phase or 'New':<16} age {human_age(backup.age_hours):>6}  "
            f"errors {backup.errors}  warnings {backup.warnings}")


async def restorable_backups(ctx: StepContext) -> list[str]:
    """Backups a restore can start from (Completed or PartiallyFailed), newest first."""
    backups = await (await ctx.kube()).backups()
    return [b.name for b in reversed(backups) if b.phase in RESTORABLE]


async def newest_completed(ctx: StepContext) -> str | None:
    done = [b.name for b in await (await ctx.kube()).backups() if b.phase == "Completed"]
    return done[-1] if done else None


def outcome_lines(obj: VeleroBackup | VeleroRestore) -> list[str]:
    """Warnings, errors and reasons, as ``velero ... describe`` sums them up."""
    lines = [f"phase {obj.phase or 'New'}: {obj.warnings} warnings, {obj.errors} errors"]
    if obj.failure_reason:
        lines.append(f"failure reason: {obj.failure_reason}")
    lines += [f"validation error: {problem}" for problem in obj.validation_errors]
    return lines


@dataclass
class Followed:
    """What :func:`follow` saw last (the object's final state once it returns)."""

    backup: VeleroBackup | None = None
    restore: VeleroRestore | None = None

    @property
    def last(self) -> VeleroBackup | VeleroRestore | None:
        return self.backup or self.restore


async def follow(ctx: StepContext, kind: Kind, name: str, *, timeout: int,
                 seen: Followed) -> AsyncIterator[StepOutput]:
    """Progress and phase changes of a Backup/Restore until a final phase; the last state
    is left in ``seen``. StepFailed if it does not finish within ``timeout``."""
    reader = await ctx.kube()
    word = kind.lower()
    verb = "restored" if kind == "Restore" else "backed up"
    last = None
    async for obj in reader.watch_object(kind, name, timeout=timeout,
                                         namespace=ctx.env.kubernetes.velero_namespace):
        state: VeleroBackup | VeleroRestore
        if kind == "Backup":
            state = seen.backup = velero_backup(obj, datetime.now(UTC))
        else:
            state = seen.restore = velero_restore(obj)
        if state.items_total:
            yield Progress(state.items_done, state.items_total, f"items {verb}")
        shown = (state.phase or "New", state.items_done, state.items_total)
        if shown != last:
            yield (f"{word} {name}: {shown[0]}"
                   + (f", {state.items_done}/{state.items_total} items" if state.items_total
                      else ""))
            last = shown
        if state.phase in FINAL:
            return
    raise StepFailed(f"{word} {name} did not finish within {timeout}s "
                     f"(last phase {last[0] if last else 'unknown'})")


def velero_backup_step(step_id: str, title: str, explanation: str, *,
                       name: Callable[[StepContext], str],
                       namespaces: Callable[[StepContext], Sequence[str]],
                       wait_seconds: int = 3600, risk: Risk = Risk.CHANGE) -> Step:
    """Create a Velero backup (reusing one of that name already there: a retried step)
    and follow it to Completed, verified: no errors, and every item counted backed up."""

    def op(ctx: StepContext) -> CreateVeleroBackup:
        return CreateVeleroBackup(name(ctx), tuple(dict.fromkeys(namespaces(ctx))))

    def plan(ctx: StepContext) -> Plan:
        backup = op(ctx)
        return kube_plan(ctx, f"Create Velero backup {backup.name} of "
                              f"{', '.join(backup.namespaces)} and wait until it is Completed",
                         [backup])

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        backup = op(ctx)
        existing = await (await ctx.kube()).backup(backup.name)
        if existing is None:
            yield await (await ctx.mutations.kube()).apply(backup)
        else:
            yield (f"backup {backup.name} already exists (phase {existing.phase or 'New'}); "
                   "following it")
        seen = Followed()
        async for item in follow(ctx, "Backup", backup.name, timeout=wait_seconds, seen=seen):
            yield item
        final = seen.backup
        assert final is not None
        for line in outcome_lines(final):
            yield line
        if final.phase != "Completed" or final.errors:
            raise StepFailed(f"backup {backup.name} ended {final.phase or 'New'} with "
                             f"{final.errors} errors: do not go on without a good backup "
                             f"(delete it with `velero backup delete {backup.name}` and run "
                             "this step again)")
        if final.items_total is not None and final.items_done < final.items_total:
            raise StepFailed(f"backup {backup.name} Completed with only {final.items_done} "
                             f"of {final.items_total} items backed up")
        counted = f", {final.items_done} items" if final.items_total is not None else ""
        yield f"backup {backup.name} Completed{counted}"

    return Step(step_id, title, explanation, risk, plan, run, timeout=wait_seconds + 60)
