"""``alert-high-cpu-memory`` and ``troubleshoot-memory`` on the emulator with the sandbox's
memory-leak scenario (every MCP-server pod OOMKilled, memory near its 4 GiB limit): the
diagnosis names the OOMKilled pods, the limits remedy patches the one container to 6Gi
(1.5 x, the previous value logged) and the kills stop.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from conftest import cli, drive

pytestmark = pytest.mark.timeout(240)
NS = "mcp-production"


def last_reasons(world) -> dict[str, str]:
    out = {}
    for pod in world.app_pods():
        if pod["metadata"].get("deletionTimestamp"):
            continue
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            term = (cs.get("lastState") or {}).get("terminated") or {}
            out[pod["metadata"]["name"]] = term.get("reason", "")
    return out


async def leak(world) -> SimpleNamespace:
    from sandbox import scenario_kube

    fake = SimpleNamespace(clusters=SimpleNamespace(production=SimpleNamespace(
        cluster=world.cluster)), scenario_state={})
    await scenario_kube.memory_leak_apply(fake)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while list(last_reasons(world).values()).count("OOMKilled") < 2:
        assert loop.time() < deadline, last_reasons(world)
        await asyncio.sleep(0.2)
    return fake


def container(world) -> dict:
    return next(c for c in world.deployment()["spec"]["template"]["spec"]["containers"]
                if c["name"] == "mcp-server")


async def test_read_only_names_the_oom_killed_pods_and_stops_at_the_limits(world):
    fake = await leak(world)
    try:
        out = await cli(world.config_path, "run", "alert-high-cpu-memory", "--env", "sandbox",
                        "--read-only")
    finally:
        from sandbox import scenario_kube
        await scenario_kube.memory_leak_revert(fake)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "last terminated OOMKilled" in out.stdout
    assert "memory limit 4096Mi" in out.stdout
    assert "raise-limits" in out.stdout and "read-only mode" in out.stdout


async def test_the_limit_patch_of_one_container_stops_the_kills(world):
    fake = await leak(world)
    before = container(world)
    try:
        driven = await drive(world, "troubleshoot-memory")
        after = container(world)
    finally:
        from sandbox import scenario_kube
        await scenario_kube.memory_leak_revert(fake)
    assert container(world)["resources"] == before["resources"]  # the revert puts it back
    text = driven.text()
    assert driven.statuses == {"usage": "ok", "oom-killed": "ok", "raise-limits": "ok",
                               "rollout-restart": "skipped", "after": "ok"}, text
    assert after["resources"]["limits"] == {**before["resources"]["limits"], "memory": "6Gi"}
    assert after["resources"]["requests"] == before["resources"]["requests"]
    [note] = [r["data"] for r in driven.records("note") if "previous_limits" in r["data"]]
    assert note["previous_limits"]["memory"] == "4Gi"
    assert "verified:" in text and "memory 6Gi" in text
