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

    assert driven.statuses == {"list-backups": "ok", "check-backup": "ok",
                               "create-restore": "ok", "follow-restore": "ok",
                               "health-check": "ok"}, driven.text()
    assert re.search(r"backup storage location \S+ \(bucket pratiko-velero-\S+\): Available",
                     driven.text())
    assert "  created  configmap/mcp-server-config -n mcp-production" in driven.lines
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
    assert "[1/5] Available backups (read)" in out.stdout and "daily-backup-" in out.stdout
    assert "[2/5] Check the backup and the scope (read)" in out.stdout
    assert "[3/5] Restore from the backup (destructive)" in out.stdout
    assert "refused: read-only mode" in out.stdout and "[4/5]" not in out.stdout
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
        await pilot.press("enter")  # 2. the backup is checked (read), then the restore's form
        await wait_for(pilot, lambda: runner.index == 2 and not runner.busy, "the restore step")
        assert runner.form is not None  # accept_partial, default no
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        assert app.screen.request.step_title == "Restore from the backup"
        await pilot.click("#yes")
        await wait_for(pilot, lambda: runner.query_one("#steps").states[3] == "failed",
                       "the restore to stop")

        # stopped for a decision: the warnings and errors are on screen, nothing ran after
        output = list(runner.query_one("#output", Log).lines)
        assert any("phase PartiallyFailed" in line and "2 errors" in line for line in output)
        assert any("Decide: skip this step to accept it" in line for line in output)
        assert "r retry · s skip · a abort" in str(status.render())
        assert runner.query_one("#steps").states[4] not in ("ok", "failed")

        await pilot.press("s")  # the decision: accept the partial restore
        await wait_for(pilot, lambda: runner.index == 4 and not runner.busy, "the health step")
        await pilot.press("r")
        await wait_for(pilot, lambda: runner.finished == "completed", "the end")
        assert runner.query_one("#steps").states == ["ok", "ok", "ok", "skipped", "ok"]

    (session,) = list_sessions(world.tmp / "sessions")
    ends = [(r["data"]["id"], r["data"]["status"], r["data"].get("error", ""))
            for r in read_records(session.path) if r["event"] == "step_end"]
    assert [e[:2] for e in ends] == [("list-backups", "ok"), ("check-backup", "ok"),
                                     ("create-restore", "ok"),
                                     ("follow-restore", "failed"), ("follow-restore", "skipped"),
                                     ("health-check", "ok")]
    assert ends[4][2] == "skipped by the operator"
    assert len(restores(world)) == 1


