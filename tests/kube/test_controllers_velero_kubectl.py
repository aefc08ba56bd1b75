"""Velero through the real kubectl: the seeded backups, and Backups/Restores created with
``kubectl create`` moving through Velero's phases (Completed, PartiallyFailed, Failed,
FailedValidation) with progress counts; a restore really puts deleted objects back.
"""

from __future__ import annotations

import json
import re

import pytest
from kube_support import eventually, kubectl

from sandbox.kube.controllers import chaos

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(90), pytest.mark.emulator(speed=40)]

RESTORE = """\
apiVersion: velero.io/v1
kind: Restore
metadata:
  name: {name}
  namespace: velero
{annotations}spec:
  backupName: {backup}
  includedNamespaces: ["mcp-production"]
"""


async def get_json(emu, *args) -> dict:
    return json.loads((await kubectl(emu, "get", *args, "-n", "velero", "-o", "json")).stdout)


async def create_restore(emu, name: str, backup: str, outcome: str | None = None) -> None:
    annotations = f"  annotations:\n    sandbox.mcp-ops/outcome: {outcome}\n" if outcome else ""
    await kubectl(emu, "create", "-f", "-",
                  input=RESTORE.format(name=name, backup=backup, annotations=annotations))


async def final_restore(emu, name: str) -> dict:
    async def finished():
        obj = await get_json(emu, "restore", name)
        phase = obj.get("status", {}).get("phase")
        return obj if phase not in (None, "New", "InProgress") else None

    return await eventually(finished)


async def latest_daily(emu) -> str:
    out = (await kubectl(emu, "get", "backups", "-n", "velero", "-o", "name",
                         "--sort-by=.metadata.creationTimestamp")).stdout.split()
    return [n.split("/")[-1] for n in out if "daily-backup-" in n][-1]


async def test_backups_list_sorted_by_creation_time(emulator):
    res = await kubectl(emulator, "get", "backups", "-n", "velero",
                        "--sort-by=.metadata.creationTimestamp", "-o", "name")
    names = [n.split("/")[-1] for n in res.stdout.split()]
    daily = [n for n in names if n.startswith("daily-backup-")]
    assert len(daily) == 7 and all(re.fullmatch(r"daily-backup-\d{8}", n) for n in daily)
    assert daily == sorted(daily)  # oldest first, as the sort asks
    assert "latest-cross-region-backup" in names
    items = (await get_json(emulator, "backups"))["items"]
    assert {b["status"]["phase"] for b in items} == {"Completed"}
    for b in items:
        progress = b["status"]["progress"]
        assert progress["totalItems"] == progress["itemsBackedUp"] > 0
        assert b["status"]["completionTimestamp"] > b["status"]["startTimestamp"]


async def test_a_created_restore_reaches_completed_and_puts_deleted_objects_back(emulator):
    await kubectl(emulator, "delete", "configmap", "mcp-server-config", "-n", "mcp-production")
    await kubectl(emulator, "label", "secret", "redis-credentials", "-n", "mcp-production",
                  "edited=after-the-backup")
    backup = await latest_daily(emulator)
    seen: list[str] = []

    def track(event):
        if event.resource == "restores.velero.io" and event.name == "restore-config":
            seen.append((event.object.get("status") or {}).get("phase", "New"))

    emulator.store.subscribe(track)
    await create_restore(emulator, "restore-config", backup)
    restore = await final_restore(emulator, "restore-config")
    status = restore["status"]
    assert status["phase"] == "Completed"
    assert seen[0] == "New" and "InProgress" in seen and seen[-1] == "Completed"
    assert status["progress"]["totalItems"] == status["progress"]["itemsRestored"] > 0
    # existing objects are left alone; only the one that differs from the backup is a warning
    assert status["warnings"] == 1
    assert status["completionTimestamp"] >= status["startTimestamp"]
    cm = json.loads((await kubectl(emulator, "get", "configmap", "mcp-server-config", "-n",
                                   "mcp-production", "-o", "json")).stdout)
    assert cm["metadata"]["labels"]["velero.io/restore-name"] == "restore-config"
    assert cm["data"]["LOG_LEVEL"] == "info"
    secret = json.loads((await kubectl(emulator, "get", "secret", "redis-credentials", "-n",
                                       "mcp-production", "-o", "json")).stdout)
    assert secret["metadata"]["labels"]["edited"] == "after-the-backup"  # policy none


