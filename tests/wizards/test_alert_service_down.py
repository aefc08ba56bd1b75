"""``alert-service-down`` on the Kubernetes emulator: a crashlooping pod is named with its
CrashLoopBackOff and restarted away; a rollout to an image that cannot be pulled is named
as the cause and undone; ``--read-only`` stops at the remedy (exit 2).
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import cli, drive

pytestmark = pytest.mark.timeout(240)
NS, DEPLOYMENT = "mcp-production", "mcp-server-production"


async def crashloop(world) -> str:
    from sandbox.kube.controllers import chaos

    pods = sorted(p["metadata"]["name"] for p in world.app_pods()
                  if not p["metadata"].get("deletionTimestamp"))
    name = pods[1]
    chaos.crashloop(world.cluster, NS, pod=name)
    await until(lambda: waiting(world, name) == "CrashLoopBackOff")
    return name


def waiting(world, pod: str) -> str:
    obj = world.store.peek("pods", NS, pod) or {}
    for cs in (obj.get("status") or {}).get("containerStatuses") or []:
        reason = ((cs.get("state") or {}).get("waiting") or {}).get("reason")
        if reason:
            return reason
    return ""


async def until(condition, timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def bad_rollout(world) -> tuple[str, str]:
    from sandbox.kube.controllers import chaos

    current = world.deployment()["spec"]["template"]["spec"]["containers"][0]["image"]
    bad = current.rsplit(":", 1)[0] + ":2.5.0-rc1"
    chaos.mark_image_bad(world.cluster, bad)

    def edit(d: dict) -> None:
        d["spec"]["template"]["spec"]["containers"][0]["image"] = bad
        d["metadata"].setdefault("annotations", {})["kubernetes.io/change-cause"] = "bad"

    world.store.mutate("deployments.apps", NS, DEPLOYMENT, edit)
    await until(lambda: any(waiting(world, p["metadata"]["name"]) in (
        "ImagePullBackOff", "ErrImagePull") for p in world.app_pods()))
    return current, bad


async def test_read_only_names_the_crashlooping_pod_and_stops_at_restart(world):
    name = await crashloop(world)
    out = await cli(world.config_path, "run", "alert-service-down", "--env", "sandbox",
                    "--read-only")
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"CRITICAL    pod {name}: CrashLoopBackOff" in out.stdout
    assert "remedy the state points at: restart" in out.stdout
    assert "rollout-restart" in out.stdout and "read-only mode" in out.stdout


async def test_restart_clears_the_crashloop(world):
    name = await crashloop(world)
    driven = await drive(world, "alert-service-down")
    assert driven.statuses == {"pods": "ok", "rollout-history": "ok", "events": "ok",
                               "previous-logs": "ok", "rollout-undo": "skipped",
                               "rollout-restart": "ok", "scale": "skipped",
                               "after": "ok"}, driven.text()
    assert f"pod {name}: CrashLoopBackOff" in driven.text()
    assert f"--- {name} previous log" in driven.text()
    assert world.store.peek("pods", NS, name) is None or \
        world.store.peek("pods", NS, name)["metadata"].get("deletionTimestamp")
    assert all(not waiting(world, p["metadata"]["name"]) for p in world.app_pods()
               if not p["metadata"].get("deletionTimestamp"))


async def test_a_bad_rollout_is_named_as_the_cause_and_undone(world):
    good, bad = await bad_rollout(world)
    driven = await drive(world, "alert-service-down")
    text = driven.text()
    assert "the last rollout (revision" in text and bad in text, text
    assert driven.statuses["rollout-undo"] == "ok", text
    assert driven.statuses["rollout-restart"] == "skipped"
    assert driven.statuses["after"] == "ok", text
    assert world.deployment()["spec"]["template"]["spec"]["containers"][0]["image"] == good
    [note] = [r["data"] for r in driven.records("note") if "previous_image" in r["data"]]
    assert note["previous_image"] == bad


async def test_a_healthy_deployment_gets_no_remedy(world):
    driven = await drive(world, "alert-service-down")
    assert "remedy the state points at: none" in driven.text()
    assert driven.statuses["rollout-undo"] == driven.statuses["rollout-restart"] == "skipped"
    assert driven.statuses["after"] == "skipped"
