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
from conftest import drive

from actions.backups.velero_backup import backup_name, pre_maintenance_backup_step
from actions.model import Wizard
from console.sandbox.kube.controllers.chaos import set_velero_outcome

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


async def test_read_only_lists_and_refuses_the_restore(world):
    driven = await drive(world, "velero-restore", read_only=True, confirm=None)
    assert driven.statuses == {"list-backups": "ok", "create-restore": "refused"}
    assert "daily-backup-" in driven.text()
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
