"""Backup rules: the latest Velero backup and the latest S3 dump must be recent and whole.

"Latest" skips backups still running: a backup in progress says nothing yet about whether
last night's worked. Besides the newest backup of all, the newest of every Velero schedule
is judged too: last night's scheduled backup failing is critical even when a one-off or
cross-region backup finished after it.
"""

from __future__ import annotations

from console.collectors.backups_model import BackupsSnapshot, VeleroBackup
from console.config.model import Thresholds

from .status import Finding, Status, fmt_num

C = "backups"
RUNNING = ("New", "InProgress", "WaitingForPluginOperations", "Finalizing", "")


def evaluate_backups(snap: BackupsSnapshot, t: Thresholds) -> list[Finding]:
    if snap.error:
        return [Finding(C, "collect", Status.UNKNOWN, f"backups not checked: {snap.error}")]
    return [_velero(snap, t), _s3(snap, t)]


def _velero(snap: BackupsSnapshot, t: Thresholds) -> Finding:
    if snap.velero_error:
        return Finding(C, "velero", Status.UNKNOWN, f"Velero backups unreadable: {snap.velero_error}")
    finished = [b for b in snap.velero if b.phase not in RUNNING]  # newest first
    if not finished:
        return Finding(C, "velero", Status.CRITICAL, "no finished Velero backup")
    judged = [finished[0]]
    schedules = {finished[0].schedule}
    for b in finished[1:]:
        if b.schedule and b.schedule not in schedules:
            schedules.add(b.schedule)
            judged.append(b)
    verdicts = [_one_backup(b, t) for b in judged]
    # worst first; on a tie a scheduled backup first (it is the one expected every night)
    verdicts.sort(key=lambda pair: (-pair[0].status, not pair[1].schedule))
    worst = verdicts[0][0]
    return Finding(C, "velero", worst.status, "; ".join(f.reason for f, _ in verdicts),
                   worst.value)


def _one_backup(b: VeleroBackup, t: Thresholds) -> tuple[Finding, VeleroBackup]:
    age = f"{fmt_num(b.age_hours)} h ago" if b.age_hours is not None else "age unknown"
    counts = f" ({b.errors} errors, {b.warnings} warnings)" if b.errors or b.warnings else ""
    schedule = f" (schedule {b.schedule})" if b.schedule else ""
    text = f"latest Velero backup {b.name} {b.phase} {age}{counts}{schedule}"
    if b.phase in ("Failed", "FailedValidation"):
        status = Status.CRITICAL
    elif b.phase != "Completed":
        status = Status.WARNING
    elif b.age_hours is None or b.age_hours >= t.backup_max_age_hours:
        status, text = Status.WARNING, f"{text} ≥ {fmt_num(t.backup_max_age_hours)} h"
    else:
        status = Status.HEALTHY
    return Finding(C, "velero", status, text, b.age_hours), b


def _s3(snap: BackupsSnapshot, t: Thresholds) -> Finding:
    where = f"s3://{snap.s3_bucket}/{snap.s3_prefix}"
    if snap.s3_error:
        return Finding(C, "s3", Status.UNKNOWN, f"S3 dumps unreadable ({where}): {snap.s3_error}")
    if not snap.s3:
        return Finding(C, "s3", Status.CRITICAL, f"no database dump under {where}")
    d = snap.s3[0]
    text = f"latest dump {d.key} {_size(d.size_bytes)} {fmt_num(d.age_hours)} h ago"
    if d.size_bytes == 0:
        return Finding(C, "s3", Status.CRITICAL, f"{text}: empty file", d.age_hours)
    if d.age_hours >= t.backup_max_age_hours:
        return Finding(C, "s3", Status.WARNING,
                       f"{text} ≥ {fmt_num(t.backup_max_age_hours)} h", d.age_hours)
    return Finding(C, "s3", Status.HEALTHY, text, d.age_hours)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