# ---- existing objects: none leaves them broken, update repairs them ----------------------
async def kubectl_json(world, *args: str) -> dict:
    """The real kubectl against the emulator (KUBECONFIG and KUBECACHEDIR are the
    fixture's), awaited without blocking the loop the emulator serves from."""
    import asyncio
    import json

    child = await asyncio.create_subprocess_exec(
        "kubectl", "--context", "sandbox", "--request-timeout=20s", *args, "-o", "json",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, err.decode()
    return json.loads(out)


def backed_up(world, backup: str, resource: str, name: str) -> dict:
    return next(o for r, o in world.cluster.extras["velero_contents"][backup]
                if r == resource and o["metadata"]["name"] == name
                and o["metadata"].get("namespace") == "mcp-production")


def break_objects(world) -> None:
    def bad_config(o):
        o["data"] = {**o["data"], **{k: "broken" for k in list(o["data"])[:1]},
                     "injected": "yes"}

    def bad_deployment(o):
        container = o["spec"]["template"]["spec"]["containers"][0]
        container["env"] = [*(container.get("env") or []),
                            {"name": "FEATURE_FLAGS", "value": "everything-on"}]

    world.store.mutate("configmaps", "mcp-production", "mcp-server-config", bad_config)
    world.store.mutate("deployments.apps", "mcp-production", "mcp-server-production",
                       bad_deployment)


async def test_existing_policy_update_repairs_an_edited_configmap_and_deployment(world):
    import asyncio

    backup = newest_completed(world)
    good_config = backed_up(world, backup, "configmaps", "mcp-server-config")["data"]
    good_template = backed_up(world, backup, "deployments.apps",
                              "mcp-server-production")["spec"]["template"]["spec"]
    break_objects(world)
    scoped = {"namespaces": "mcp-production", "resources": "configmaps,deployments"}

    # Velero's default: Completed, and nothing repaired
    kept = await drive(world, "velero-restore", scoped)
    assert kept.statuses["follow-restore"] == "ok", kept.text()
    assert "existing ones are left exactly as they are" in kept.text()
    assert "  skipped  configmap/mcp-server-config -n mcp-production" in kept.lines
    config = await kubectl_json(world, "get", "configmap/mcp-server-config", "-n",
                                "mcp-production")
    assert config["data"]["injected"] == "yes"

    await asyncio.sleep(1.1)  # restore names have whole seconds
    repaired = await drive(world, "velero-restore", {**scoped, "existing_policy": "update"})

    assert repaired.statuses == {"list-backups": "ok", "check-backup": "ok",
                                 "create-restore": "ok", "follow-restore": "ok",
                                 "health-check": "ok"}, repaired.text()
    text = repaired.text()
    assert "patched back to the backup's content (existingResourcePolicy: update)" in text
    assert "  updated  configmap/mcp-server-config -n mcp-production" in repaired.lines
    assert "  updated  deployment/mcp-server-production -n mcp-production" in repaired.lines
    restore = max(restores(world), key=lambda r: r["metadata"]["name"])
    assert restore["spec"]["existingResourcePolicy"] == "update"
    assert restore["spec"]["includedResources"] == ["configmaps", "deployments"]
    commands = "\n".join(c for r in repaired.records("step_plan") for c in r["data"]["commands"])
    assert "--include-namespaces=mcp-production --include-resources=configmaps,deployments " \
        "--existing-resource-policy=update" in commands
    # read back through the real kubectl: the backup's content again
    config = await kubectl_json(world, "get", "configmap/mcp-server-config", "-n",
                                "mcp-production")
    assert config["data"] == good_config
    assert config["metadata"]["labels"]["velero.io/restore-name"] == restore["metadata"]["name"]
    deployment = await kubectl_json(world, "get", "deployment/mcp-server-production", "-n",
                                    "mcp-production")
    assert deployment["spec"]["template"]["spec"]["containers"] == good_template["containers"]


async def test_unavailable_location_or_foreign_namespace_stops_before_the_restore(world):
    mapped = await drive(world, "velero-restore", {"namespaces": "kube-system"})
    assert mapped.statuses["check-backup"] == "failed"
    assert "does not hold namespace(s) kube-system" in mapped.outcomes["check-backup"].error

    def unavailable(o):
        o["status"]["phase"] = "Unavailable"

    for location in ("default", "dr-eu-central-1"):
        world.store.mutate("backupstoragelocations.velero.io", "velero", location, unavailable)
    driven = await drive(world, "velero-restore")
    assert driven.statuses["check-backup"] == "failed"
    assert "Velero cannot read backup" in driven.outcomes["check-backup"].error
    assert not restores(world)


async def test_namespace_mapping_restores_beside_the_live_namespace(world):
    driven = await drive(world, "velero-restore", {
        "namespaces": "mcp-production", "resources": "configmaps",
        "namespace_mapping": "mcp-production:mcp-restored"})
    assert driven.statuses["follow-restore"] == "ok", driven.text()
    assert "restored under other names: mcp-production -> mcp-restored" in driven.text()
    assert "  created  configmap/mcp-server-config -n mcp-restored" in driven.lines
    assert world.store.peek("configmaps", "mcp-restored", "mcp-server-config") is not None
