"""The ``backup-verification`` wizard — the guide's "Daily Backup Verification", read only.

One step per item, each showing what the guide's command shows and recording a verdict with
its reason; the summary fails if any item failed. Velero backups and S3 dumps are read by
the dashboard's backups collector (``ctx.collect("backups")``, one look shared by the
first two steps) and judged by the dashboard's rules; the Velero item also needs the
latest backup's storage location ``Available``. The newest dump is then *read* with the
real ``pg_restore`` (:mod:`.dump_check`: size against its predecessors, table of contents
with the expected tables, every data block to its end), so a truncated dump fails. The
backup job is the newest one its CronJob owns (:mod:`.backup_job`): completed, a success
line, no error line ("0 errors" is not one). Optionally (``trial_restore``: a scratch
server) the dump is restored for real, timed and counted (:mod:`.dump_trial`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from console.collectors.backups_model import BackupsSnapshot
from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.rules_backups import evaluate_backups
from console.health.status import Status

from ..library.units import human_age, human_size
from ..library.velero import describe_backup
from . import backup_job
from .backup_job import SUCCESS_OR_ERROR, is_error_line
from .dump_check import TABLES, check_dump, table_names
from .dump_trial import TRIAL, TrialResult, trial_restore
from .s3_dumps import list_dumps
from .velero_location import backup_locations, location_state


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
                              "--sort-by=.metadata.creationTimestamp"),
                 Plan.command("velero", "backup-location", "get")))


async def run_velero(ctx: StepContext) -> AsyncIterator[StepOutput]:
    snapshot = await _snapshot(ctx)
    if snapshot.velero_error:
        yield f"Velero backups unreadable: {snapshot.velero_error}"
    # the collector keeps the newest first; the guide's listing is oldest first
    for b in reversed(snapshot.velero):
        yield describe_backup(b)
    passed, reason = _finding(ctx, snapshot, "velero")
    if snapshot.velero:
        reader = await ctx.kube()
        for location in await backup_locations(ctx, reader, [b.name for b in snapshot.velero]):
            available, where = await location_state(ctx, reader, location)
            yield where
            if not available:
                passed = False
                reason = f"{reason}; but {where}"
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


# ---- 3. the newest dump, read ----------------------------------------------------------
def plan_contents(ctx: StepContext) -> Plan:
    a = ctx.env.aws
    key = ctx.cache.get("verification.newest") or "<newest dump>"
    return Plan("Download the newest dump and read it with pg_restore: its size against the "
                "earlier ones, its table of contents with the expected tables "
                f"({ctx.values.get('expected_tables') or 'critical_table'}), every data block "
                "to its end (a truncated dump fails here)",
                (Plan.command("aws", "s3", "cp", f"s3://{a.s3_backup_bucket}/{key}",
                              "/tmp/dump"),
                 Plan.command("pg_restore", "--list", "/tmp/dump"),
                 Plan.command("pg_restore", "--file=/dev/null", "/tmp/dump")))


async def run_contents(ctx: StepContext) -> AsyncIterator[StepOutput]:
    dumps = await list_dumps(ctx)
    if not dumps:
        _verdicts(ctx)["Dump contents"] = (False, "no dump to read")
        yield "FAIL: no dump to read"
        return
    newest = dumps[0]
    ctx.cache["verification.newest"] = newest.key
    yield f"reading {newest.key} ({human_size(newest.size)})"
    check = await check_dump(ctx, newest, dumps[1:], table_names(ctx.values.get(
        "expected_tables")))
    for line in check.lines:
        yield line
    _verdicts(ctx)["Dump contents"] = (check.ok, check.verdict())
    yield f"{'PASS' if check.ok else 'FAIL'}: {check.verdict()}"


# ---- 4. optional trial restore --------------------------------------------------------
def plan_trial(ctx: StepContext) -> Plan:
    server = ctx.values.get("trial_restore") or "<scratch server>"
    return Plan(f"On {server}: create a scratch database, restore the newest dump into it "
                "(timed: the restore part of the RTO), count the expected tables, drop it",
                (Plan.command("psql", server, "-c", "CREATE DATABASE mcp_ops_trial_<random>"),
                 Plan.command("pg_restore", "--no-owner", "--no-acl", "--single-transaction",
                              "--exit-on-error", "-d", f"{server}/mcp_ops_trial_<random>",
                              "/tmp/dump"),
                 Plan.command("psql", server, "-c", "DROP DATABASE mcp_ops_trial_<random>")))


async def run_trial(ctx: StepContext) -> AsyncIterator[StepOutput]:
    dumps = await list_dumps(ctx)
    if not dumps or dumps[0].size == 0:
        _verdicts(ctx)["Trial restore"] = (False, "no non-empty dump to restore")
        yield "FAIL: no non-empty dump to restore"
        return
    result = TrialResult()
    tables = table_names(ctx.values.get("expected_tables"))
    async for line in trial_restore(ctx, dumps[0].key, dumps[0].size,
                                    str(ctx.values["trial_restore"]), tables, result):
        yield line
    if result.restored:
        counts = ", ".join(f"{t} {n}" for t, n in result.counts.items())
        passed, reason = (all(isinstance(n, int) for n in result.counts.values()),
                          f"{dumps[0].key} restored in {result.seconds:.1f}s (restore part "
                          f"of the RTO); rows: {counts}")
    else:
        passed, reason = False, result.error
    _verdicts(ctx)["Trial restore"] = (passed, reason)
    yield f"{'PASS' if passed else 'FAIL'}: {reason}"


# ---- 5. the backup job ----------------------------------------------------------------
def job_name(ctx: StepContext) -> str:
    return backup_job.dated_name(ctx)


def plan_job(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    cron = backup_job.cronjob_name(ctx)
    return Plan(f"Find the newest job of cronjob/{cron} (or today's {job_name(ctx)}): it must "
                "have completed within the backup age threshold and its log must say success "
                "and report no error (\"0 errors\" is not one)",
                (Plan.command("kubectl", "get", "jobs", "-n", k.namespace,
                              "--sort-by=.metadata.creationTimestamp"),
                 Plan.command("kubectl", "logs", "-n", k.namespace, "job/<newest>")
                 + " | grep -i 'success\\|error'"))


async def run_job(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    job = await backup_job.newest_backup_job(ctx, reader)
    if job is None:
        reason = (f"no job of cronjob/{backup_job.cronjob_name(ctx)} and no job "
                  f"{job_name(ctx)} found")
        _verdicts(ctx)["Backup job"] = (False, reason)
        yield f"FAIL: {reason}"
        return
    name = job["metadata"]["name"]
    finished, state = backup_job.job_state(job)
    age = backup_job.age_hours(job)
    yield f"job/{name}: {state}" + (f", started {human_age(age)} ago" if age is not None else "")
    pods = await reader.pods(f"job-name={name}")
    pods.sort(key=lambda p: -p.age_seconds)  # the newest last
    lines: list[str] = []
    for pod in pods[-1:]:
        lines = (await reader.pod_log(pod.name)).splitlines()
    matches = [line for line in lines if SUCCESS_OR_ERROR.search(line)]
    for line in matches:
        yield f"  {line}"
    errors = [line for line in matches if is_error_line(line)]
    successes = [line for line in matches if not is_error_line(line)]
    max_age = ctx.env.thresholds.backup_max_age_hours
    if not pods:
        passed, reason = False, f"job {name} has no pod left to read a log from"
    elif errors:
        passed, reason = False, f"job {name} logged an error: {errors[-1].strip()[:160]}"
    elif not successes:
        passed, reason = False, f"job {name} logged no success line"
    elif not finished:
        passed, reason = False, f"job {name} {state}"
    elif age is not None and age > max_age:
        passed, reason = False, (f"the newest job, {name}, started {human_age(age)} ago "
                                 f"(more than {max_age} h)")
    else:
        passed, reason = True, f"job {name} {state}; log says: {successes[-1].strip()[:120]}"
    _verdicts(ctx)["Backup job"] = (passed, reason)
    yield f"{'PASS' if passed else 'FAIL'}: {reason}"


# ---- 6. summary ------------------------------------------------------------------------
ITEMS = ("Velero backups", "S3 database dumps", "Dump contents", "Backup job")


def plan_summary(ctx: StepContext) -> Plan:
    return Plan("Pass or fail per item, with the reason; any failed item fails the check")


async def run_summary(ctx: StepContext) -> AsyncIterator[StepOutput]:
    verdicts = _verdicts(ctx)
    failed = []
    items = ITEMS + (("Trial restore",) if ctx.values.get("trial_restore") else ())
    for item in items:
        passed, reason = verdicts.get(item, (False, "not checked in this run"))
        yield f"{'PASS' if passed else 'FAIL'}  {item}: {reason}"
        if not passed:
            failed.append(item)
    if failed:
        raise StepFailed(f"{len(failed)} of {len(items)} backup checks failed: "
                         + ", ".join(failed))
    yield f"all {len(items)} backup checks passed"


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
        Step("dump-contents", "The newest dump, read", "pg_restore reads the dump: its table "
             "of contents must hold the expected tables and every data block must be there; "
             "its size must be plausible against the earlier dumps.", Risk.READ,
             plan_contents, run_contents, inputs=(TABLES, TRIAL), timeout=1800),
        Step("trial-restore", "Trial restore (optional)", "Restore the dump into a scratch "
             "database on a scratch server, count the key tables, drop it: the time taken is "
             "the restore part of the RTO.", Risk.CHANGE, plan_trial, run_trial,
             applies=lambda v: bool(v.get("trial_restore")), timeout=7200),
        Step("backup-job", "The backup job", "The newest job of the backup CronJob: it must "
             "have completed, report success and no error.", Risk.READ, plan_job, run_job,
             timeout=60),
        Step("summary", "Summary", "Each item passes or fails with its reason.", Risk.READ,
             plan_summary, run_summary),
    ),
)
