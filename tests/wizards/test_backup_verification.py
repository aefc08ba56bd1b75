"""``backup-verification`` on the Kubernetes emulator and moto: what passes, what fails and
why, and that it runs to its end in read-only mode (also through ``mcp-ops run``).

Failures are made the way they happen: the latest Velero backup marked Failed by its
controller's status, tonight's dump an empty object, and the backup job's container ending
in Error, whose log the emulator then writes with the dump error.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from conftest import cli, drive, sandbox_cli, sandbox_switch, write_config

pytestmark = pytest.mark.timeout(120)


def job_name() -> str:
    return f"postgres-backup-{datetime.now(UTC):%Y%m%d}"


def fail_backup_job(world) -> None:
    (pod,) = [p for p in world.store.iter("pods", "mcp-production")
              if (p["metadata"].get("labels") or {}).get("job-name") == job_name()]

    def errored(o):
        term = o["status"]["containerStatuses"][0]["state"]["terminated"]
        term.update(reason="Error", exitCode=1)
        o["status"]["phase"] = "Failed"

    world.store.mutate("pods", "mcp-production", pod["metadata"]["name"], errored)


def fail_latest_velero_backup(world) -> str:
    backups = [b for b in world.store.iter("backups.velero.io", "velero")
               if b["metadata"]["name"].startswith("daily-backup-")]
    latest = max(backups, key=lambda b: b["metadata"]["creationTimestamp"])["metadata"]["name"]

    def failed(o):
        o["status"].update(phase="Failed", errors=1, failureReason="AccessDenied")

    world.store.mutate("backups.velero.io", "velero", latest, failed)
    return latest


async def test_healthy_backups_pass_item_by_item(world):
    driven = await drive(world, "backup-verification")

    assert driven.statuses == {"velero-backups": "ok", "s3-dumps": "ok", "dump-contents": "ok",
                               "trial-restore": "skipped", "backup-job": "ok",
                               "summary": "ok"}, driven.text()
    text = driven.text()
    assert "PASS  Velero backups: latest Velero backup daily-backup-" in text
    assert "backup storage location default (bucket pratiko-velero-eu-south-1): Available" in text
    assert "PASS  Dump contents: dump production/postgres/" in text
    assert "public.critical_table" in text and "pg_restore read every data block" in text
    assert "PASS  S3 database dumps: latest dump production/postgres/" in text
    assert f"PASS  Backup job: job {job_name()} completed" in text
    assert "Backup completed successfully" in text  # the matching log line is shown
    assert "all 4 backup checks passed" in text
    # listings as the guide's commands show them: Velero oldest first, sizes human-readable
    velero = [line for line in driven.lines if line.startswith("daily-backup-")]
    assert len(velero) >= 7 and velero == sorted(velero)
    assert all("Completed" in line and "errors 0" in line for line in velero)
    dumps = [line for line in driven.lines if line.endswith(".dump") and "KiB  age" in line]
    assert len(dumps) == 3


async def test_each_broken_item_fails_with_its_reason(world):
    latest = fail_latest_velero_backup(world)
    await asyncio.sleep(1.1)  # S3 LastModified has whole seconds: make tonight's the newest
    world.moto.put(world.moto.keys[-1], b"")
    fail_backup_job(world)

    driven = await drive(world, "backup-verification")

    # every item is looked at (the item steps do not stop the wizard), the summary fails
    assert driven.statuses == {"velero-backups": "ok", "s3-dumps": "ok", "dump-contents": "ok",
                               "trial-restore": "skipped", "backup-job": "ok",
                               "summary": "failed"}, driven.text()
    text = driven.text()
    assert f"FAIL  Velero backups: latest Velero backup {latest} Failed" in text
    assert "FAIL  S3 database dumps: latest dump" in text and "empty file" in text
    assert f"FAIL  Backup job: job {job_name()} logged an error: " in text
    assert "ERROR: backup failed, upload aborted" in text
    assert "FAIL  Dump contents:" in text and "empty file (0 bytes)" in text
    assert driven.outcomes["summary"].error == (
        "4 of 4 backup checks failed: Velero backups, S3 database dumps, Dump contents, "
        "Backup job")


async def test_missing_job_fails_and_names_the_newest(world):
    world.store.delete("jobs.batch", "mcp-production", job_name())
    driven = await drive(world, "backup-verification")
    assert driven.statuses["summary"] == "failed"
    assert f"FAIL  Backup job: no job of cronjob/postgres-backup and no job {job_name()} " \
        "found" in driven.text()


async def test_read_only_runs_to_the_end_through_mcp_ops_run(world):
    """--read-only, and a viewer's token that could not change anything anyway."""
    viewer = write_config(world.tmp / "viewer.yaml",
                          kubeconfig=world.emulator.readonly_kubeconfig,
                          service_url="http://127.0.0.1:9", aws_endpoint=world.moto.endpoint,
                          pg_dsn=world.pg.dsn(world.pg.production))
    out = await cli(viewer, "run", "backup-verification", "--env", "sandbox", "--read-only")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(read-only)" in out.stdout
    for n in range(1, 7):
        assert f"[{n}/6]" in out.stdout
    assert out.stdout.count("-> ok") == 5 and "completed: session" in out.stdout
    assert "refused" not in out.stdout


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_sandbox_backup_failed_scenario_fails_every_item(sandbox, tmp_path):
    """The scenario fails last night's Velero backup, empties the S3 dump and makes the
    backup job log an error: all three items fail, each with its reason."""
    sandbox_switch(sandbox, "backup-failed")
    try:
        out = sandbox_cli(sandbox, tmp_path, "run", "backup-verification", "--env", "sandbox",
                          "--read-only")
    finally:
        sandbox_switch(sandbox, "healthy")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "FAIL  Velero backups: latest Velero backup" in out.stdout and "Failed" in out.stdout
    assert "FAIL  S3 database dumps:" in out.stdout and "empty file" in out.stdout
    assert "FAIL  Backup job:" in out.stdout
    assert "-> failed: 4 of 4 backup checks failed: Velero backups, S3 database dumps, " \
        "Dump contents, Backup job" in out.stdout
    healthy = sandbox_cli(sandbox, tmp_path, "run", "backup-verification", "--env", "sandbox",
                          "--read-only")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "all 4 backup checks passed" in healthy.stdout


