"""Velero and cert-manager controllers driven through the store: backup phases and progress,
outcomes chosen by chaos or annotation, the daily schedule, certificate renewal by the
runbook's annotation, and a certificate running out when its issuer is broken.
"""

from __future__ import annotations

import pytest
from waiting import until

from sandbox.kube.controllers import chaos
from sandbox.kube.controllers.base import parse_time
from sandbox.kube.controllers.certificates import ISSUING

pytestmark = pytest.mark.timeout(60)

NS = "mcp-production"
DAY = 86400


def backup(name: str) -> dict:
    meta = {"name": name, "namespace": "velero"}
    return {"apiVersion": "velero.io/v1", "kind": "Backup", "metadata": meta,
            "spec": {"includedNamespaces": ["mcp-production"]}}


def phase(store, resource: str, name: str) -> str | None:
    obj = store.peek(resource, "velero", name) or {}
    return (obj.get("status") or {}).get("phase")


async def test_backup_moves_new_inprogress_completed_with_rising_progress(world):
    store = world.store
    trail: list[tuple[str, int]] = []

    def watch(event):
        if event.resource == "backups.velero.io" and event.name == "nightly":
            status = event.object.get("status") or {}
            trail.append((status.get("phase", "New"),
                          (status.get("progress") or {}).get("itemsBackedUp", -1)))

    store.subscribe(watch)
    store.create("backups.velero.io", backup("nightly"))
    await until(lambda: phase(store, "backups.velero.io", "nightly") == "Completed")
    phases = [p for p, _ in trail]
    assert phases[0] == "New" and phases[-1] == "Completed"
    assert set(phases) == {"New", "InProgress", "Completed"}
    done = [n for p, n in trail if p == "InProgress"]
    assert done == sorted(done) and len(set(done)) >= 3
    status = store.get("backups.velero.io", "velero", "nightly")["status"]
    assert status["progress"]["itemsBackedUp"] == status["progress"]["totalItems"]
    ttl = parse_time(status["expiration"]) - parse_time(
        store.get("backups.velero.io", "velero", "nightly")["metadata"]["creationTimestamp"])
    assert ttl == 720 * 3600  # Velero's default TTL
    assert "errors" not in status and "failureReason" not in status


async def test_backup_outcomes_come_from_chaos_or_the_objects_annotation(world):
    store = world.store
    chaos.set_velero_outcome(world, "PartiallyFailed", kind="backups")
    store.create("backups.velero.io", backup("partial"))
    store.create("backups.velero.io", {**backup("failing"), "metadata": {
        "name": "failing", "namespace": "velero",
        "annotations": {"sandbox.mcp-ops/outcome": "Failed"}}})
    await until(lambda: phase(store, "backups.velero.io", "partial") == "PartiallyFailed")
    await until(lambda: phase(store, "backups.velero.io", "failing") == "Failed")
    partial = store.get("backups.velero.io", "velero", "partial")["status"]
    assert partial["errors"] > 0 and partial["warnings"] > 0
    assert partial["progress"]["itemsBackedUp"] < partial["progress"]["totalItems"]
    assert store.get("backups.velero.io", "velero", "failing")["status"]["failureReason"]


async def test_restore_from_a_failed_backup_fails_validation(world):
    store = world.store
    store.create("backups.velero.io", {**backup("broken"), "metadata": {
        "name": "broken", "namespace": "velero",
        "annotations": {"sandbox.mcp-ops/outcome": "Failed"}}})
    await until(lambda: phase(store, "backups.velero.io", "broken") == "Failed")
    store.create("restores.velero.io", {
        "apiVersion": "velero.io/v1", "kind": "Restore",
        "metadata": {"name": "from-broken", "namespace": "velero"},
        "spec": {"backupName": "broken"}})
    await until(lambda: phase(store, "restores.velero.io", "from-broken") == "FailedValidation")
    errors = store.get("restores.velero.io", "velero", "from-broken")["status"]["validationErrors"]
    assert len(errors) == 1 and "Failed" in errors[0]


