"""``security-checks`` on the emulator's logs: every application pod's 24 h and every Falco
pod's, with the intrusion and Falco-alert scenarios injected as the sandbox injects them."""

from __future__ import annotations

import pytest
from conftest import drive, sandbox_cli, sandbox_switch

pytestmark = pytest.mark.timeout(180)


def test_the_address_is_extracted_not_the_line():
    from actions.security.security_checks import FAILED_AUTH, address

    line = ('2026-12-06 10:00:00,123 WARN  [mcp.auth] authentication failed for user "admin" '
            "from 198.18.7.23: invalid API key")
    assert FAILED_AUTH.search(line) and address(line) == "198.18.7.23"
    assert address("Starting MCP server v2.4.1 on 0.0.0.0:8080") == "0.0.0.0"
    assert address("version 1.2.3.4.5") is None and address("999.1.1.1 x") is None
    assert not FAILED_AUTH.search('10.0.3.17 - "GET /x HTTP/1.1" 200 401ms')


async def test_quiet_day_is_healthy(world):
    driven = await drive(world, "security-checks")
    assert driven.statuses == {"auth-failures": "ok", "falco": "ok", "verdict": "ok"}, \
        driven.text()
    text = driven.text()
    assert "HEALTHY     failed authentications in 24 h over 6 pods" in text
    assert "HEALTHY     Falco alerts of priority Error or above in 24 h on" in text
    assert "security checks: HEALTHY" in text


async def test_intrusion_names_the_hostile_address(world):
    from sandbox.scenario_security import HOSTILE, PER_POD, inject_intrusion

    inject_intrusion(world.cluster)
    driven = await drive(world, "security-checks")
    text = driven.text()
    assert driven.statuses["verdict"] == "failed", text
    assert f"CRITICAL    failed authentications from {HOSTILE} {6 * PER_POD} ≥" not in text
    hostile = next(line for line in driven.lines
                   if f"failed authentications from {HOSTILE} " in line)
    assert hostile.startswith("CRITICAL") and f"{HOSTILE} {6 * PER_POD} > 1000" in hostile
    # the hostile address is the first address listed: the top of the table
    first = next(line for line in driven.lines if "failed authentications from " in line)
    assert HOSTILE in first
    notes = [r["data"] for r in driven.records("note")
             if r["data"]["text"] == "failed authentication, last 24 h"]
    assert notes[0]["top"][0] == [HOSTILE, 6 * PER_POD]


async def test_falco_alerts_are_read_from_every_daemonset_pod(world):
    from sandbox.scenario_security import inject_falco

    inject_falco(world.cluster)
    driven = await drive(world, "security-checks")
    text = driven.text()
    assert driven.statuses["verdict"] == "failed", text
    assert "CRITICAL    Falco alerts of priority Error or above in 24 h" in text
    assert "Falco: 2 x Critical Drop and execute new binary in container" in text
    assert "Falco: 2 x Error File below /etc opened for writing" in text
    notes = [r["data"] for r in driven.records("note") if r["data"]["text"] ==
             "Falco alerts, last 24 h"]
    falco = sorted(p["metadata"]["name"] for p in world.store.iter("pods", "security")
                   if p["metadata"]["labels"].get("app") == "falco")
    assert notes[0]["pods"] == falco and len(falco) > 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sandbox_intrusion_and_falco_scenarios(fresh_sandbox, tmp_path):
    sandbox = fresh_sandbox
    from sandbox.scenario_security import HOSTILE

    try:
        sandbox_switch(sandbox, "intrusion")
        intrusion = sandbox_cli(sandbox, tmp_path, "run", "security-checks", "--env", "sandbox",
                                "--read-only")
        sandbox_switch(sandbox, "falco-alert")
        falco = sandbox_cli(sandbox, tmp_path, "run", "security-checks", "--env", "sandbox",
                            "--read-only")
    finally:
        sandbox_switch(sandbox, "healthy")
    assert intrusion.returncode == 1, intrusion.stdout + intrusion.stderr
    assert f"failed authentications from {HOSTILE}" in intrusion.stdout
    assert falco.returncode == 1, falco.stdout + falco.stderr
    assert "Critical Drop and execute new binary in container" in falco.stdout
    healthy = sandbox_cli(sandbox, tmp_path, "run", "security-checks", "--env", "sandbox",
                          "--read-only")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
