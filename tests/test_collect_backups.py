"""The backups collector: Velero Backup objects from the emulator (which moves new backups
through real phases) and dumps in S3 from a moto server over HTTP."""

from __future__ import annotations

import asyncio
import time
import uuid

import boto3
import pytest
import servers
from health_support import emulator, refused_port, start_moto

from console.collectors.backups import BackupsCollector
from console.config.model import Environment, Thresholds
from console.health import Status
from console.health.evaluate import evaluate_component
from sandbox.kube.controllers import chaos

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def moto_url():
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture(autouse=True)
def aws_keys(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def environment(kubeconfig, moto_url: str, prefix: str = "live/postgres/") -> Environment:
    return Environment.model_validate({
        "kubernetes": {"kubeconfig": str(kubeconfig)},
        "postgres": {"dsn": f"postgresql://postgres@{servers.PG_HOSTPORT}/test"},
        "service": {"base_url": "http://127.0.0.1:1"},
        "aws": {"endpoint_url": moto_url, "s3_backup_prefix": prefix},
    })


async def test_seeded_velero_backups_and_the_latest_dump(tmp_path, moto_url):
    async with emulator(tmp_path / "kc"):
        c = BackupsCollector(environment(tmp_path / "kc", moto_url))
        try:
            snap = await c.collect()
        finally:
            await c.close()
    assert snap.velero_error is None and snap.s3_error is None
    assert snap.velero and all(b.phase == "Completed" for b in snap.velero)
    ages = [b.age_hours for b in snap.velero]
    assert ages == sorted(ages)  # newest first
    assert snap.s3[0].key == "live/postgres/dump-1.sql.gz" and snap.s3[0].size_bytes == 4096
    assert snap.s3[0].age_hours < 1
    health = evaluate_component("backups", snap, Thresholds())
    assert health.status is Status.HEALTHY, health.reasons


async def test_failed_backup_and_empty_dump_are_critical(tmp_path, moto_url):
    prefix = f"t-{uuid.uuid4().hex[:6]}/"
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="eu-west-1")
    s3.put_object(Bucket="pratiko-backups", Key=f"{prefix}old.sql.gz", Body=b"x" * 10)
    await asyncio.sleep(1.1)  # S3 times have a one-second resolution
    s3.put_object(Bucket="pratiko-backups", Key=f"{prefix}new.sql.gz", Body=b"")
    async with emulator(tmp_path / "kc", speed=10) as (cluster, _):
        chaos.set_velero_outcome(cluster, "Failed", kind="backups")
        cluster.store.create("backups.velero.io", {
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "manual-check", "namespace": "velero"},
            "spec": {"includedNamespaces": ["mcp-production"]}})
        c = BackupsCollector(environment(tmp_path / "kc", moto_url, prefix))
        try:
            deadline = time.monotonic() + 20
            while True:
                snap = await c.collect()
                mine = [b for b in snap.velero if b.name == "manual-check"]
                if mine and mine[0].phase == "Failed":
                    break
                assert time.monotonic() < deadline, f"backup phase: {mine}"
                await asyncio.sleep(0.2)
        finally:
            await c.close()
    assert snap.velero[0].name == "manual-check"
    assert [d.key for d in snap.s3] == [f"{prefix}new.sql.gz", f"{prefix}old.sql.gz"]
    health = evaluate_component("backups", snap, Thresholds())
    assert health.status is Status.CRITICAL
    assert any(r.startswith("latest Velero backup manual-check Failed") for r in health.reasons)
    assert any(r.endswith(": empty file") for r in health.reasons)


async def test_unreachable_s3_does_not_hide_velero(tmp_path):
    with refused_port() as dead_s3:
        async with emulator(tmp_path / "kc"):
            c = BackupsCollector(environment(tmp_path / "kc", f"http://127.0.0.1:{dead_s3}"),
                                 timeout=5)  # S3 refused at once; Velero may be slow
            try:
                snap = await c.collect()
            finally:
                await c.close()
    assert snap.velero and snap.velero_error is None
    assert snap.s3 == () and "Could not connect" in snap.s3_error
    health = evaluate_component("backups", snap, Thresholds())
    assert health.status is Status.UNKNOWN
    assert any(r.startswith("S3 dumps unreadable") for r in health.reasons)


def _backup(name: str, created: str, completed: str | None, phase: str = "Completed") -> dict:
    status = {"phase": phase, "startTimestamp": created}
    if completed:
        status["completionTimestamp"] = completed
    return {"apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": name, "namespace": "velero", "creationTimestamp": created},
            "spec": {"includedNamespaces": ["mcp-production"]}, "status": status}


def test_latest_is_by_creation_in_collector_and_wizards_alike():
    """A long backup started first and finished last is not the latest: the runbook's
    listing (--sort-by=.metadata.creationTimestamp) puts the later-started one last."""
    from datetime import UTC, datetime

    from actions.library import velero
    from console.collectors.velero_parse import newest_first

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    items = [_backup("long", "2026-11-29T01:00:00Z", "2026-11-29T09:00:00Z"),
             _backup("quick", "2026-11-29T02:00:00Z", "2026-11-29T02:05:00Z"),
             _backup("same-second-b", "2026-11-28T02:00:00Z", "2026-11-28T02:05:00Z"),
             _backup("same-second-a", "2026-11-28T02:00:00Z", "2026-11-28T02:05:00Z")]
    records = newest_first(items, now)
    assert [b.name for b in records] == ["quick", "long", "same-second-b", "same-second-a"]
    assert [b["metadata"]["name"] for b in velero.by_creation(items)] == \
        [b.name for b in reversed(records)]
    assert records[0].age_hours == pytest.approx(9 + 55 / 60)  # age counts from completion
    # one listing line, whether from the collector's record or the raw object
    assert velero.describe_backup(items[1], now) == velero.describe_backup(records[0])


async def test_collector_latest_backup_is_the_newest_created(tmp_path, moto_url):
    from datetime import UTC, datetime, timedelta

    def stamp(t: datetime) -> str:
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    now = datetime.now(UTC)
    async with emulator(tmp_path / "kc", seeded=False) as (cluster, _):
        cluster.store.create("namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "velero"}})
        cluster.store.create("backups.velero.io", _backup(
            "long-running", stamp(now - timedelta(minutes=50)), stamp(now - timedelta(minutes=1))))
        cluster.store.create("backups.velero.io", _backup(
            "quick", stamp(now - timedelta(minutes=30)), stamp(now - timedelta(minutes=29))))
        c = BackupsCollector(environment(tmp_path / "kc", moto_url))
        try:
            snap = await c.collect()
        finally:
            await c.close()
    assert snap.velero_error is None
    assert [b.name for b in snap.velero] == ["quick", "long-running"]
    health = evaluate_component("backups", snap, Thresholds())
    assert any(r.startswith("latest Velero backup quick Completed") for r in health.reasons), \
        health.reasons
