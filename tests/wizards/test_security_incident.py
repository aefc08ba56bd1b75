"""``security-incident`` against the emulator's NetworkPolicies, the MCP-server simulator
behind the sandbox's ingress gate, the real PostgreSQL (pg_dump, pg_restore) and the
sandbox's webhook receiver: the hostile address refused and others served, the way back,
evidence that matches the log and restores, and the message as JSON with no URL anywhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import stat

import aiohttp
import pytest
import servers
import yaml
from conftest import BUCKET, ROWS, cli, drive

pytestmark = pytest.mark.timeout(180)
NS = "mcp-production"
HOSTILE = "198.18.7.23"
FRIEND = "203.0.113.10"
NETPOL = "networkpolicies.networking.k8s.io"


@pytest.fixture
async def incident(world, monkeypatch):
    """The world, a simulator gated by the world's NetworkPolicies (client address from the
    trusted header), a webhook receiver as Slack, and the config naming its variable."""
    from sandbox.ingress_gate import admits
    from sandbox.simulator import Simulator
    from sandbox.webhooks import WebhookReceiver

    sim = Simulator(database_dsn=world.pg.dsn(world.pg.production),
                    redis_url=f"redis://{servers.REDIS_HOSTPORT}/0")
    await sim.start()
    sim.gate = lambda address: admits(world.cluster, address)
    sim.client_token = "test-token"
    hooks = WebhookReceiver()
    await hooks.start()
    monkeypatch.setenv("WZ_SLACK_URL", hooks.url("slack"))
    data = yaml.safe_load(world.config_path.read_text())
    data["environments"]["sandbox"]["notifications"] = {"slack_webhook_env": "WZ_SLACK_URL"}
    world.config_path.write_text(yaml.safe_dump(data))
    try:
        yield world, sim, hooks
    finally:
        await hooks.stop()
        await sim.stop()


async def ask(sim, address: str | None) -> int | str:
    headers = {"X-Sandbox-Client-Address": address, "X-Sandbox-Token": "test-token"} \
        if address else {}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(f"{sim.base_url}/health", headers=headers) as response:
                return response.status
    except aiohttp.ClientError as exc:
        return f"refused: {type(exc).__name__}"


def policies(world) -> dict[str, dict]:
    return {p["metadata"]["name"]: p for p in world.store.iter(NETPOL, NS)}


def test_block_ingress_takes_the_range_out_of_every_kind_of_rule():
    from actions.security.incident import block_ingress

    net = [ipaddress.ip_network("198.18.7.23/32")]
    everyone = block_ingress([{"ports": [{"port": 8080}]}], net)
    assert everyone == [{"ports": [{"port": 8080}], "from": [
        {"ipBlock": {"cidr": "0.0.0.0/0", "except": ["198.18.7.23/32"]}},
        {"ipBlock": {"cidr": "::/0"}}]}]
    wide = block_ingress([{"from": [{"ipBlock": {"cidr": "198.18.0.0/15",
                                                 "except": ["198.18.9.0/24"]}},
                                    {"podSelector": {}}]}], net)
    assert wide == [{"from": [{"ipBlock": {"cidr": "198.18.0.0/15",
                                           "except": ["198.18.9.0/24", "198.18.7.23/32"]}},
                              {"podSelector": {}}]}]
    # a rule admitting only the blocked range goes, not left with an empty "from"
    assert block_ingress([{"from": [{"ipBlock": {"cidr": "198.18.7.23/32"}}]}], net) == []
    # pods only, or another range: nothing to change
    assert block_ingress([{"from": [{"podSelector": {"matchLabels": {"a": "b"}}}]}], net) is None
    assert block_ingress([{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}], net) is None


@pytest.mark.parametrize("bad", ["10.0.0.300/32", "10.0.0.1/24", "0.0.0.0/0", "evil.example"])
async def test_an_invalid_cidr_is_refused_before_anything_runs(incident, bad):
    world, _, hooks = incident
    before = policies(world)
    driven = await drive(world, "security-incident", {"block": bad,
                                                      "evidence-dir": str(world.tmp / "ev")})
    assert driven.problems and not driven.outcomes
    assert "block" in str(driven.problems[0])
    assert policies(world) == before and not hooks.deliveries
    assert not (world.tmp / "ev").exists()


async def test_block_refuses_the_hostile_address_evidence_notify_and_the_way_back(incident):
    world, sim, hooks = incident
    original = {n: p["spec"] for n, p in policies(world).items()}
    assert await ask(sim, HOSTILE) == 200 and await ask(sim, FRIEND) == 200
    evidence = world.tmp / "evidence"

    driven = await drive(world, "security-incident",
                         {"block": f"{HOSTILE}/32", "evidence-dir": str(evidence)})

    assert driven.statuses == {"policies": "ok", "contain": "ok", "evidence": "ok",
                               "upload": "skipped", "notify": "ok", "way-back": "skipped"}, \
        driven.text()
    text = driven.text()
    assert "allow-mcp-server-ingress: admits 198.18.7.23/32 today -> except added" in text
    assert "postgres-allow-mcp-server: admits none of the ranges (unchanged)" in text
    assert "blocks nothing" in text and "externalTrafficPolicy" in text
    # the block is real: refused from the hostile address, served to others
    assert str(await ask(sim, HOSTILE)).startswith("refused")
    assert await ask(sim, FRIEND) == 200 and await ask(sim, None) == 200
    assert sim.refused[-1]["address"] == HOSTILE
    # evidence: 0700, each file's SHA-256 and size as the session log says
    assert stat.S_IMODE(os.stat(evidence).st_mode) == 0o700
    notes = [r["data"] for r in driven.records("note") if r["data"]["text"] == "evidence file"]
    pods = [p["metadata"]["name"] for p in world.app_pods()]
    assert {n["file"] for n in notes} == {"database.dump", *(f"logs/{p}.log" for p in pods)}
    for note in notes:
        data = (evidence / note["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == note["sha256"]
        assert len(data) == note["size"] and note["size"] > 0
    # the dump restores into an empty database
    restore = await asyncio.create_subprocess_exec(
        "pg_restore", "--no-owner", *servers.pg_args(), "-U", "postgres", "-d", world.pg.recovery,
        str(evidence / "database.dump"), stderr=asyncio.subprocess.PIPE)
    _, err = await restore.communicate()
    assert restore.returncode == 0, err
    assert await world.pg.count(world.pg.recovery) == ROWS
    # the team was told, as JSON; the URL is nowhere
    (delivery,) = hooks.deliveries
    assert delivery["accepted"] and delivery["channel"] == "slack"
    assert f"{HOSTILE}/32 blocked" in delivery["body"]["text"]
    url = hooks.url("slack")
    assert url not in driven.path.read_text() and url not in text
    exported = await cli(world.config_path, "log", "export", driven.path.stem)
    assert exported.returncode == 0 and "evidence" in exported.stdout, exported.stderr
    assert url not in exported.stdout + exported.stderr
    assert hooks.token not in driven.path.read_text()

    # the way back: the original policies, the hostile address served again
    back = await drive(world, "security-incident", {"lift": "yes"})
    assert back.statuses["way-back"] == "ok", back.text()
    assert {n: p["spec"] for n, p in policies(world).items()} == original
    assert not any((p["metadata"].get("annotations") or {}) for p in policies(world).values()
                   if "mcp-ops.pratiko.ai/original-ingress" in (p["metadata"].get("annotations") or {}))
    assert await ask(sim, HOSTILE) == 200


async def test_a_snatting_load_balancer_defeats_the_block(incident):
    """Behind externalTrafficPolicy: Cluster the pods see a node's address: the block holds
    on paper and the hostile address is still served — which the first step warns of."""
    world, sim, _ = incident
    world.store.create("services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "mcp-server-public", "namespace": NS},
        "spec": {"type": "LoadBalancer", "selector": {"app": "mcp-server"},
                 "externalTrafficPolicy": "Cluster",
                 "ports": [{"name": "http", "port": 443, "targetPort": 8080}]}})
    driven = await drive(world, "security-incident",
                         {"block": HOSTILE, "evidence-dir": str(world.tmp / "ev2"),
                          "evidence-bucket": BUCKET})
    assert "WARNING service/mcp-server-public: externalTrafficPolicy Cluster" in driven.text()
    assert await ask(sim, HOSTILE) == 200
    # the evidence went to S3 too, encrypted at rest, the same bytes
    assert driven.statuses["upload"] == "ok", driven.text()
    uploaded = [r["data"] for r in driven.records("note")
                if r["data"]["text"] == "evidence uploaded"]
    s3 = world.moto.client()
    dump = next(u for u in uploaded if u["file"] == "database.dump")
    head = s3.head_object(Bucket=BUCKET, Key=dump["key"])
    assert head["ServerSideEncryption"] == "AES256"
    body = s3.get_object(Bucket=BUCKET, Key=dump["key"])["Body"].read()
    assert hashlib.sha256(body).hexdigest() == dump["sha256"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sandbox_intrusion_blocked_through_mcp_ops_run(sandbox, tmp_path):
    import json
    import urllib.request

    from conftest import sandbox_cli, sandbox_switch

    def status(address: str) -> int | str:
        request = urllib.request.Request(
            f"{sandbox.info['service']['sandbox']}/health",
            headers={"X-Sandbox-Client-Address": address,
                     "X-Sandbox-Token": sandbox.info["service_client_token"]})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return int(response.status)
        except Exception as exc:  # noqa: BLE001 - a dropped connection, whatever its name
            return f"refused: {type(exc).__name__}"

    sandbox_switch(sandbox, "intrusion")
    try:
        out = sandbox_cli(sandbox, tmp_path, "run", "security-incident", "--env", "sandbox",
                          "--set", f"block={HOSTILE}/32", "--set",
                          f"evidence-dir={tmp_path / 'evidence'}", "--confirm", "sandbox")
        assert out.returncode == 0, out.stdout + out.stderr
        assert str(status(HOSTILE)).startswith("refused") and status(FRIEND) == 200
        seen = sandbox_cli(sandbox, tmp_path, "sandbox", "status", "--format", "json")
        assert f"{HOSTILE}/32 blocked" in seen.stdout
        assert "hooks/" not in out.stdout + seen.stdout
        assert json.loads(seen.stdout)["ingress"]["recent_addresses"][HOSTILE] >= 1
    finally:
        back = sandbox_cli(sandbox, tmp_path, "run", "security-incident", "--env", "sandbox",
                           "--set", "lift=yes", "--confirm", "sandbox")
        sandbox_switch(sandbox, "healthy")
    assert back.returncode == 0, back.stdout + back.stderr
    assert status(HOSTILE) == 200
