"""Velero Backups and Restores (velero.io/v1), moved through Velero's real phases.

Backup: New -> InProgress (``startTimestamp``, ``progress.totalItems`` /
``itemsBackedUp`` rising) -> Completed (``completionTimestamp``, ``expiration``), or
PartiallyFailed (``warnings``/``errors``) or Failed (``failureReason``) when told: an
annotation ``sandbox.mcp-ops/outcome`` on the object, or ``chaos.set_velero_outcome``.
A completed backup keeps a snapshot of its namespaces' objects (:mod:`.velero_content`),
and its resource list goes to the location's bucket when one is attached
(:mod:`.velero_store`); a Restore re-creates what is missing from it; what exists is left (``none``, a
warning when it differs) or patched back (``existingResourcePolicy: update``), as Velero
does. A Restore naming a backup that
does not exist ends FailedValidation with Velero's validation message. A daily schedule
creates ``daily-backup-YYYYMMDD`` at 02:00 emulated time.
"""

from __future__ import annotations

import math

from ..store import Obj
from .base import Controller, Key, parse_time
from .chaos import state as chaos_state
from .velero_content import count_items, restore_items, snapshot
from .velero_store import publish

OUTCOME_ANNOTATION = "sandbox.mcp-ops/outcome"
STEP_SECONDS = 1.0  # emulated seconds between progress updates
STEPS = 5  # progress updates before finishing
DEFAULT_TTL = "720h0m0s"


def _ttl_seconds(ttl: str) -> float:
    total, number = 0.0, ""
    for ch in ttl or DEFAULT_TTL:
        if ch.isdigit() or ch == ".":
            number += ch
        else:
            total += float(number or 0) * {"h": 3600, "m": 60, "s": 1}.get(ch, 0)
            number = ""
    return total or 720 * 3600.0


SCHEDULE_KEY = ("velero", "")  # not an object: the daily schedule's own wake-up


def daily_backup(name: str, created: str, *, namespaces: list[str] | None = None) -> Obj:
    """A Backup as the production schedule creates it."""
    return {
        "apiVersion": "velero.io/v1",
        "kind": "Backup",
        "metadata": {"name": name, "namespace": "velero", "creationTimestamp": created,
                     "labels": {"velero.io/storage-location": "default",
                                "velero.io/schedule-name": "daily-backup"}},
        "spec": {"includedNamespaces": namespaces or ["mcp-production"],
                 "storageLocation": "default", "ttl": DEFAULT_TTL,
                 "snapshotVolumes": True, "defaultVolumesToFsBackup": False,
                 "itemOperationTimeout": "4h0m0s", "csiSnapshotTimeout": "10m0s"},
    }


class _Phased(Controller):
    """Shared stepping: outcome lookup and status writing."""

    kind = ""

    def outcome(self, obj: Obj) -> str:
        wanted = (obj["metadata"].get("annotations") or {}).get(OUTCOME_ANNOTATION)
        return wanted or chaos_state(self.cluster).velero_outcome.get(self.kind, "Completed")


class BackupController(_Phased):
    primary = "backups.velero.io"
    kind = "backups"
    component = "velero"

    def all_keys(self):
        return [*super().all_keys(), SCHEDULE_KEY]

    def sync(self, key: Key) -> None:
        if key == SCHEDULE_KEY:
            self._daily_schedule()
            return
        backup = self.store.peek(self.primary, *key)
        if backup is None:
            self.cluster.extras.get("velero_contents", {}).pop(key[1], None)
            return
        status = dict(backup.get("status") or {})
        phase = status.get("phase") or "New"
        now = self.now()
        spec = backup.get("spec") or {}
        if phase == "New":
            created = parse_time(backup["metadata"].get("creationTimestamp")) or self.clock.now()
            status.update({
                "phase": "InProgress", "version": 1, "formatVersion": "1.1.0",
                "startTimestamp": now,
                "expiration": self.clock.timestamp(created + _ttl_seconds(spec.get("ttl"))),
                "progress": {"totalItems": count_items(self.store, spec), "itemsBackedUp": 0},
            })
            self.write_status(self.primary, key, status)
            self._ensure_labels(key, spec)
            self.requeue(key, STEP_SECONDS)
        elif phase == "InProgress":
            progress = dict(status.get("progress") or {})
            total, done = progress.get("totalItems", 0), progress.get("itemsBackedUp", 0)
            if done < total:
                progress["itemsBackedUp"] = min(total, done + max(1, math.ceil(total / STEPS)))
                status["progress"] = progress
                self.write_status(self.primary, key, status)
                self.requeue(key, STEP_SECONDS)
                return
            self._finish(key, backup, status, now)

    def _daily_schedule(self) -> None:
        """While the ``daily-backup`` Schedule exists and is not paused, create today's
        ``daily-backup-YYYYMMDD`` once 02:00 (emulated, UTC) has passed, as the production
        schedule does, record it as the schedule's ``lastBackup``, and look again at the
        next 02:00. (Only this one schedule is emulated, at its fixed time.)"""
        now = self.clock.now()
        day = self.clock.datetime().replace(hour=2, minute=0, second=0, microsecond=0)
        due = day.timestamp()
        schedule = self.store.peek("schedules.velero.io", "velero", "daily-backup")
        if now >= due and schedule is not None and not schedule.get("spec", {}).get("paused"):
            name = f"daily-backup-{day:%Y%m%d}"
            if self.store.peek(self.primary, "velero", name) is None:
                created = self.clock.timestamp(due)
                self.store.create(self.primary, daily_backup(name, created))
                self.mutate("schedules.velero.io", ("velero", "daily-backup"),
                            lambda o: o.setdefault("status", {}).update(
                                phase="Enabled", lastBackup=created))
            due += 86400
        self.requeue(SCHEDULE_KEY, max(1.0, due - now))

    def _ensure_labels(self, key: Key, spec: Obj) -> None:
        location = spec.get("storageLocation") or "default"

        def label(o: Obj) -> None:
            o["metadata"].setdefault("labels", {})["velero.io/storage-location"] = location

        labels = (self.store.peek(self.primary, *key) or {}).get("metadata", {}).get("labels")
        if (labels or {}).get("velero.io/storage-location") != location:
            self.mutate(self.primary, key, label)

    def _finish(self, key: Key, backup: Obj, status: Obj, now: str) -> None:
        outcome = self.outcome(backup)
        status["completionTimestamp"] = now
        progress = dict(status.get("progress") or {})
        if outcome == "Failed":
            status["phase"] = "Failed"
            status["failureReason"] = ("error getting backup store for location \"default\": "
                                       "rpc error: code = Unknown desc = AccessDenied: Access "
                                       "Denied status code: 403")
            progress["itemsBackedUp"] = progress.get("itemsBackedUp", 0) // 2
            status["progress"] = progress
        elif outcome == "PartiallyFailed":
            status["phase"] = "PartiallyFailed"
            status["errors"], status["warnings"] = 2, 3
            progress["itemsBackedUp"] = max(0, progress.get("totalItems", 0) - 2)
            status["progress"] = progress
        else:
            status["phase"] = "Completed"
        if status["phase"] != "Failed":
            self.cluster.extras.setdefault("velero_contents", {})[key[1]] = snapshot(
                self.store, backup.get("spec") or {})
            publish(self.cluster, backup)  # its resource list, into the bucket if attached
        self.write_status(self.primary, key, status)
        self.event(backup, "Normal" if status["phase"] == "Completed" else "Warning",
                   f"Backup{status['phase']}", f"Backup {key[1]} {status['phase']}")


