"""``velero-restore`` shows, before restoring, where the backup lives and what it holds.

The emulated Velero writes each finished backup's resource list into its storage
location's bucket — here moto over HTTP, as the sandbox wires it — and the wizard reads it
from there with the environment's AWS reader: per kind and namespace, counted, named. A
backup made during the test has its list written when it completes.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest
from conftest import drive
from waiting import until

from actions.backups.velero_contents import contents_lines
from sandbox.aws import SandboxAws, velero_bucket_writer
from sandbox.kube.controllers.velero import daily_backup
from sandbox.kube.controllers.velero_store import attach_object_store

pytestmark = pytest.mark.timeout(120)
BUCKET = "pratiko-velero-eu-south-1"


def attach(world) -> int:
    """The emulated Velero's bucket writes go to the test's moto (as in the sandbox)."""
    return attach_object_store(world.cluster, velero_bucket_writer(SandboxAws(world.moto.endpoint)))


def newest_daily(world) -> str:
    """The newest daily backup (in the default location; the cross-region one is in DR's)."""
    return max(b["metadata"]["name"] for b in world.store.iter("backups.velero.io", "velero")
               if b["metadata"]["name"].startswith("daily-backup-"))


def stored_list(world, backup: str) -> dict:
    key = f"production/backups/{backup}/{backup}-resource-list.json.gz"
    body = world.moto.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return json.loads(gzip.decompress(body))


async def test_the_check_shows_the_location_and_the_contents_before_restoring(world):
    assert attach(world) == 8  # the seeded week of dailies and the cross-region one
    backup = newest_daily(world)

    driven = await drive(world, "velero-restore", {"backup": backup})

    assert driven.statuses["check-backup"] == "ok", driven.text()
    lines = driven.lines
    location = next(i for i, ln in enumerate(lines) if ln.startswith(
        "backup storage location default (bucket pratiko-velero-eu-south-1): Available"))
    read = lines.index(f"contents read from s3://{BUCKET}/production/backups/{backup}/"
                       f"{backup}-resource-list.json.gz")
    created = next(i for i, ln in enumerate(lines) if re.match(r"restore \S+ created", ln)
                   or "velero.io/v1" in ln and "created" in ln)
    assert location < read < created  # shown before anything is restored
    listing = stored_list(world, backup)
    deployments = sorted(n.split("/")[1] for n in listing["apps/v1/Deployment"])
    assert "mcp-server-production" in deployments
    assert f"  apps/v1/Deployment in mcp-production: {len(deployments)}  (" in "\n".join(lines)
    assert any(ln.startswith("  v1/ConfigMap in mcp-production: ") and "mcp-server-config" in ln
               for ln in lines)
    assert re.search(r"^contents: \d+ items of \d+ kinds", "\n".join(lines), re.M)
    assert "  v1/Namespace in (cluster): 1  (mcp-production)" in lines
    assert driven.run.ctx.cache["velero.contents"] == listing


async def test_a_new_backup_has_its_list_written_when_it_completes(world):
    attach(world)
    world.store.create("backups.velero.io", daily_backup("wz-contents-backup",
                                                         world.cluster.clock.timestamp(
                                                             world.cluster.clock.now())))
    await until(lambda: (world.store.peek("backups.velero.io", "velero", "wz-contents-backup")
                         .get("status") or {}).get("phase") == "Completed", timeout=60,
                what="the backup to complete")
    listing = stored_list(world, "wz-contents-backup")
    assert "mcp-production/mcp-server-config" in listing["v1/ConfigMap"]
    pods = [p["metadata"]["name"] for p in world.app_pods()]
    assert all(f"mcp-production/{p}" in listing["v1/Pod"] for p in pods)


async def test_without_the_list_the_check_says_so_and_goes_on(world):
    driven = await drive(world, "velero-restore")  # nothing written to the bucket
    assert driven.statuses["check-backup"] == "ok", driven.text()
    line = next(ln for ln in driven.lines if ln.startswith("contents: not readable from s3://"))
    assert "velero backup describe" in line and "--details" in line


def test_contents_lines_group_per_kind_and_namespace():
    lines = contents_lines({"v1/ConfigMap": ["a/x", "a/y", "b/z"],
                            "apps/v1/Deployment": [f"a/d{i}" for i in range(6)]})
    assert lines == ["contents: 9 items of 2 kinds (the backup's resource list)",
                     "  apps/v1/Deployment in a: 6  (d0, d1, d2, d3, +2 more)",
                     "  v1/ConfigMap in a: 2  (x, y)", "  v1/ConfigMap in b: 1  (z)"]
