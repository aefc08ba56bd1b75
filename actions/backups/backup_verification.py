"""The ``backup-verification`` wizard — the guide's "Daily Backup Verification", read only.

Three items, each a step that shows what the guide's command shows and records a verdict
with its reason; the last step sums them up and fails if any item failed. Velero backups
and S3 dumps are read by the dashboard's backups collector (``ctx.collect("backups")``, that
collector alone, one look shared by the first two steps) and judged by the same rules as
the dashboard's backups panel (latest finished backup Completed and younger than
``thresholds.backup_max_age_hours``; latest dump non-empty and as young). Today's
``postgres-backup-YYYYMMDD`` job passes when it completed and its log has a success line
and no error line (the guide's ``grep -i "success\\|error"``).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from console.collectors.backups_model import BackupsSnapshot
from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.rules_backups import evaluate_backups
from console.health.status import Status

from ..library.units import human_age, human_size
from ..library.velero import describe_backup

SUCCESS_OR_ERROR = re.compile(r"success|error", re.IGNORECASE)
ERROR = re.compile(r"error", re.IGNORECASE)


def _verdicts(ctx: StepContext) -> dict[str, tuple[bool, str]]:
    verdicts: dict[str, tuple[bool, str]] = ctx.cache.setdefault("verification", {})
    return verdicts


async def _snapshot(ctx: StepContext) -> BackupsSnapshot:
    """One collection of Velero backups and S3 dumps, shared by the first two steps."""
    snapshot = await ctx.collect("backups", timeout=ctx.config.ui.source_timeout_seconds * 3,
                                 max_age=600)
    assert isinstance(snapshot, BackupsSnapshot)
    return snapshot


def _finding(ctx: StepContext, snapshot: BackupsSnapshot, check: str) -> tuple[bool, str]:
    for finding in evaluate_backups(snapshot, ctx.env.thresholds):
        if finding.check in (check, "collect"):
            return finding.status == Status.HEALTHY, finding.reason
    return False, f"no {check} verdict"


# ---- 1. Velero -------------------------------------------------------------------------
def plan_velero(ctx: StepContext) -> Plan:
    return Plan("List the Velero backups oldest to newest with phase, age, errors and "
                "warnings; the latest finished one must be Completed and recent",
                (Plan.command("kubectl", "get", "backups", "-n",
                              ctx.env.kubernetes.velero_namespace,
                              "--sort-by=.metadata.creationTimestamp"),))


async def run_velero(ctx: StepContext) -> AsyncIterator[StepOutput]:
    snapshot = await _snapshot(ctx)
    if snapshot.velero_error:
        yield f"Velero backups unreadable: {snapshot.velero_error}"
    # the collector keeps the newest first; the guide's listing is oldest first
    for b in reversed(snapshot.velero):
        yield describe_backup(b)
    passed, reason = _finding(ctx, snapshot, "velero")
    _verdicts(ctx)["Velero backups"] = (passed, reason)
    yield f"{'PASS' if passed else 'FAIL'}: {reason}"


# ---- 2. S3 dumps -----------------------------------------------------------------------
def plan_s3(ctx: StepContext) -> Plan:
    a = ctx.env.aws
    return Plan(f"List the database dumps under s3://{a.s3_backup_bucket}/{a.s3_backup_prefix} "
                "with sizes and ages; the newest must be non-empty and recent",
                (Plan.command("aws", "s3", "ls", f"s3://{a.s3_backup_bucket}/{a.s3_backup_prefix}",
                              "--recursive", "--human-readable"),))


async def run_s3(ctx: StepContext) -> AsyncIterator[StepOutput]:
    snapshot = await _snapshot(ctx)
    if snapshot.s3_error:
        yield f"S3 dumps unreadable: {snapshot.s3_error}"
    for d in reversed(snapshot.s3):
        yield f"{human_size(d.size_bytes):>12}  age {human_age(d.age_hours):>6}  {d.key}"
    passed, reason = _finding(ctx, snapshot, "s3")
    _verdicts(ctx)["S3 database dumps"] = (passed, reason)
    yield f"{'PASS' if passed else 'FAIL'}: {reason}"


# ---- 3. today's backup job -------------------------------------------------------------
def job_name(ctx: StepContext, today: datetime | None = None) -> str:
    return f"{ctx.env.kubernetes.backup_job_prefix}{(today or datetime.now(UTC)):%Y%m%d}"


def plan_job(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan(f"Read today's job {job_name(ctx)}: it must have completed and its log must "
                "say success and no error",
                (Plan.command("kubectl", "get", f"job/{job_name(ctx)}", "-n", k.namespace),
                 Plan.command("kubectl", "logs", "-n", k.namespace, f"job/{job_name(ctx)}")
                 + " | grep -i 'success\\|error'"))


def _job_state(job: dict[str, Any]) -> tuple[bool, str]:
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []
                  if c.get("status") == "True"}
    if "Failed" in conditions:
        return False, f"failed: {conditions['Failed'].get('message') or 'see its pods'}"
    if "Complete" in conditions or int(status.get("succeeded") or 0) > 0:
        return True, f"completed at {status.get('completionTime', '?')}"
    return False, f"not finished ({int(status.get('active') or 0)} active)"


async def run_job(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    name = job_name(ctx)
    job = await reader.raw("Job", name)
    if job is None:
        prefix = ctx.env.kubernetes.backup_job_prefix
        others = sorted(j["metadata"]["name"] for j in await reader.raw_list("Job")
                        if j["metadata"]["name"].startswith(prefix))
        reason = f"job {name} not found" + (f" (newest is {others[-1]})" if others else "")
        _verdicts(ctx)["Backup job"] = (False, reason)
        yield f"FAIL: {reason}"
        return
    finished, state = _job_state(job)
    yield f"job/{name}: {state}"
    pods = await reader.pods(f"job-name={name}")
    pods.sort(key=lambda p: -p.age_seconds)  # the newest last
    lines: list[str] = []
    for pod in pods[-1:]:
        lines = (await reader.pod_log(pod.name)).splitlines()
    matches = [line for line in lines if SUCCESS_OR_ERROR.search(line)]
    for line in matches:
        yield f"  {line}"
    errors = [line for line in matches if ERROR.search(line)]
    if not pods:
        passed, reason = False, f"job {name} has no pod left to read a log from"
    elif errors:
        passed, reason = False, f"job {name} logged an error: {errors[-1].strip()[:160]}"
    elif not matches:
        passed, reason = False, f"job {name} logged no success line"
    elif not finished:
        passed, reason = False, f"job {name} {state}"
    else:
        passed, reason = True, f"job {name} {state}; log says: {matches[-1].strip()[:120]}"
    _verdicts(ctx)["Backup job"] = (passed, reason)
    yield f"{'PASS' if passed else 'FAIL'}: {reason}"


# ---- 4. summary ------------------------------------------------------------------------
ITEMS = ("Velero backups", "S3 database dumps", "Backup job")


def plan_summary(ctx: StepContext) -> Plan:
    return Plan("Pass or fail per item, with the reason; any failed item fails the check")


async def run_summary(ctx: StepContext) -> AsyncIterator[StepOutput]:
    verdicts = _verdicts(ctx)
    failed = []
    for item in ITEMS:
        passed, reason = verdicts.get(item, (False, "not checked in this run"))
        yield f"{'PASS' if passed else 'FAIL'}  {item}: {reason}"
        if not passed:
            failed.append(item)
    if failed:
        raise StepFailed(f"{len(failed)} of {len(ITEMS)} backup checks failed: "
                         + ", ".join(failed))
    yield f"all {len(ITEMS)} backup checks passed"


WIZARD = Wizard(
    id="backup-verification", title="Backup verification",
    section="Backup and Recovery › Daily Backup Verification",
    when="Daily: are the Velero backups and database dumps there, recent and complete?",
    steps=(
        Step("velero-backups", "Velero backups", "Every night's Velero backup should be "
             "Completed without errors; the latest must be less than a day old.", Risk.READ,
             plan_velero, run_velero, timeout=60),
        Step("s3-dumps", "Database dumps in S3", "The nightly pg_dump lands in the backup "
             "bucket; the newest must be there, recent and not empty.", Risk.READ, plan_s3,
             run_s3, timeout=60),
        Step("backup-job", "Today's backup job", "The backup job's log is the integrity "
             "check: it must report success and no error.", Risk.READ, plan_job, run_job,
             timeout=60),
        Step("summary", "Summary", "Each item passes or fails with its reason.", Risk.READ,
             plan_summary, run_summary),
    ),
)
