"""``velero-restore`` and the pre-maintenance backup step on the Kubernetes emulator.

The emulator's Velero controllers move Backups and Restores through their real phases with
``status.progress``; the outcome (Completed, PartiallyFailed, Failed) is set with the
chaos hook, as a rehearsal would. A deleted ConfigMap proves that a Completed restore
really puts objects back.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from conftest import cli, drive

from actions.backups.velero_backup import backup_name, pre_maintenance_backup_step
from console.execution.model import Wizard
from sandbox.kube.controllers.chaos import set_velero_outcome

pytestmark = pytest.mark.timeout(120)


def restores(world) -> list[dict]:
    return list(world.store.iter("restores.velero.io", "velero"))


def newest_completed(world) -> str:
    backups = [b for b in world.store.iter("backups.velero.io", "velero")
               if b["status"]["phase"] == "Completed"]
    return max(backups, key=lambda b: b["metadata"]["creationTimestamp"])["metadata"]["name"]


async def test_completed_restore_brings_objects_back_then_checks_health(world):
    world.store.delete("configmaps", "mcp-production", "mcp-server-config")
    expected_backup = newest_completed(world)

    driven = await drive(world, "velero-restore")

    assert driven.statuses == {"list-backups": "ok", "create-restore": "ok",
                               "follow-restore": "ok", "health-check": "ok"}, driven.text()
    (restore,) = restores(world)
    name = restore["metadata"]["name"]
    assert re.fullmatch(rf"{expected_backup}-\d{{14}}", name)  # as `velero restore create` names it
    assert restore["spec"]["backupName"] == expected_backup
    assert restore["status"]["phase"] == "Completed"
    assert world.store.peek("configmaps", "mcp-production", "mcp-server-config") is not None
    items = [p for p in driven.progress if p.label == "items restored"]
    assert items and items[-1].done == items[-1].total > 0
    assert f"velero restore create {name} --from-backup={expected_backup}" in "\n".join(
        c for r in driven.records("step_plan") for c in r["data"]["commands"])


async def test_partially_failed_stops_for_a_decision_then_going_on_is_an_answer(world):
    set_velero_outcome(world.cluster, "PartiallyFailed", kind="restores")

    stopped = await drive(world, "velero-restore")

    assert stopped.statuses["follow-restore"] == "failed"
    assert "health-check" not in stopped.statuses
    error = stopped.outcomes["follow-restore"].error
    assert "PartiallyFailed" in error and "Decide" in error and "accept_partial=yes" in error
    assert any(re.search(r"phase PartiallyFailed: \d+ warnings, 2 errors", line)
               for line in stopped.lines), stopped.text()

    accepted = await drive(world, "velero-restore", {"accept_partial": "yes"},
                           resume=stopped.path)

    assert accepted.statuses == {"follow-restore": "ok", "health-check": "ok"}, accepted.text()
    assert "accepted (accept_partial=yes)" in accepted.text()
    assert len(restores(world)) == 1  # the decision did not start a second restore


async def test_failed_restore_stops_with_velero_reason_and_cannot_be_accepted(world):
    set_velero_outcome(world.cluster, "Failed", kind="restores")

    stopped = await drive(world, "velero-restore", {"accept_partial": "yes"})

    assert stopped.statuses["follow-restore"] == "failed"
    assert "health-check" not in stopped.statuses
    assert "Failed: error downloading backup" in stopped.outcomes["follow-restore"].error
    (restore,) = restores(world)
    assert restore["status"]["phase"] == "Failed"


async def test_chosen_backup_must_be_restorable(world):
    driven = await drive(world, "velero-restore", {"backup": "no-such-backup"})
    assert driven.problems and driven.problems[0].name == "backup"
    assert not restores(world)


async def test_read_only_through_mcp_ops_run_lists_and_refuses_the_restore(world):
    out = await cli(world.config_path, "run", "velero-restore", "--env", "sandbox",
                    "--read-only")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "[1/4] Available backups (read)" in out.stdout and "daily-backup-" in out.stdout
    assert "[2/4] Restore from the backup (destructive)" in out.stdout
    assert "refused: read-only mode" in out.stdout and "[3/4]" not in out.stdout
    assert not restores(world)


async def test_pre_maintenance_backup_step_waits_for_completed_and_is_reusable(world):
    wizard = Wizard("maintenance-test", "Maintenance (test)", "Maintenance Windows", "tests",
                    steps=(pre_maintenance_backup_step(),))
    first = await drive(world, wizard)
    name = backup_name(datetime.now(UTC))
    assert first.statuses == {"pre-maintenance-backup": "ok"}, first.text()
    backup = world.store.peek("backups.velero.io", "velero", name)
    assert backup["status"]["phase"] == "Completed"
    assert backup["spec"]["includedNamespaces"] == ["mcp-production"]
    progress = [p for p in first.progress if p.label == "items backed up"]
    assert progress and progress[-1].done == progress[-1].total
    assert f"velero backup create {name} --include-namespaces=mcp-production --wait" in \
        first.records("step_plan")[0]["data"]["commands"]

    again = await drive(world, wizard)  # the same day: the Completed backup is reused
    assert again.statuses == {"pre-maintenance-backup": "ok"}
    assert "already exists (phase Completed)" in again.text()


async def test_pre_maintenance_backup_that_fails_stops_the_maintenance(world):
    set_velero_outcome(world.cluster, "Failed", kind="backups")
    wizard = Wizard("maintenance-test", "Maintenance (test)", "Maintenance Windows", "tests",
                    steps=(pre_maintenance_backup_step(),))
    driven = await drive(world, wizard)
    assert driven.statuses == {"pre-maintenance-backup": "failed"}
    assert "ended Failed" in driven.outcomes["pre-maintenance-backup"].error
    assert any("failure reason: error getting backup store" in line for line in driven.lines)


# ---- in the console --------------------------------------------------------------------
async def wait_for(pilot, condition, what: str, timeout: float = 20.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def test_console_partially_failed_restore_waits_for_the_operators_decision(
        world, fixed_operator):
    from textual.widgets import Input, Log, Static

    from actions.catalogue import get
    from console.execution.log_store import list_sessions, read_records
    from screens.app import McpOpsApp
    from screens.confirm_modal import ConfirmModal
    from screens.wizard_runner import WizardRunner

    set_velero_outcome(world.cluster, "PartiallyFailed", kind="restores")
    config = world.config()
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = WizardRunner(config=config, env_name="sandbox", wizard=get("velero-restore"),
                              read_only=False, operator=fixed_operator)
        await app.push_screen(runner)
        status = runner.query_one("#status", Static)
        await wait_for(pilot, lambda: runner.run is not None and not runner.busy, "the runner")
        await pilot.press("r")  # 1. list the backups
        await wait_for(pilot, lambda: runner.form is not None and runner.index == 1,
                       "the backup form")
        field = runner.query_one("#input-backup", Input)
        assert field.value == newest_completed(world)  # the default: newest Completed
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        assert app.screen.request.step_title == "Restore from the backup"
        await pilot.click("#yes")
        await wait_for(pilot, lambda: runner.query_one("#steps").states[2] == "failed",
                       "the restore to stop")

        # stopped for a decision: the warnings and errors are on screen, nothing ran after
        output = list(runner.query_one("#output", Log).lines)
        assert any("phase PartiallyFailed" in line and "2 errors" in line for line in output)
        assert any("Decide: skip this step to accept it" in line for line in output)
        assert "r retry · s skip · a abort" in str(status.render())
        assert runner.query_one("#steps").states[3] not in ("ok", "failed")

        await pilot.press("s")  # the decision: accept the partial restore
        await wait_for(pilot, lambda: runner.index == 3 and not runner.busy, "the health step")
        await pilot.press("r")
        await wait_for(pilot, lambda: runner.finished == "completed", "the end")
        assert runner.query_one("#steps").states == ["ok", "ok", "skipped", "ok"]

    (session,) = list_sessions(world.tmp / "sessions")
    ends = [(r["data"]["id"], r["data"]["status"], r["data"].get("error", ""))
            for r in read_records(session.path) if r["event"] == "step_end"]
    assert [e[:2] for e in ends] == [("list-backups", "ok"), ("create-restore", "ok"),
                                     ("follow-restore", "failed"), ("follow-restore", "skipped"),
                                     ("health-check", "ok")]
    assert ends[3][2] == "skipped by the operator"
    assert len(restores(world)) == 1