# ---- the dump is read, not only listed -------------------------------------------------
async def test_truncated_dump_fails_and_the_good_one_passes(world):
    """Cut off near its end, the dump keeps its table of contents (``pg_restore --list``
    alone would pass) and a plausible size: reading every data block is what fails."""
    good = world.pg.dump
    world.moto.put(world.moto.keys[-1], good[:-300])

    cut = await drive(world, "backup-verification")

    text = cut.text()
    assert cut.statuses["summary"] == "failed", text
    assert "pg_restore --list:" in text and "public.critical_table" in text  # the TOC reads
    assert "FAIL  Dump contents: dump production/postgres/" in text
    assert "does not read to its end (pg_restore exit 1)" in text
    assert cut.outcomes["summary"].error == "1 of 4 backup checks failed: Dump contents"

    world.moto.put(world.moto.keys[-1], good)
    whole = await drive(world, "backup-verification")
    assert whole.statuses["summary"] == "ok", whole.text()
    assert "PASS  Dump contents:" in whole.text()


async def test_implausibly_small_dump_and_missing_table_fail(world):
    world.moto.put(world.moto.keys[-1], world.pg.dump[: len(world.pg.dump) // 3])
    small = await drive(world, "backup-verification")
    assert "FAIL  Dump contents:" in small.text() and "implausibly small" in small.text()

    world.moto.put(world.moto.keys[-1], world.pg.dump)
    missing = await drive(world, "backup-verification",
                          {"expected_tables": "critical_table, public.invoices"})
    assert "expected tables missing: public.invoices" in missing.text(), missing.text()
    assert missing.statuses["summary"] == "failed"


async def test_trial_restore_counts_rows_times_the_restore_and_drops_the_scratch(world):
    import asyncpg
    from conftest import PG_ADMIN, ROWS

    driven = await drive(world, "backup-verification", {
        "trial_restore": PG_ADMIN,
        "expected_tables": "critical_table, accounts"})

    assert driven.statuses["trial-restore"] == "ok" and driven.statuses["summary"] == "ok", \
        driven.text()
    text = driven.text()
    assert f"critical_table: {ROWS} rows" in text and "accounts: 20 rows" in text
    assert "the restore part of the RTO" in text
    assert "all 5 backup checks passed" in text
    admin = await asyncpg.connect(PG_ADMIN, timeout=5)
    try:
        left = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE "
                                 "'mcp_ops_trial_%'")
    finally:
        await admin.close()
    assert not left


async def test_unavailable_storage_location_fails_the_velero_item(world):
    def unavailable(o):
        o["status"].update(phase="Unavailable", message="AccessDenied: bucket policy")

    world.store.mutate("backupstoragelocations.velero.io", "velero", "default", unavailable)
    driven = await drive(world, "backup-verification")
    text = driven.text()
    assert "FAIL  Velero backups:" in text
    assert "backup storage location default (bucket pratiko-velero-eu-south-1): Unavailable" \
        in text and "AccessDenied: bucket policy" in text


async def test_job_of_the_cronjob_found_by_owner_and_zero_errors_is_no_error(world):
    """A CronJob's job is named by its scheduled minute, not the date; its log ends with
    "0 errors", which is a success."""
    dated = world.store.peek("jobs.batch", "mcp-production", job_name())
    cron = world.store.create("cronjobs.batch", {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": "postgres-backup", "namespace": "mcp-production"},
        "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": dated["spec"]}}})
    job = {k: v for k, v in dated.items() if k != "metadata"}
    job["metadata"] = {"name": "postgres-backup-29412345", "namespace": "mcp-production",
                       "labels": dict(dated["metadata"]["labels"]),
                       "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob",
                                            "name": "postgres-backup",
                                            "uid": cron["metadata"]["uid"], "controller": True}]}
    created = world.store.create("jobs.batch", job)
    (pod,) = [p for p in world.store.iter("pods", "mcp-production")
              if (p["metadata"].get("labels") or {}).get("job-name") == job_name()]

    def adopt(o):
        o["metadata"]["labels"]["job-name"] = "postgres-backup-29412345"
        o["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job",
                                             "name": "postgres-backup-29412345",
                                             "uid": created["metadata"]["uid"],
                                             "controller": True}]

    world.store.mutate("pods", "mcp-production", pod["metadata"]["name"], adopt)
    world.store.delete("jobs.batch", "mcp-production", job_name())

    driven = await drive(world, "backup-verification")

    text = driven.text()
    assert "PASS  Backup job: job postgres-backup-29412345 completed" in text, text
    assert "0 errors" in text  # shown as a matching line, not taken for an error
