"""``scaling`` on the Kubernetes emulator: the HPA patch keeps every metric but CPU, an HPA
that cannot be read is not guessed at, and a run is undone from its session log.
"""

from __future__ import annotations

import json

import pytest
from conftest import cli, drive

pytestmark = pytest.mark.timeout(180)
NS = "mcp-production"
MEMORY = {"type": "Resource", "resource": {"name": "memory", "target": {
    "type": "Utilization", "averageUtilization": 75}}}
REQUESTS = {"type": "Pods", "pods": {"metric": {"name": "http_requests_per_second"},
                                     "target": {"type": "AverageValue", "averageValue": "100"}}}


def hpa(world) -> dict:
    return world.store.peek("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")


def replicas(world) -> int:
    return world.deployment()["spec"]["replicas"]


def notes(driven) -> list[dict]:
    return [r["data"] for r in driven.records("note")]


async def test_cpu_target_is_patched_alone_and_the_other_metrics_survive(world):
    # memory first, CPU second, a custom metric last: the CPU entry is not at index 0
    world.store.mutate("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa",
                       lambda h: h["spec"].update(metrics=[MEMORY, *h["spec"]["metrics"],
                                                           REQUESTS]))
    driven = await drive(world, "scaling", {"replicas": "8", "hpa_min": "8", "hpa_max": "24",
                                            "cpu_target": "55"})
    assert driven.statuses == {"current-state": "ok", "hpa-settings": "ok",
                               "scale-deployment": "ok", "read-replicas": "skipped",
                               "verify-pods": "ok"}, driven.text()
    spec = hpa(world)["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == (8, 24)
    assert spec["metrics"][0] == MEMORY and spec["metrics"][2] == REQUESTS  # untouched
    assert spec["metrics"][1]["resource"] == {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 55}}
    [plan] = [r["data"] for r in driven.records("step_plan") if r["data"]["id"] == "hpa-settings"]
    patch = json.loads(plan["commands"][0].split(" -p ", 1)[1].strip("'"))
    assert {"op": "test", "path": "/spec/metrics/1/resource/name", "value": "cpu"} in patch
    assert not any(op["path"] == "/spec/metrics" for op in patch)  # never the whole list
    assert "memory, pods/http_requests_per_second kept" in plan["summary"]
    assert "memory, pods/http_requests_per_second kept" in driven.text()  # the verify line
    assert replicas(world) == 8


async def test_an_hpa_that_cannot_be_read_is_not_guessed_at(world):
    world.store.delete("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")
    before = replicas(world)
    driven = await drive(world, "scaling", {"replicas": "7"})
    assert driven.problems == []  # nothing invented for the HPA inputs: they stay empty
    assert driven.statuses["current-state"] == "ok"
    assert driven.statuses["hpa-settings"] == "failed"
    error = driven.outcomes["hpa-settings"].error
    assert "cannot be read" in error and "refusing to guess" in error
    assert "scale-deployment" not in driven.statuses  # a failed step stops the wizard
    assert hpa(world) is None and replicas(world) == before
    inputs = [r["data"]["values"] for r in driven.records("inputs")][-1]
    assert inputs["hpa_min"] == "" and inputs["cpu_target"] == ""


async def test_a_run_is_undone_from_its_session_log(world):
    spec = hpa(world)["spec"]
    before = (spec["minReplicas"], spec["maxReplicas"],
              spec["metrics"][0]["resource"]["target"]["averageUtilization"], replicas(world))
    first = await drive(world, "scaling", {"replicas": "9", "hpa_min": "9", "hpa_max": "25",
                                           "cpu_target": "50"})
    assert first.statuses["verify-pods"] == "ok", first.text()
    recorded: dict = {}
    for note in notes(first):  # the first value recorded of each: from before the run
        for key, value in note.get("scaling_previous", {}).items():
            recorded.setdefault(key, value)
    assert recorded == {"hpa_min": before[0], "hpa_max": before[1], "cpu_target": before[2],
                        "replicas": before[3]}

    # the console offers the recorded session; mcp-ops run takes its id
    out = await cli(world.config_path, "run", "scaling", "--env", "sandbox", "--set",
                    f"undo={first.run.log.id}", "--confirm", "sandbox")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"undo of session {first.run.log.id}" in out.stdout
    spec = hpa(world)["spec"]
    after = (spec["minReplicas"], spec["maxReplicas"],
             spec["metrics"][0]["resource"]["target"]["averageUtilization"], replicas(world))
    assert after == before


async def test_undo_refuses_a_session_that_recorded_nothing_or_does_not_verify(world):
    looked = await drive(world, "scaling", {"replicas": "6"}, read_only=True)
    assert looked.statuses["hpa-settings"] == "refused"
    refused = await drive(world, "scaling", {"undo": looked.run.log.id})
    assert [p.name for p in refused.problems] == ["undo"]
    assert "recorded no previous values" in refused.problems[0].message

    changed = await drive(world, "scaling", {"replicas": "7", "hpa_min": "7"})
    assert changed.statuses["scale-deployment"] == "ok", changed.text()
    text = changed.path.read_text()
    assert " before: " in text
    changed.path.write_text(text.replace(" before: ", " after: ", 1))  # edited: not trusted
    tampered = await drive(world, "scaling", {"undo": changed.run.log.id})
    assert "does not verify" in tampered.problems[0].message
