"""Velero Backup objects -> :class:`VeleroBackup` records, and the one order they come in.

"The latest backup" must mean the same thing on the dashboard, in ``mcp-ops check`` and in
the wizards that offer a backup to restore from, or an operator would be told one backup is
the latest and then be offered another. The order is the runbook's:
``kubectl get backups -n velero --sort-by=.metadata.creationTimestamp``, name breaking ties.
A backup's *age* is another matter — how old its data is once it finished — so it counts
from completion (else start, else creation).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .backups_model import VeleroBackup, VeleroRestore
from .kube_parse import parse_time

_NEVER = datetime.min.replace(tzinfo=UTC)


def created_at(obj: dict[str, Any]) -> datetime | None:
    return parse_time((obj.get("metadata") or {}).get("creationTimestamp"))


def _creation_key(obj: dict[str, Any]) -> tuple[datetime, str]:
    when = created_at(obj) or _NEVER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when, (obj.get("metadata") or {}).get("name", "")


def by_creation(backups: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Oldest first, as ``--sort-by=.metadata.creationTimestamp`` prints them."""
    return sorted(backups, key=_creation_key)


def velero_backup(obj: dict[str, Any], now: datetime) -> VeleroBackup:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    finished = (parse_time(status.get("completionTimestamp"))
                or parse_time(status.get("startTimestamp")) or created_at(obj))
    return VeleroBackup(
        name=meta.get("name", ""), phase=status.get("phase", ""),
        age_hours=(now - finished).total_seconds() / 3600 if finished else None,
        errors=int(status.get("errors") or 0), warnings=int(status.get("warnings") or 0),
        schedule=(meta.get("labels") or {}).get("velero.io/schedule-name", ""),
        created_at=created_at(obj),
        items_done=int(progress(obj).get("itemsBackedUp") or 0),
        items_total=_total(obj),
        failure_reason=status.get("failureReason") or "",
        validation_errors=tuple(status.get("validationErrors") or ()),
        namespaces=tuple((obj.get("spec") or {}).get("includedNamespaces") or ()),
    )


def velero_restore(obj: dict[str, Any]) -> VeleroRestore:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    return VeleroRestore(
        name=meta.get("name", ""), backup=(obj.get("spec") or {}).get("backupName", ""),
        phase=status.get("phase", ""), errors=int(status.get("errors") or 0),
        warnings=int(status.get("warnings") or 0),
        items_done=int(progress(obj).get("itemsRestored") or 0), items_total=_total(obj),
        failure_reason=status.get("failureReason") or "",
        validation_errors=tuple(status.get("validationErrors") or ()),
        created_at=created_at(obj),
    )


def progress(obj: dict[str, Any]) -> dict[str, Any]:
    return ((obj.get("status") or {}).get("progress")) or {}


def _total(obj: dict[str, Any]) -> int | None:
    total = progress(obj).get("totalItems")
    return int(total) if total else None


def newest_first(backups: Iterable[dict[str, Any]], now: datetime) -> list[VeleroBackup]:
    """Records of ``backups``, the most recently created first."""
    return [velero_backup(obj, now) for obj in reversed(by_creation(backups))]
