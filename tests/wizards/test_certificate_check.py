"""``certificate-check`` against real TLS handshakes and the emulator's cert-manager.

The service host is the sandbox's own TLS endpoint (``sandbox/service_tls.py``) on the
emulated cluster: it presents, at every handshake, the certificate the ``production-tls``
Certificate's status says was issued, signed by a CA of its own that the config names.
The renewal is written as ``cmctl renew`` writes it (an Issuing condition on the status)
and must be seen over TLS afterwards.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import yaml
from conftest import drive, sandbox_cli, sandbox_switch

pytestmark = pytest.mark.timeout(120)
NS, CERT = "mcp-production", "production-tls"
RESOURCE = "certificates.cert-manager.io"


@pytest.fixture
async def tls_world(world):
    from sandbox.service_tls import ServiceTls

    endpoint = ServiceTls(world.cluster, world.tmp)
    await endpoint.start()
    data = yaml.safe_load(world.config_path.read_text())
    data["environments"]["sandbox"]["service"].update(
        tls_host=endpoint.address, tls_server_name="mcp.pratiko.ai",
        tls_ca_file=str(endpoint.ca_file))
    world.config_path.write_text(yaml.safe_dump(data))
    try:
        yield world, endpoint
    finally:
        await endpoint.stop()


def certificate(world) -> dict:
    return world.store.peek(RESOURCE, NS, CERT)


async def test_expiring_certificate_is_a_warning_and_renewal_is_seen_over_tls(tls_world):
    from actions.security.tls import handshake
    from sandbox.kube.controllers import chaos

    world, endpoint = tls_world
    chaos.expire_certificate(world.cluster, NS, CERT, 12)
    before = certificate(world)["status"]
    served = await handshake(endpoint.address, server_name="mcp.pratiko.ai",
                             ca_file=str(endpoint.ca_file))
    assert served.verified and 11.9 < served.days_left() <= 12.01

    driven = await drive(world, "certificate-check", {"renew": "yes"})

    assert driven.statuses == {"look": "ok", "renew": "ok", "verify-tls": "ok"}, driven.text()
    text = driven.text()
    assert "WARNING     certificate served by mcp.pratiko.ai expires in 12 days" in text
    assert "automatic renewal of production-tls overdue" in text
    after = certificate(world)["status"]
    assert after["revision"] == before["revision"] + 1
    assert not [c for c in after["conditions"] if c["type"] == "Issuing"]
    # the new expiry, seen over a new handshake, is cert-manager's new notAfter
    now = await handshake(endpoint.address, server_name="mcp.pratiko.ai",
                          ca_file=str(endpoint.ca_file))
    assert now.not_after > served.not_after and 85 < now.days_left() < 91
    assert f"{now.not_after:%Y-%m-%d %H:%M}Z" in text and "expiry seen over TLS" in text
    # the renewal was the status patch cmctl makes; the plan showed it
    plans = [r for r in driven.records("step_plan") if r["data"].get("id") == "renew"]
    shown = "\n".join(str(p["data"]) for p in plans)
    assert "--subresource=status" in shown and "cmctl renew production-tls" in shown
    notes = {r["data"]["text"]: r["data"] for r in driven.records("note")}
    assert notes["certificate before renewal"]["not_after"] == before["notAfter"]
    assert notes["certificate renewed"]["not_after"] == after["notAfter"]


async def test_healthy_certificate_looked_at_only(tls_world):
    world, _ = tls_world
    revision = certificate(world)["status"]["revision"]
    driven = await drive(world, "certificate-check", {"renew": "no"})
    assert driven.statuses == {"look": "ok", "renew": "skipped", "verify-tls": "skipped"}
    text = driven.text()
    assert "HEALTHY     certificate served by mcp.pratiko.ai expires in 60 days" in text
    assert "Certificate production-tls Ready=True" in text
    assert "4 findings" not in text and "worst HEALTHY" in text
    assert certificate(world)["status"]["revision"] == revision


async def test_ready_false_and_an_untrusted_chain_are_critical(tls_world, tmp_path):
    from sandbox.kube.controllers.base import set_condition

    world, _ = tls_world
    world.store.mutate(RESOURCE, NS, CERT, lambda c: c["status"].__setitem__(
        "conditions", set_condition(c["status"]["conditions"], "Ready", "False", "Failed",
                                    "The issuer refused the order", "2026-01-01T00:00:00Z")))
    other = tmp_path / "other-ca.pem"
    from sandbox.kube.tls import loopback_certificate

    other.write_bytes(loopback_certificate().cert_pem)
    data = yaml.safe_load(world.config_path.read_text())
    data["environments"]["sandbox"]["service"]["tls_ca_file"] = str(other)
    world.config_path.write_text(yaml.safe_dump(data))

    driven = await drive(world, "certificate-check", {"renew": "no"})
    text = driven.text()
    assert "CRITICAL    Certificate production-tls Ready=False (Failed: The issuer refused " \
        "the order)" in text
    assert "CRITICAL    clients refuse the certificate of mcp.pratiko.ai: " in text
    assert "expires in 60 days" in text  # the dates are still read


async def test_the_runbooks_annotation_renews_nothing(tls_world):
    from sandbox.kube.controllers.certificates import TRIGGER

    world, _ = tls_world
    revision = certificate(world)["status"]["revision"]
    world.store.mutate(RESOURCE, NS, CERT, lambda c: c["metadata"].setdefault(
        "annotations", {}).__setitem__(TRIGGER, "true"))
    await asyncio.sleep(1.5)  # 30 s of the emulator's clock
    assert certificate(world)["status"]["revision"] == revision


async def test_no_tls_host_is_a_warning_not_a_pass(world):
    driven = await drive(world, "certificate-check", {"renew": "no"})
    assert "WARNING     service.tls_host is not set" in driven.text()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sandbox_cert_expiring_renewed_through_mcp_ops_run(sandbox, tmp_path):
    sandbox_switch(sandbox, "cert-expiring")
    try:
        out = sandbox_cli(sandbox, tmp_path, "run", "certificate-check", "--env", "sandbox",
                          "--set", "renew=yes", "--confirm", "sandbox")
    finally:
        sandbox_switch(sandbox, "healthy")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "certificate served by mcp.pratiko.ai expires in 12 days" in out.stdout
    assert "WARNING" in out.stdout
    line = next(x for x in out.stdout.splitlines() if "expiry seen over TLS" in x)
    assert f"-> {datetime.now(UTC).year}" in line or f"-> {datetime.now(UTC).year + 1}" in line
    assert "(90 days)" in line or "(89 days)" in line
