"""The sandbox's ``high-cpu`` scenario on the emulator: CPU load on every MCP-server pod
with the HPA held at its maximum. ``mcp-ops check`` (the real CLI) reports the pods' CPU
as CRITICAL; ``alert-high-cpu-memory --read-only`` names the pods' CPU against their
request and the HPA at its maximum, and stops at the scale remedy (exit 2). The revert
puts the HPA's maximum and the load back.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from conftest import cli
from waiting import until

from sandbox import scenario_cpu
from sandbox.kube.controllers import chaos

pytestmark = pytest.mark.timeout(240)
NS = "mcp-production"
HPA = ("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")


def fake_sandbox(world) -> SimpleNamespace:
    return SimpleNamespace(clusters=SimpleNamespace(production=SimpleNamespace(
        cluster=world.cluster)), scenario_state={})


def average_cpu_pct(world) -> float:
    """The app pods' CPU against their requests, from the emulator's PodMetrics."""
    usage = []
    for pod in world.app_pods():
        metrics = world.store.peek("pods.metrics.k8s.io", NS, pod["metadata"]["name"])
        if metrics:
            cpu = metrics["containers"][0]["usage"]["cpu"]
            usage.append(int(cpu.rstrip("n")) / 1e6 if cpu.endswith("n") else
                         float(cpu.rstrip("m")))
    return sum(usage) / len(usage) / 500 * 100 if usage else 0.0


async def test_high_cpu_is_named_by_the_check_and_the_alert_wizard(world):
    before = world.store.peek(*HPA)["spec"]["maxReplicas"]
    sandbox = fake_sandbox(world)
    await scenario_cpu.high_cpu_apply(sandbox)
    try:
        assert world.store.peek(*HPA)["spec"]["maxReplicas"] == 6
        await until(lambda: average_cpu_pct(world) > 100, timeout=60,
                    what=lambda: f"the load (CPU {average_cpu_pct(world):.0f}%)")
        check = await cli(world.config_path, "check", "sandbox", "--format", "json")
        report = json.loads(check.stdout)
        pods = next(c for c in report["environments"][0]["components"] if c["name"] == "pods")
        assert pods["status"] == "CRITICAL", pods
        assert any(re.match(r"pod CPU \d+% \(average of requests/limits\) > 90%", r)
                   for r in pods["reasons"]), pods["reasons"]

        looked = await cli(world.config_path, "run", "alert-high-cpu-memory", "--env",
                           "sandbox", "--read-only")
        assert looked.returncode == 2, looked.stdout + looked.stderr
        out = looked.stdout
        assert re.search(r"CRITICAL\s+average CPU [\d.]+% > 90", out), out
        named = re.findall(r"(mcp-server-production-\S+): CPU \d+m of request 500m", out)
        assert len(set(named)) == len(world.app_pods())  # every pod, by name
        assert "max 6" in out and "at its maximum: it cannot add replicas" in out
        assert "refused: read-only mode: step 'scale' is a change step" in out  # the remedy
    finally:
        await scenario_cpu.high_cpu_revert(sandbox)
    assert world.store.peek(*HPA)["spec"]["maxReplicas"] == before
    assert not chaos.state(world.cluster).load
    await until(lambda: average_cpu_pct(world) < 70, timeout=60,
                what=lambda: f"the load gone (CPU {average_cpu_pct(world):.0f}%)")