class RestoreController(_Phased):
    primary = "restores.velero.io"
    kind = "restores"
    component = "velero"

    def sync(self, key: Key) -> None:
        restore = self.store.peek(self.primary, *key)
        if restore is None:
            return
        status = dict(restore.get("status") or {})
        phase = status.get("phase") or "New"
        now = self.now()
        spec = restore.get("spec") or {}
        if phase == "New":
            errors = self._validate(key, spec)
            if errors:
                status.update(phase="FailedValidation", validationErrors=errors,
                              completionTimestamp=now)
                self.write_status(self.primary, key, status)
                return
            backup = self.store.peek("backups.velero.io", key[0], spec["backupName"])
            total = ((backup or {}).get("status", {}).get("progress") or {}).get(
                "itemsBackedUp", 0)
            status.update(phase="InProgress", startTimestamp=now,
                          progress={"totalItems": total, "itemsRestored": 0})
            self.write_status(self.primary, key, status)
            self.requeue(key, STEP_SECONDS)
        elif phase == "InProgress":
            progress = dict(status.get("progress") or {})
            total, done = progress.get("totalItems", 0), progress.get("itemsRestored", 0)
            if done < total:
                progress["itemsRestored"] = min(total, done + max(1, math.ceil(total / STEPS)))
                status["progress"] = progress
                self.write_status(self.primary, key, status)
                self.requeue(key, STEP_SECONDS)
                return
            self._finish(key, restore, spec, status, now)

    def _validate(self, key: Key, spec: Obj) -> list[str]:
        if bool(spec.get("backupName")) == bool(spec.get("scheduleName")):
            return ["Either a backup or schedule must be specified as a source for the restore, "
                    "but not both"]
        if not spec.get("backupName"):
            return ["No backups found for schedule"]
        backup = self.store.peek("backups.velero.io", key[0], spec["backupName"])
        if backup is None:
            return [f'Error retrieving backup: backups.velero.io "{spec["backupName"]}" '
                    "not found"]
        phase = (backup.get("status") or {}).get("phase")
        if phase not in ("Completed", "PartiallyFailed"):
            return [f"backup {spec['backupName']} is in phase {phase or 'New'}; only Completed "
                    "and PartiallyFailed backups can be restored"]
        return []

    def _finish(self, key: Key, restore: Obj, spec: Obj, status: Obj, now: str) -> None:
        outcome = self.outcome(restore)
        status["completionTimestamp"] = now
        if outcome == "Failed":
            status["phase"] = "Failed"
            status["failureReason"] = "error downloading backup: rpc error: code = Unknown " \
                                      "desc = NoSuchKey: The specified key does not exist."
            self.write_status(self.primary, key, status)
            return
        contents = self.cluster.extras.get("velero_contents", {}).get(spec["backupName"], [])
        result = restore_items(self.store, contents, spec, key[1])
        self.cluster.extras.setdefault("velero_restore_lists", {})[key[1]] = result.items
        warnings = len(result.warnings)
        errors = 0
        if outcome == "PartiallyFailed":
            errors, warnings = 2, warnings + 1
        status["phase"] = outcome if outcome == "PartiallyFailed" else "Completed"
        if warnings:
            status["warnings"] = warnings
        if errors:
            status["errors"] = errors
        self.write_status(self.primary, key, status)
        self.event(restore, "Normal", f"Restore{status['phase']}",
                   f"Restore {key[1]} {status['phase']}: {result.created} items created, "
                   f"{result.updated} updated, {result.skipped} skipped (already there)")
