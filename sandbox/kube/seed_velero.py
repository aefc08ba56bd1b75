"""The seeded world's Velero objects: a week of daily backups, the cross-region backup,
the storage locations they name and the schedule that makes the daily ones.

Backups are Completed at 02:00 each day (``daily-backup-YYYYMMDD``, 720 h TTL,
``includedNamespaces: [mcp-production]``), so the backup-verification wizard finds the
latest less than 26 hours old, as on a healthy production cluster.
"""

from __future__ import annotations

from datetime import UTC, datetime

from .clock import Clock
from .controllers.velero import daily_backup
from .store import Obj, Store

DAY = 86400.0


def _ago(clock: Clock, days: float) -> str:
    return clock.timestamp(clock.now() - days * DAY)


def backups(store: Store, clock: Clock) -> list[str]:
    """Seven completed daily backups at 02:00 and a cross-region one; returns their names."""
    today = clock.datetime().replace(hour=2, minute=0, second=0, microsecond=0).timestamp()
    newest = today if clock.now() >= today else today - DAY
    names = []
    for i in range(7):
        at = newest - i * DAY
        name = f"daily-backup-{datetime.fromtimestamp(at, UTC):%Y%m%d}"
        obj = daily_backup(name, clock.timestamp(at))
        obj["status"] = _completed(clock, at, 236 + i, 30)
        store.create("backups.velero.io", obj)
        names.append(name)
    at = newest + 3600
    if at > clock.now():
        at -= DAY
    cross = daily_backup("latest-cross-region-backup", clock.timestamp(at),
                         namespaces=["mcp-production", "monitoring"])
    cross["metadata"]["labels"] = {"velero.io/storage-location": "dr-eu-central-1"}
    cross["spec"]["storageLocation"] = "dr-eu-central-1"
    cross["status"] = _completed(clock, at, 318, 30)
    store.create("backups.velero.io", cross)
    names.append("latest-cross-region-backup")
    return names


def _completed(clock: Clock, at: float, items: int, ttl_days: int) -> Obj:
    return {
        "phase": "Completed", "version": 1, "formatVersion": "1.1.0",
        "startTimestamp": clock.timestamp(at + 1),
        "completionTimestamp": clock.timestamp(at + 240 + items % 60),
        "expiration": clock.timestamp(at + ttl_days * DAY),
        "progress": {"totalItems": items, "itemsBackedUp": items},
        "volumeSnapshotsAttempted": 2, "volumeSnapshotsCompleted": 2,
    }


def velero_config(store: Store, clock: Clock, newest_backup: str) -> None:
    """The storage locations the backups name, and the schedule behind the daily ones."""
    for name, region, default in (("default", "eu-south-1", True),
                                  ("dr-eu-central-1", "eu-central-1", False)):
        store.create("backupstoragelocations.velero.io", {
            "apiVersion": "velero.io/v1", "kind": "BackupStorageLocation",
            "metadata": {"name": name, "namespace": "velero", "creationTimestamp": _ago(clock, 300)},
            "spec": {"provider": "aws", "default": default, "accessMode": "ReadWrite",
                     "objectStorage": {"bucket": f"pratiko-velero-{region}", "prefix": "production"},
                     "config": {"region": region}},
            "status": {"phase": "Available", "lastValidationTime": _ago(clock, 0.0003),
                       "lastSyncedTime": _ago(clock, 0.0003)},
        })
    store.create("schedules.velero.io", {
        "apiVersion": "velero.io/v1", "kind": "Schedule",
        "metadata": {"name": "daily-backup", "namespace": "velero",
                     "creationTimestamp": _ago(clock, 300)},
        "spec": {"schedule": "0 2 * * *", "useOwnerReferencesInBackup": False,
                 "template": {"includedNamespaces": ["mcp-production"], "storageLocation": "default",
                              "ttl": "720h0m0s", "snapshotVolumes": True}},
        "status": {"phase": "Enabled", "lastBackup": newest_backup},
    })
