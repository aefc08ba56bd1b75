"""The backups snapshot: the latest Velero backups and the latest S3 database dumps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .base import Snapshot


@dataclass(frozen=True, kw_only=True)
class VeleroBackup:
    name: str
    phase: str = ""
    age_hours: float | None = None  # since completion (else start, else creation)
    errors: int = 0
    warnings: int = 0
    schedule: str = ""
    created_at: datetime | None = None  # what "latest" is ordered by (velero_parse)
    items_done: int = 0  # status.progress.itemsBackedUp
    items_total: int | None = None  # status.progress.totalItems, once Velero knows it
    failure_reason: str = ""
    validation_errors: tuple[str, ...] = ()
    namespaces: tuple[str, ...] = ()  # spec.includedNamespaces


@dataclass(frozen=True, kw_only=True)
class VeleroRestore:
    """A ``velero.io/v1`` Restore, as ``velero restore describe`` sums it up."""

    name: str
    backup: str = ""  # spec.backupName
    phase: str = ""
    errors: int = 0
    warnings: int = 0
    items_done: int = 0  # status.progress.itemsRestored
    items_total: int | None = None
    failure_reason: str = ""
    validation_errors: tuple[str, ...] = ()
    created_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class S3Dump:
    key: str
    size_bytes: int = 0
    age_hours: float = 0.0


@dataclass(frozen=True, kw_only=True)
class BackupsSnapshot(Snapshot):
    velero: tuple[VeleroBackup, ...] = ()  # most recently created first
    velero_error: str | None = None
    s3_bucket: str = ""
    s3_prefix: str = ""
    s3: tuple[S3Dump, ...] = ()  # newest first
    s3_error: str | None = None