async def test_the_daily_schedule_creates_todays_backup_at_two(world):
    store, clock = world.store, world.clock
    now = clock.datetime()
    next_two = now.replace(hour=2, minute=0, second=0, microsecond=0).timestamp()
    if next_two <= clock.now():
        next_two += DAY
    clock.advance(next_two - clock.now() + 5)
    expected = f"daily-backup-{clock.datetime():%Y%m%d}"
    await until(lambda: phase(store, "backups.velero.io", expected) == "Completed")
    created = store.get("backups.velero.io", "velero", expected)["metadata"]["creationTimestamp"]
    assert created.endswith("T02:00:00Z")
    schedule = store.get("schedules.velero.io", "velero", "daily-backup")
    assert schedule["status"]["lastBackup"] == created


async def test_a_paused_schedule_makes_no_backup(world):
    store, clock = world.store, world.clock
    store.mutate("schedules.velero.io", "velero", "daily-backup",
                 lambda o: o["spec"].__setitem__("paused", True))
    before = {b["metadata"]["name"] for b in store.iter("backups.velero.io", "velero")}
    clock.advance(DAY + 5)
    # proof the Velero controller has looked since: the schedule's wake-up is due after the
    # jump, so the round that starts the witness also runs it, and a Completed witness
    # means that round is over
    store.create("backups.velero.io", backup("witness"))
    await until(lambda: phase(store, "backups.velero.io", "witness") == "Completed")
    made = {b["metadata"]["name"] for b in store.iter("backups.velero.io", "velero")}
    assert made - before == {"witness"}


async def test_the_issuing_condition_renews_the_certificate(world):
    store, clock = world.store, world.clock
    before = store.get("certificates.cert-manager.io", NS, "production-tls")["status"]
    store.mutate("certificates.cert-manager.io", NS, "production-tls",
                 lambda c: c["status"]["conditions"].append(dict(ISSUING)))

    def renewed():
        cert = store.get("certificates.cert-manager.io", NS, "production-tls")
        return cert if cert["status"]["revision"] == before["revision"] + 1 else None

    cert = await until(renewed)
    status = cert["status"]
    assert not [c for c in status["conditions"] if c["type"] == "Issuing"]
    assert 89 < (parse_time(status["notAfter"]) - clock.now()) / DAY < 91
    assert parse_time(status["renewalTime"]) == parse_time(status["notAfter"]) - 30 * DAY
    assert parse_time(status["notBefore"]) > parse_time(before["notBefore"])
    assert status["conditions"][0]["status"] == "True"
    assert any(e["reason"] == "Issuing" for e in store.iter("events", NS))


async def test_a_certificate_with_a_broken_issuer_expires(world):
    store, clock = world.store, world.clock
    chaos.expire_certificate(world, NS, "production-tls", days=5)
    cert = store.get("certificates.cert-manager.io", NS, "production-tls")
    assert 4.9 < (parse_time(cert["status"]["notAfter"]) - clock.now()) / DAY <= 5
    # renewal time has passed, but issuance is failing. Proof the controller has looked at
    # production-tls since: a certificate created after it is queued behind it, and issued
    store.create("certificates.cert-manager.io", {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": "witness-tls", "namespace": NS},
        "spec": {"secretName": "witness-tls", "dnsNames": ["witness.example"],
                 "issuerRef": {"name": "letsencrypt-prod", "kind": "ClusterIssuer"}}})
    await until(lambda: (store.get("certificates.cert-manager.io", NS, "witness-tls").get(
        "status") or {}).get("revision") == 1)
    assert store.get("certificates.cert-manager.io", NS, "production-tls")["status"][
        "notAfter"] == cert["status"]["notAfter"]
    clock.advance(6 * DAY)
    store.mutate("certificates.cert-manager.io", NS, "production-tls",
                 lambda c: c["metadata"].setdefault("labels", {}).__setitem__("poke", "1"))

    def expired():
        conds = store.get("certificates.cert-manager.io", NS, "production-tls")["status"][
            "conditions"]
        ready = next(c for c in conds if c["type"] == "Ready")
        return ready if ready["status"] == "False" else None

    ready = await until(expired)
    assert ready["reason"] == "Expired"
