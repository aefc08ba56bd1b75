"""``service-outage`` against the emulator with the outage scenario's release applied (every
pod of release 2.5.0 crash-looping under strategy Recreate), as the sandbox applies it."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from conftest import drive, sandbox_cli, sandbox_switch

pytestmark = pytest.mark.timeout(240)
NS = "mcp-production"


@pytest.fixture
def outage_world(world):
    from sandbox.scenario_outage import maintenance_manifest

    manifest = world.tmp / "maintenance-mode.yaml"
    manifest.write_text(yaml.safe_dump_all(maintenance_manifest()))
    data = yaml.safe_load(world.config_path.read_text())
    data["environments"]["sandbox"]["maintenance"] = {"mode_manifest": str(manifest)}
    data["environments"]["sandbox"]["aws"]["ec2_environment_tag"] = "production"
    world.config_path.write_text(yaml.safe_dump(data))
    return world


async def crashing(world) -> None:
    for _ in range(200):
        pods = world.app_pods()
        statuses = [c for p in pods for c in (p.get("status") or {}).get("containerStatuses") or []]
        if pods and all((p["metadata"].get("labels") or {}).get("release") == "2.5.0"
                        for p in pods) and any(c.get("restartCount", 0) > 0 for c in statuses):
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the release never crashed")


async def test_outage_assessed_diverted_explained_and_undone(outage_world):
    from sandbox.scenario_outage import CAUSE, break_release, ready_app_pods

    world = outage_world
    break_release(world.cluster)
    await crashing(world)

    driven = await drive(world, "service-outage", {"divert": "maintenance", "recover": "undo"})

    text = driven.text()
    assert driven.statuses == {"assess": "ok", "divert": "ok", "root-cause": "ok",
                               "recover": "ok", "verify": "ok"}, text
    assess = [line for line in driven.lines if line.startswith("CRITICAL") and
              "mcp-production/mcp-server-production-" in line]
    assert assess and all("restarts" in line for line in assess)
    assert "pods Ready in all namespaces" in text
    # the maintenance page came from the configured manifest, shown in the plan first
    assert world.store.peek("deployments.apps", NS, "maintenance-page") is not None
    plans = {r["data"]["id"]: r["data"] for r in driven.records("step_plan")}
    assert "maintenance-page" in "\n".join(plans["divert"]["commands"])
    # the root cause: the release in the rollout history, events and EC2 by tag
    assert CAUSE in text and "<- current" in text and "EC2 instances tagged Environment=" \
        "production:" in text
    # recovered: the previous template, Ready pods again
    assert "rolled back to revision" in text and "rollout complete" in text
    assert all("release" not in (p["metadata"].get("labels") or {}) for p in world.app_pods())
    assert ready_app_pods(world.cluster) > 0


def test_running_but_not_ready_is_not_hidden():
    """A pod in phase Running whose readiness fails (kubectl's STATUS says Running, so the
    runbook's grep drops it) is named with that reason; a crash loop shows its reason; a
    completed job pod is not a finding."""
    from datetime import UTC, datetime

    from actions.outage import pod_findings
    from console.collectors import kube_parse

    def pod(name, phase, ready, waiting=None):
        state = {"waiting": {"reason": waiting}} if waiting else {"running": {}}
        return kube_parse.pod({
            "metadata": {"name": name, "namespace": "monitoring"},
            "status": {"phase": phase, "conditions": [{"type": "Ready",
                                                       "status": str(ready)}],
                       "containerStatuses": [{"name": "x", "ready": ready, "restartCount": 4,
                                              "state": state}]}}, datetime.now(UTC), None, None)

    found = pod_findings([pod("exporter", "Running", False),
                          pod("looping", "Running", False, "CrashLoopBackOff"),
                          pod("fine", "Running", True), pod("job", "Succeeded", False)])
    reasons = [f.reason for f in found]
    assert any(r.startswith("monitoring/exporter: Running") and "grep -v Running" in r
               for r in reasons)
    assert any(r.startswith("monitoring/looping: CrashLoopBackOff, 4 restarts") and
               "grep" not in r for r in reasons)
    assert not any("fine" in r or "job" in r for r in reasons[:-1])
    assert reasons[-1] == "2/4 pods Ready in all namespaces"


async def test_a_node_not_ready_is_named(outage_world):
    from sandbox.kube.controllers import chaos

    world = outage_world
    node = world.app_pods()[0]["spec"]["nodeName"]
    chaos.set_node_ready(world.cluster, node, "Unknown")
    await asyncio.sleep(0.5)
    driven = await drive(world, "service-outage", {"recover": "none"})
    assert f"CRITICAL    node {node} NotReady" in driven.text()


async def test_handover_fills_in_the_environment(outage_world):
    driven = await drive(outage_world, "service-outage", {"recover": "dr-failover"})
    assert "run `mcp-ops run dr-failover --env <disaster_recovery.environment>`" in \
        driven.text() or "mcp-ops run dr-failover --env" in driven.text()
    velero = await drive(outage_world, "service-outage", {"recover": "velero-restore"})
    assert "mcp-ops run velero-restore --env sandbox" in velero.text()


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_sandbox_outage_recovered_through_mcp_ops_run(fresh_sandbox, tmp_path):
    # its own sandbox: the rollout history it reads must be the outage's, not that of the
    # releases earlier rehearsals rolled out and back on the shared one
    sandbox = fresh_sandbox
    sandbox_switch(sandbox, "outage")
    try:
        import time

        deadline = time.monotonic() + 90  # the release's pods start, crash, back off
        while True:
            down = sandbox_cli(sandbox, tmp_path, "check", "sandbox", "--format", "report")
            if ("CrashLoopBackOff" in down.stdout and down.returncode == 2) \
                    or time.monotonic() > deadline:
                break
            time.sleep(2)
        out = sandbox_cli(sandbox, tmp_path, "run", "service-outage", "--env", "sandbox",
                          "--set", "divert=maintenance", "--set", "recover=undo",
                          "--confirm", "sandbox", timeout=360)
        up = sandbox_cli(sandbox, tmp_path, "check", "sandbox", "--format", "report")
    finally:
        sandbox_switch(sandbox, "healthy")
    assert down.returncode == 2, down.stdout
    assert out.returncode == 0, out.stdout + out.stderr
    assert "k8s/mcp-server-2.5.0.yaml" in out.stdout
    # the crash loop, as the pods' state or as their BackOff events: between two crashes a
    # pod is Running (not Ready), and at the rehearsal's clock speed that is often the case
    assert "CrashLoopBackOff" in out.stdout or "Back-off restarting failed container" in out.stdout
    assert "rolled back to revision" in out.stdout
    assert up.returncode in (0, 1), up.stdout


async def test_fallback_points_the_record_at_staging(outage_world):
    """divert=fallback: the service record now names the configured fallback (Route53 in
    moto), the previous value kept in the session log."""
    import boto3

    world = outage_world
    r53 = boto3.client("route53", region_name="us-east-1", endpoint_url=world.moto.endpoint,
                       aws_access_key_id="testing-key", aws_secret_access_key="testing-secret")
    zone = r53.create_hosted_zone(Name="pratiko.ai.", CallerReference="outage-test")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {
            "Name": "mcp.pratiko.ai", "Type": "CNAME", "TTL": 300,
            "ResourceRecords": [{"Value": "prod-lb.eu-west-1.elb.amazonaws.com"}]}}]})
    data = yaml.safe_load(world.config_path.read_text())
    data["environments"]["sandbox"]["aws"].update(
        route53_zone_id=zone_id, route53_record="mcp.pratiko.ai",
        route53_staging_target="staging-lb.eu-west-1.elb.amazonaws.com")
    world.config_path.write_text(yaml.safe_dump(data))

    driven = await drive(world, "service-outage", {"divert": "fallback", "recover": "none"})

    assert driven.statuses["divert"] == "ok", driven.text()
    sets = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
    record = next(s for s in sets if s["Name"] == "mcp.pratiko.ai." and s["Type"] == "CNAME")
    assert record["ResourceRecords"] == [{"Value": "staging-lb.eu-west-1.elb.amazonaws.com"}]
    note = next(r["data"] for r in driven.records("note")
                if r["data"]["text"] == "DNS record before the diversion")
    assert note["values"] == ["prod-lb.eu-west-1.elb.amazonaws.com"]
