"""Alertmanager's firing alerts beside the console's own findings, read from a real
Alertmanager (Debian's prometheus-alertmanager; .ci/run installs it) over its API v2."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from health_support import HealthServer, refused_port
from waiting import until_sync

from console.collectors.service import ServiceCollector
from console.config.model import ServiceSettings, Thresholds
from console.health import Status
from console.health.evaluate import evaluate_component

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.skipif(not shutil.which("prometheus-alertmanager"),
                                 reason="prometheus-alertmanager is not installed "
                                        "(.ci/run installs it)")]

CONFIG = """\
route: {receiver: nobody, group_wait: 1h}
receivers: [{name: nobody}]
"""


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def alertmanager(tmp_path):
    (tmp_path / "am.yml").write_text(CONFIG)
    with refused_port() as port, refused_port() as cluster_port:
        pass
    proc = subprocess.Popen(
        ["prometheus-alertmanager", f"--config.file={tmp_path / 'am.yml'}",
         f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--cluster.listen-address=127.0.0.1:{cluster_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        until_sync(lambda: _ready(url), timeout=30, what="alertmanager ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def fire(url: str, name: str, severity: str, namespace: str, summary: str,
         minutes_ago: int = 12) -> None:
    now = datetime.now(UTC)
    response = httpx.post(f"{url}/api/v2/alerts", json=[{
        "labels": {"alertname": name, "severity": severity, "namespace": namespace},
        "annotations": {"summary": summary},
        "startsAt": (now - timedelta(minutes=minutes_ago)).isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat()}], timeout=5)
    assert response.status_code == 200, response.text


@pytest.fixture
async def service():
    s = await HealthServer().start()
    yield s
    await s.stop()


async def judge(service, **settings):
    c = ServiceCollector(ServiceSettings(base_url=service.url, **settings))
    try:
        snap = await c.collect()
    finally:
        await c.close()
    return snap, evaluate_component("service", snap, Thresholds())


async def test_firing_alerts_of_this_platform_are_findings_beside_the_consoles(
        service, alertmanager):
    fire(alertmanager, "MCPHighErrorRate", "critical", "mcp-production", "5xx above 5 %")
    fire(alertmanager, "PostgresReplicationLag", "warning", "mcp-production", "lag 40 s", 3)
    fire(alertmanager, "OtherTeamDiskFull", "critical", "billing", "not ours")
    snap, health = await judge(service, alertmanager_url=alertmanager,
                               alertmanager_filter=['namespace="mcp-production"'])
    assert [a.name for a in snap.firing] == ["MCPHighErrorRate", "PostgresReplicationLag"]
    found = {f.check: f for f in health.findings}
    assert found["alertmanager"].status is Status.HEALTHY
    assert found["alertmanager"].reason == "Alertmanager answers: 2 alerts firing"
    high = found["alertmanager.MCPHighErrorRate"]
    assert high.status is Status.CRITICAL
    assert high.reason == "Alertmanager: MCPHighErrorRate firing for 12m — 5xx above 5 %"
    assert found["alertmanager.PostgresReplicationLag"].status is Status.WARNING
    assert "alertmanager.OtherTeamDiskFull" not in found
    assert health.status is Status.CRITICAL  # the health endpoints themselves are fine
    assert found["endpoint.health"].status is Status.HEALTHY


async def test_a_silenced_alert_is_not_shown(service, alertmanager):
    fire(alertmanager, "MCPSlowResponses", "warning", "mcp-production", "P95 2 s")
    now = datetime.now(UTC)
    silence = httpx.post(f"{alertmanager}/api/v2/silences", json={
        "matchers": [{"name": "alertname", "value": "MCPSlowResponses", "isRegex": False}],
        "startsAt": now.isoformat(), "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "test", "comment": "known"}, timeout=5)
    assert silence.status_code == 200, silence.text

    def silenced() -> bool:
        alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=5).json()
        return bool(alerts) and alerts[0]["status"]["state"] == "suppressed"

    until_sync(silenced, timeout=10, what="the alert suppressed")
    snap, health = await judge(service, alertmanager_url=alertmanager)
    assert snap.firing == ()
    assert health.status is Status.HEALTHY


async def test_an_alertmanager_that_does_not_answer_is_a_warning(service):
    with refused_port() as port:
        snap, health = await judge(service, alertmanager_url=f"http://127.0.0.1:{port}")
    assert snap.firing is None
    note = next(f for f in health.findings if f.check == "alertmanager")
    assert note.status is Status.WARNING and note.reason.startswith("Alertmanager not asked:")


async def test_without_alertmanager_configured_nothing_is_asked(service):
    snap, health = await judge(service)
    assert snap.firing is None and snap.alertmanager_error is None
    assert not any(f.check.startswith("alertmanager") for f in health.findings)
