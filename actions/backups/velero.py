"""Velero Backups and Restores as the ``velero`` CLI makes and shows them, without the CLI.

``velero restore create --from-backup B`` creates a ``velero.io/v1`` Restore named
``B-<YYYYMMDDHHMMSS>`` (the CLI's local time); ``velero backup create NAME`` a Backup. Both
then move through phases that :func:`follow` watches (one watch stream), reporting
``status.progress`` as a progress bar until a final phase. The listing mirrors
``kubectl get backups -n velero --sort-by=.metadata.creationTimestamp``; that order
(:func:`by_creation`) and the listing line are the collectors' own, so "the newest
Completed backup" here is the dashboard's "latest backup".
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from console.collectors.backups_model import VeleroBackup
from console.collectors.velero_parse import by_creation, velero_backup

from console.execution.model import Progress, StepFailed, StepOutput
from .cluster import ClusterReads
from .s3_dumps import human_age

FINAL = ("Completed", "PartiallyFailed", "Failed", "FailedValidation")
RESTORABLE = ("Completed", "PartiallyFailed")
PROGRESS_FIELD = {"backups": "itemsBackedUp", "restores": "itemsRestored"}


def restore_name(backup: str, now: datetime | None = None) -> str:
    """The name ``velero restore create --from-backup`` gives: ``<backup>-<timestamp>``."""
    return f"{backup}-{(now or datetime.now()):%Y%m%d%H%M%S}"


def restore_manifest(name: str, backup: str) -> dict[str, Any]:
    """What the CLI sends for ``velero restore create NAME --from-backup BACKUP``: every
    namespace of the backup; Velero's server adds its default exclusions (nodes, events,
    its own objects) and leaves existing objects alone (``existingResourcePolicy: none``)."""
    return {"apiVersion": "velero.io/v1", "kind": "Restore",
            "metadata": {"name": name, "labels": {"velero.io/backup-name": backup}},
            "spec": {"backupName": backup, "includedNamespaces": ["*"],
                     "itemOperationTimeout": "4h0m0s"}}


def backup_manifest(name: str, namespaces: list[str], ttl: str = "720h0m0s") -> dict[str, Any]:
    """``velero backup create NAME --include-namespaces NS[,NS]``."""
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": name, "labels": {"velero.io/storage-location": "default"}},
            "spec": {"includedNamespaces": namespaces, "storageLocation": "default",
                     "ttl": ttl, "snapshotVolumes": True, "defaultVolumesToFsBackup": False,
                     "itemOperationTimeout": "4h0m0s", "csiSnapshotTimeout": "10m0s"}}


def phase(obj: dict[str, Any] | None) -> str:
    return ((obj or {}).get("status") or {}).get("phase") or "New"


def describe_backup(backup: dict[str, Any] | VeleroBackup, now: datetime | None = None) -> str:
    """One listing line (name, phase, age, errors, warnings), the same in every wizard; a
    raw Backup object is read by the collectors' parser, so its age means the same too."""
    if isinstance(backup, dict):
        backup = velero_backup(backup, now or datetime.now(UTC))
    return (f"{backup.name:<40} {backup.phase or 'New':<16} age {human_age(backup.age_hours):>6}  "
            f"errors {backup.errors}  warnings {backup.warnings}")


async def restorable_backups(ctx: Any) -> list[str]:
    """Backups a restore can start from (Completed or PartiallyFailed), newest first."""
    reads = ClusterReads(await ctx.kube())
    backups = by_creation(await reads.velero_list("backups"))
    return [b["metadata"]["name"] for b in reversed(backups) if phase(b) in RESTORABLE]


async def newest_completed(ctx: Any) -> str | None:
    reads = ClusterReads(await ctx.kube())
    backups = by_creation(await reads.velero_list("backups"))
    done = [b["metadata"]["name"] for b in backups if phase(b) == "Completed"]
    return done[-1] if done else None


def outcome_lines(obj: dict[str, Any]) -> list[str]:
    """Warnings, errors and reasons, as ``velero ... describe`` sums them up."""
    status = obj.get("status") or {}
    lines = [f"phase {phase(obj)}: {int(status.get('warnings') or 0)} warnings, "
             f"{int(status.get('errors') or 0)} errors"]
    if status.get("failureReason"):
        lines.append(f"failure reason: {status['failureReason']}")
    for problem in status.get("validationErrors") or []:
        lines.append(f"validation error: {problem}")
    return lines


async def follow(reads: ClusterReads, plural: str, name: str, *, timeout: int,
                 holder: dict[str, Any]) -> AsyncIterator[StepOutput]:
    """Progress and phase changes of a Backup/Restore until a final phase; the last object
    is left in ``holder["object"]``. StepFailed if it does not finish within ``timeout``."""
    field = PROGRESS_FIELD[plural]
    last = None
    async for obj in reads.watch_velero(plural, name, timeout):
        holder["object"] = obj
        status = obj.get("status") or {}
        progress = status.get("progress") or {}
        total, done = progress.get("totalItems"), progress.get(field, 0)
        if total:
            yield Progress(done, total, f"items {'restored' if plural == 'restores' else 'backed up'}")
        shown = (phase(obj), done, total)
        if shown != last:
            yield f"{plural[:-1]} {name}: {phase(obj)}" + (f", {done}/{total} items" if total else "")
            last = shown
        if phase(obj) in FINAL:
            return
    raise StepFailed(f"{plural[:-1]} {name} did not finish within {timeout}s "
                     f"(last phase {last[0] if last else 'unknown'})")