async def test_existing_resource_policy_update_patches_differing_objects_back(emulator):
    backup = await latest_daily(emulator)
    await kubectl(emulator, "patch", "configmap", "mcp-server-config", "-n", "mcp-production",
                  "--type", "merge", "-p", '{"data":{"LOG_LEVEL":"trace","EXTRA":"x"}}')
    await kubectl(emulator, "create", "-f", "-", input=f"""\
apiVersion: velero.io/v1
kind: Restore
metadata:
  name: restore-update
  namespace: velero
spec:
  backupName: {backup}
  includedNamespaces: ["mcp-production"]
  includedResources: ["configmaps"]
  existingResourcePolicy: update
""")
    restore = await final_restore(emulator, "restore-update")
    assert restore["status"]["phase"] == "Completed"
    assert "warnings" not in restore["status"]
    cm = json.loads((await kubectl(emulator, "get", "configmap", "mcp-server-config", "-n",
                                   "mcp-production", "-o", "json")).stdout)
    assert cm["data"]["LOG_LEVEL"] == "info" and "EXTRA" not in cm["data"]
    assert cm["metadata"]["labels"]["velero.io/restore-name"] == "restore-update"
    lists = emulator.cluster.extras["velero_restore_lists"]["restore-update"]
    assert "mcp-production/mcp-server-config(updated)" in lists["v1/ConfigMap"]
    assert set(lists) == {"v1/ConfigMap", "v1/Namespace"}  # includedResources: only those


async def test_restore_ends_partially_failed_or_failed_when_told(emulator):
    backup = await latest_daily(emulator)
    await create_restore(emulator, "restore-partial", backup, outcome="PartiallyFailed")
    partial = (await final_restore(emulator, "restore-partial"))["status"]
    assert partial["phase"] == "PartiallyFailed"
    assert partial["errors"] > 0 and partial["warnings"] > 0

    chaos.set_velero_outcome(emulator.cluster, "Failed", kind="restores")
    await create_restore(emulator, "restore-failed", backup)
    failed = (await final_restore(emulator, "restore-failed"))["status"]
    assert failed["phase"] == "Failed"
    assert failed["failureReason"]


async def test_restore_of_a_missing_backup_fails_validation(emulator):
    await create_restore(emulator, "restore-nothing", "daily-backup-19990101")
    status = (await final_restore(emulator, "restore-nothing"))["status"]
    assert status["phase"] == "FailedValidation"
    assert status["validationErrors"] == [
        'Error retrieving backup: backups.velero.io "daily-backup-19990101" not found']


async def test_a_created_backup_progresses_to_completed(emulator):
    await kubectl(emulator, "create", "-f", "-", input="""\
apiVersion: velero.io/v1
kind: Backup
metadata:
  name: pre-maintenance-backup
  namespace: velero
spec:
  includedNamespaces: ["mcp-production"]
  ttl: 72h0m0s
""")
    progress_seen: list[int] = []

    async def completed():
        b = await get_json(emulator, "backup", "pre-maintenance-backup")
        status = b.get("status") or {}
        progress_seen.append(status.get("progress", {}).get("itemsBackedUp", -1))
        return status if status.get("phase") == "Completed" else None

    status = await eventually(completed)
    assert status["progress"]["itemsBackedUp"] == status["progress"]["totalItems"] > 10
    assert status["expiration"] > status["startTimestamp"]
    b = await get_json(emulator, "backup", "pre-maintenance-backup")
    assert b["metadata"]["labels"]["velero.io/storage-location"] == "default"
    await create_restore(emulator, "restore-from-new", "pre-maintenance-backup")
    assert (await final_restore(emulator, "restore-from-new"))["status"]["phase"] == "Completed"
