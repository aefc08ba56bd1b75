"""The step library on the Kubernetes emulator, through the example wizard of
``actions/README.md`` and small wizards of its own: the manual checklist (who confirmed
what, in the log), a diagnosis that names the culprit, a change step whose plan shows the
command of the operation the writer runs, and notify (once the HTTP writer is merged).
"""

from __future__ import annotations

import ast
import asyncio
import json
from pathlib import Path

import pytest
from conftest import drive

from actions.examples.pods_ready import WIZARD as EXAMPLE
from actions.library import judge, kube_change_step, notify_step
from console.config.model import Band
from console.execution.kube.ops import ScaleDeployment
from console.execution.model import Wizard
from console.health.status import Status

pytestmark = pytest.mark.timeout(120)
NS = "mcp-production"
ROOT = Path(__file__).resolve().parents[2]


def notes(driven) -> list[dict]:
    return [r for r in driven.records("note")]


async def test_the_example_stops_at_its_checklist_then_goes_on_when_confirmed(world):
    stopped = await drive(world, EXAMPLE)
    assert stopped.statuses == {"wait-rollout": "ok", "pods": "ok", "health-check": "ok",
                                "tell-the-team": "failed"}, stopped.text()
    error = stopped.outcomes["tell-the-team"].error
    assert "not confirmed: 1. Post in #ops that the change is live; 2. Close the change " \
           "ticket" in error and "--set tell-the-team-done=yes" in error
    assert "[ ] 2. Close the change ticket" in stopped.lines
    assert any("HEALTHY" in line and "Ready, 0 restarts" in line for line in stopped.lines)

    partly = await drive(world, EXAMPLE, {"tell-the-team-done": "1"}, resume=stopped.path)
    assert partly.statuses == {"tell-the-team": "failed"}
    assert "2. Close the change ticket" in partly.outcomes["tell-the-team"].error

    done = await drive(world, EXAMPLE, {"tell-the-team-done": "yes"}, resume=stopped.path)
    assert done.statuses == {"tell-the-team": "ok"}
    records = notes(done)
    assert [r["data"]["confirmed"] for r in records] == [
        [], ["Post in #ops that the change is live"],
        ["Post in #ops that the change is live", "Close the change ticket"]]
    last = records[-1]
    assert last["data"]["missing"] == [] and last["data"]["checklist"] == "tell-the-team"
    assert last["data"]["confirmed_by"] == last["operator"]["user"]  # who, in the chain
    answers = [r["data"]["values"]["tell-the-team-done"] for r in done.records("inputs")]
    assert answers == ["no", "1", "1,2"]


async def test_a_diagnosis_names_the_culprit(world):
    from sandbox.kube.controllers.chaos import crashloop

    pods = sorted(p["metadata"]["name"] for p in world.app_pods())
    crashloop(world.cluster, NS, pod=pods[0])
    for _ in range(600):  # up to 60 s on a busy machine
        pod = world.store.peek("pods", NS, pods[0])
        waiting = [(c.get("state") or {}).get("waiting", {}).get("reason")
                   for c in pod["status"].get("containerStatuses") or []]
        if "CrashLoopBackOff" in waiting:
            break
        await asyncio.sleep(0.1)
    assert "CrashLoopBackOff" in waiting, f"the pod never crash-looped: {waiting}"
    only = Wizard("d", "D", "S", "W", steps=(EXAMPLE.steps[1],))
    driven = await drive(world, only)
    assert driven.statuses == {"pods": "failed"}
    assert f"{pods[0]} on" in driven.outcomes["pods"].error
    assert "crash-looping" in driven.outcomes["pods"].error  # in back-off or between crashes
    assert driven.lines[0].startswith("CRITICAL") and pods[0] in driven.lines[0]


def test_judge_reads_a_band_as_the_dashboard_does():
    band = Band(warning=70, critical=90)
    assert judge("pods", "cpu", "CPU", 93, band, unit="%").status == Status.CRITICAL
    assert judge("pods", "cpu", "CPU", 93, band, unit="%").reason == "CPU 93% > 90"
    assert judge("pods", "cpu", "CPU", 75, band).status == Status.WARNING
    hit = judge("cache", "hit", "hit rate", 97, Band(warning=95, critical=80), low_is_worse=True)
    assert hit.status == Status.HEALTHY


async def test_a_change_step_shows_the_command_of_the_operation_it_runs(world):
    op = ScaleDeployment("postgres-production-replica", NS, 2)
    wizard = Wizard("c", "C", "S", "W", steps=(kube_change_step(
        "scale-replica", "Scale the replica", "why", ops=lambda ctx: [op],
        summary=lambda ctx: "scale the database replica"),))
    driven = await drive(world, wizard)
    assert driven.statuses == {"scale-replica": "ok"}, driven.text()
    (plan,) = driven.records("step_plan")
    assert plan["data"]["commands"] == [op.command()] == [
        "kubectl scale deployment/postgres-production-replica --replicas=2 -n mcp-production"]
    assert "deployment/postgres-production-replica scaled: spec.replicas=2" in driven.lines
    assert world.deployment("postgres-production-replica")["spec"]["replicas"] == 2


def test_the_example_needs_only_the_public_kernel_surface():
    tree = ast.parse((ROOT / "actions/examples/pods_ready.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    kernel = {m for m in imported if m and m.startswith("console.execution")}
    assert kernel <= {"console.execution.model", "console.execution.context",
                      "console.execution.inputs"}, kernel


async def test_notify_shows_the_payload_then_posts_it(world, monkeypatch):
    pytest.importorskip("console.execution.writers.http")  # the HTTP writer's branch
    from aiohttp import web

    received: list[dict] = []

    async def hook(request):
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", f"http://127.0.0.1:{port}/hook")
    try:
        wizard = Wizard("n", "N", "S", "W", steps=(notify_step(
            "notice", "Status page notice", "why", channel="status_page",
            text=lambda ctx: f"Maintenance of {ctx.env_name} under way"),))
        driven = await drive(world, wizard, {"notice-text": "Edited: maintenance starts"})
    finally:
        await runner.cleanup()
    assert driven.statuses == {"notice": "ok"}, driven.text()
    (plan,) = driven.records("step_plan")
    body = json.loads(plan["data"]["summary"].split("): ", 1)[1])
    assert received == [body] and body["text"] == "Edited: maintenance starts"
    assert "$STATUS_PAGE_WEBHOOK" in plan["data"]["commands"][0]
    assert str(port) not in driven.path.read_text()  # the URL is a secret
