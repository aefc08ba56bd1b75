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

    assert driven.statuses == {"velero-backups": "ok", "s3-dumps": "ok", "backup-job": "ok",
                               "summary": "ok"}, driven.text()
    text = driven.text()
    assert "PASS  Velero backups: latest Velero backup daily-backup-" in text
    assert "PASS  S3 database dumps: latest dump production/postgres/" in text
    assert f"PASS  Backup job: job {job_name()} completed" in text
    assert "Backup completed successfully" in text  # the matching log line is shown
    assert "all 3 backup checks passed" in text
    # listings as the guide's commands show them: Velero oldest first, sizes human-readable
    velero = [line for line in driven.lines if line.startswith("daily-backup-")]
    assert len(velero) >= 7 and velero == sorted(velero)
    assert all("Completed" in line and "errors 0" in line for line in velero)
    dumps = [line for line in driven.lines if "production/postgres/" in line and "KiB" in line]
    assert len(dumps) == 3


async def test_each_broken_item_fails_with_its_reason(world):
    latest = fail_latest_velero_backup(world)
    await asyncio.sleep(1.1)  # S3 LastModified has whole seconds: make tonight's the newest
    world.moto.put(world.moto.keys[-1], b"")
    fail_backup_job(world)

    driven = await drive(world, "backup-verification")

    # every item is looked at (the item steps do not stop the wizard), the summary fails
    assert driven.statuses == {"velero-backups": "ok", "s3-dumps": "ok", "backup-job": "ok",
                               "summary": "failed"}, driven.text()
    text = driven.text()
    assert f"FAIL  Velero backups: latest Velero backup {latest} Failed" in text
    assert "FAIL  S3 database dumps: latest dump" in text and "empty file" in text
    assert f"FAIL  Backup job: job {job_name()} logged an error: " in text
    assert "ERROR: backup failed, upload aborted" in text
    assert driven.outcomes["summary"].error == (
        "3 of 3 backup checks failed: Velero backups, S3 database dumps, Backup job")


async def test_missing_job_fails_and_names_the_newest(world):
    world.store.delete("jobs.batch", "mcp-production", job_name())
    driven = await drive(world, "backup-verification")
    assert driven.statuses["summary"] == "failed"
    assert f"FAIL  Backup job: job {job_name()} not found" in driven.text()


async def test_read_only_runs_to_the_end_through_mcp_ops_run(world):
    """--read-only, and a viewer's token that could not change anything anyway."""
    viewer = write_config(world.tmp / "viewer.yaml",
                          kubeconfig=world.emulator.readonly_kubeconfig,
                          service_url="http://127.0.0.1:9", aws_endpoint=world.moto.endpoint,
                          pg_dsn=world.pg.dsn(world.pg.production))
    out = await cli(viewer, "run", "backup-verification", "--env", "sandbox", "--read-only")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "(read-only)" in out.stdout
    for n in range(1, 5):
        assert f"[{n}/4]" in out.stdout
    assert out.stdout.count("-> ok") == 4 and "completed: session" in out.stdout
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
    assert "-> failed: 3 of 3 backup checks failed: Velero backups, S3 database dumps, " \
        "Backup job" in out.stdout
    healthy = sandbox_cli(sandbox, tmp_path, "run", "backup-verification", "--env", "sandbox",
                          "--read-only")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "all 3 backup checks passed" in healthy.stdout
