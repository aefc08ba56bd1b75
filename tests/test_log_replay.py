"""What the operator saw, kept with what they did: the environment's health recorded
around every step of a real run (the emulator in its own process, the real PostgreSQL and
Redis), on the export's timeline, and ``mcp-ops log replay`` playing the session back."""

from __future__ import annotations

import subprocess

import pytest
from wizard_support import PYTHON, ROOT, EmulatorProcess, cli_env, write_config

from console.commands.log_replay import replay
from console.execution.log_store import list_sessions, read_records
from console.execution.redaction import Redactor

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("replay")
    with EmulatorProcess(tmp / "emu", speed=20) as emulator:
        config = write_config(tmp, kubeconfig=str(emulator.kubeconfig), context="sandbox")
        out = mcp_ops(config, tmp, "run", "scaling", "--confirm", "sandbox", "--set",
                      "replicas=7", "--set", "hpa_min=7")
        assert out.returncode == 0, out.stdout + out.stderr
    (summary,) = list_sessions(tmp / "sessions")
    yield config, tmp, summary


def mcp_ops(config, tmp, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "console.cli", "--config", str(config), *args],
                          capture_output=True, text=True, env=cli_env(tmp), cwd=ROOT,
                          timeout=120)


def test_the_health_is_recorded_around_the_steps(session):
    _, _, summary = session
    records = read_records(summary.path)
    health = [r["data"] for r in records if r["event"] == "health"]
    steps = {r["data"]["step"] for r in records if r["event"] == "step_end"}
    assert health and {h["step"] for h in health} <= steps
    assert set(health[0]["components"]) == {"service", "pods", "database", "cache", "backups"}
    pods = health[0]["components"]["pods"]
    assert pods["status"] in ("HEALTHY", "WARNING", "CRITICAL") and pods["reasons"]
    # the config's service is a dead address: the check says so, as the operator saw it
    assert health[0]["components"]["service"]["status"] == "CRITICAL"


def test_replay_plays_the_session_back_with_its_timing_and_health(session):
    config, tmp, summary = session
    out = mcp_ops(config, tmp, "log", "replay", summary.id, "--speed", "1000")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("+    0.0s  session start: wizard scaling")
    assert any("health at step 1: UNREACHABLE — service CRITICAL: service down" in line for line in lines)
    assert any("step 3 confirmation (" in line and line.endswith("): confirmed")
               for line in lines)
    assert any("lease acquired" in line for line in lines)
    assert lines[-1].startswith("-- ")
    offsets = [float(line[1:].split("s", 1)[0]) for line in lines if line.startswith("+")]
    assert offsets == sorted(offsets)  # in the order and at the times it happened


def test_replay_waits_as_the_session_did_scaled_by_speed(session):
    _, _, summary = session
    pauses: list[float] = []
    replay(summary.path, Redactor(), speed=4.0, write=lambda line: None, sleep=pauses.append)
    records = read_records(summary.path)
    from datetime import datetime
    first, last = (datetime.fromisoformat(r["ts"].replace("Z", "+00:00"))
                   for r in (records[0], records[-1]))
    assert sum(pauses) == pytest.approx((last - first).total_seconds() / 4.0, rel=0.05)


def test_a_tampered_log_is_replayed_under_a_warning(session, tmp_path):
    config, tmp, summary = session
    copy = tmp_path / summary.path.name
    text = summary.path.read_text().replace('"replicas=7"', '"replicas=70"', 1)
    if text == summary.path.read_text():
        text = summary.path.read_text().replace("scaling", "scalinG", 1)
    copy.write_text(text)
    lines: list[str] = []
    code = replay(copy, Redactor(), speed=1e6, write=lines.append, sleep=lambda s: None)
    assert code == 1 and lines[0].startswith(f"warning: {copy.stem} does not verify")


def test_the_export_puts_the_health_on_the_timeline(session):
    config, tmp, summary = session
    out = mcp_ops(config, tmp, "log", "export", summary.id)
    assert out.returncode == 0, out.stderr
    assert "health at step 1: UNREACHABLE — service CRITICAL" in out.stdout
