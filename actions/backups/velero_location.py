"""Where a Velero backup lives, and whether Velero can reach it.

A backup is only as good as its ``BackupStorageLocation``: when the location is
``Unavailable`` (credentials expired, bucket gone), new backups fail and restores cannot
read old ones, even though every Backup object still says Completed. The location is the
backup's ``spec.storageLocation`` (Velero's default location when empty).
"""

from __future__ import annotations

from typing import Any

from console.execution.context import StepContext
from console.execution.kube import KubeReader

VELERO = "velero.io/v1"


async def backup_location(ctx: StepContext, reader: KubeReader, backup: str) -> str:
    raw = await reader.raw("Backup", backup, namespace=ctx.env.kubernetes.velero_namespace,
                           api_version=VELERO)
    return str(((raw or {}).get("spec") or {}).get("storageLocation") or "default")


async def backup_locations(ctx: StepContext, reader: KubeReader,
                           backups: list[str]) -> list[str]:
    """The distinct storage locations of ``backups``, in their order."""
    raw = await reader.raw_list("Backup", namespace=ctx.env.kubernetes.velero_namespace,
                                api_version=VELERO)
    where = {b["metadata"]["name"]: str((b.get("spec") or {}).get("storageLocation")
                                        or "default") for b in raw}
    return list(dict.fromkeys(where[name] for name in backups if name in where))


async def location_state(ctx: StepContext, reader: KubeReader,
                         name: str) -> tuple[bool, str]:
    """(available, ``"location default: Available (validated 2026-...)"``)."""
    bsl: dict[str, Any] | None = await reader.raw(
        "BackupStorageLocation", name, namespace=ctx.env.kubernetes.velero_namespace,
        api_version=VELERO)
    if bsl is None:
        return False, f"backup storage location {name} not found"
    status = bsl.get("status") or {}
    phase = status.get("phase") or "Unknown"
    bucket = ((bsl.get("spec") or {}).get("objectStorage") or {}).get("bucket", "?")
    text = (f"backup storage location {name} (bucket {bucket}): {phase}"
            + (f", last validated {status['lastValidationTime']}"
               if status.get("lastValidationTime") else "")
            + (f" — {status['message']}" if status.get("message") else ""))
    return phase == "Available", text
