"""Rollouts through the real kubectl, against the seeded world with its controllers running:
scale + ``rollout status``, ``set image`` -> ``rollout history`` -> ``rollout undo``,
``rollout restart``, and a rollout to an image that cannot be pulled timing out.

kubectl only reads what the controllers write (ReplicaSets, revision annotations, status
counters, the Progressing condition), so these tests fail if any of it is wrong.
"""

from __future__ import annotations

import json

import pytest
from kube_support import eventually, kubectl

from sandbox.kube.controllers import chaos

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120), pytest.mark.emulator(speed=40)]

NS = "mcp-production"
DEPLOY = "deployment/mcp-server-production"


@pytest.fixture
def emu(emulator):
    emulator.cluster.extras["hpa_actuation"] = False  # these tests scale by hand
    return emulator


async def get_json(emu, *args) -> dict:
    return json.loads((await kubectl(emu, "get", *args, "-n", NS, "-o", "json")).stdout)


async def rollout_status(emu, timeout: str = "60s"):
    return await kubectl(emu, "rollout", "status", DEPLOY, "-n", NS, f"--timeout={timeout}",
                         check=False)


def server_pods(pods: dict) -> list[dict]:
    return [p for p in pods["items"] if p["metadata"]["labels"].get("app") == "mcp-server"]


def history_revisions(text: str) -> list[int]:
    return [int(line.split()[0]) for line in text.splitlines() if line[:1].isdigit()]


async def test_scale_to_ten_then_rollout_status_succeeds(emu):
    res = await kubectl(emu, "scale", DEPLOY, "--replicas=10", "-n", NS)
    assert "scaled" in res.stdout
    status = await rollout_status(emu)
    assert status.returncode == 0, status.stderr
    assert 'deployment "mcp-server-production" successfully rolled out' in status.stdout
    d = await get_json(emu, DEPLOY)
    assert d["status"]["observedGeneration"] == d["metadata"]["generation"]
    for field in ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas"):
        assert d["status"][field] == 10, field
    pods = server_pods(await get_json(emu, "pods", "-l", "app=mcp-server"))
    assert len(pods) == 10
    assert all(p["status"]["phase"] == "Running" for p in pods)
    # the four new pods were spread over the nodes by the scheduler
    assert len({p["spec"]["nodeName"] for p in pods}) == 4
    events = (await kubectl(emu, "get", "events", "-n", NS)).stdout
    assert "ScalingReplicaSet" in events and "from 6 to 10" in events


async def test_set_image_history_undo_reuses_the_old_replicaset(emu):
    await kubectl(emu, "annotate", DEPLOY, "-n", NS,
                  "kubernetes.io/change-cause=upgrade to v1.2.0")
    await kubectl(emu, "set", "image", DEPLOY, "mcp-server=pratiko/mcp-server:v1.2.0", "-n", NS)
    assert (await rollout_status(emu)).returncode == 0
    history = (await kubectl(emu, "rollout", "history", DEPLOY, "-n", NS)).stdout
    assert history_revisions(history) == [1, 2]
    assert "upgrade to v1.2.0" in history  # change-cause copied to the new ReplicaSet
    pods = server_pods(await get_json(emu, "pods", "-l", "app=mcp-server"))
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"pratiko/mcp-server:v1.2.0"}

    res = await kubectl(emu, "rollout", "undo", DEPLOY, "-n", NS)
    assert "rolled back" in res.stdout
    assert (await rollout_status(emu)).returncode == 0
    d = await get_json(emu, DEPLOY)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "pratiko/mcp-server:v1.1.0"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    history = (await kubectl(emu, "rollout", "history", DEPLOY, "-n", NS)).stdout
    assert history_revisions(history) == [2, 3]
    rss = [rs for rs in (await get_json(emu, "rs"))["items"]
           if rs["metadata"]["name"].startswith("mcp-server-production-")]
    assert len(rss) == 2  # the v1.1.0 ReplicaSet came back; no third one was made
    current = next(rs for rs in rss if rs["spec"]["replicas"] == 6)
    annotations = current["metadata"]["annotations"]
    assert annotations["deployment.kubernetes.io/revision"] == "3"
    assert annotations["deployment.kubernetes.io/revision-history"] == "1"
    images = {p["spec"]["containers"][0]["image"]
              for p in server_pods(await get_json(emu, "pods", "-l", "app=mcp-server"))}
    assert images == {"pratiko/mcp-server:v1.1.0"}


async def test_rollout_restart_sets_restarted_at_and_replaces_every_pod(emu):
    before = {p["metadata"]["name"]
              for p in server_pods(await get_json(emu, "pods", "-l", "app=mcp-server"))}
    await kubectl(emu, "rollout", "restart", DEPLOY, "-n", NS)
    assert (await rollout_status(emu)).returncode == 0
    d = await get_json(emu, DEPLOY)
    assert "kubectl.kubernetes.io/restartedAt" in d["spec"]["template"]["metadata"]["annotations"]

    async def replaced():
        pods = server_pods(await get_json(emu, "pods", "-l", "app=mcp-server"))
        names = {p["metadata"]["name"] for p in pods}
        return len(names) == 6 and not names & before and all(
            p["status"]["phase"] == "Running" for p in pods)

    await eventually(replaced)
    history = (await kubectl(emu, "rollout", "history", DEPLOY, "-n", NS)).stdout
    assert history_revisions(history) == [1, 2]


async def test_rollout_to_an_unpullable_image_exceeds_its_progress_deadline(emu):
    chaos.mark_image_bad(emu.cluster, "pratiko/mcp-server:v9.9.9")
    await kubectl(emu, "patch", DEPLOY, "-n", NS, "-p", '{"spec":{"progressDeadlineSeconds":30}}')
    await kubectl(emu, "set", "image", DEPLOY, "mcp-server=pratiko/mcp-server:v9.9.9", "-n", NS)
    status = await rollout_status(emu, timeout="90s")
    assert status.returncode != 0
    assert 'deployment "mcp-server-production" exceeded its progress deadline' in status.stderr
    pods = server_pods(await get_json(emu, "pods", "-l", "app=mcp-server"))
    waiting = {p["status"]["containerStatuses"][0]["state"].get("waiting", {}).get("reason")
               for p in pods if p["spec"]["containers"][0]["image"].endswith("v9.9.9")}
    assert waiting and waiting <= {"ErrImagePull", "ImagePullBackOff"}
    d = await get_json(emu, DEPLOY)
    # maxUnavailable 25% of 6 rounds down to 1: five old pods keep serving
    assert d["status"]["availableReplicas"] >= 5
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    table = (await kubectl(emu, "get", "pods", "-n", NS, "-l", "app=mcp-server")).stdout
    assert "ImagePullBackOff" in table or "ErrImagePull" in table


async def test_daemonset_and_statefulset_restarts_roll_and_report_status(emu):
    before = {p["metadata"]["name"] for p in
              json.loads((await kubectl(emu, "get", "pods", "-n", "security", "-o", "json")).stdout)
              ["items"]}
    await kubectl(emu, "rollout", "restart", "daemonset/falco", "-n", "security")
    res = await kubectl(emu, "rollout", "status", "daemonset/falco", "-n", "security",
                        "--timeout=60s")
    assert 'daemon set "falco" successfully rolled out' in res.stdout
    pods = json.loads((await kubectl(emu, "get", "pods", "-n", "security", "-o", "json")).stdout)
    live = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    assert len(live) == 4 and not {p["metadata"]["name"] for p in live} & before
    assert sorted(p["spec"]["nodeName"] for p in live) == ["node-1", "node-2", "node-3", "node-4"]

    def am_uid() -> str:
        return emu.store.get("pods", "monitoring", "alertmanager-0")["metadata"]["uid"]

    old_uid = am_uid()
    await kubectl(emu, "rollout", "restart", "statefulset/alertmanager", "-n", "monitoring")
    res = await kubectl(emu, "rollout", "status", "statefulset/alertmanager", "-n", "monitoring",
                        "--timeout=60s")
    assert "partitioned roll out complete: 1 new pods have been updated" in res.stdout
    assert am_uid() != old_uid  # alertmanager-0 was replaced under the same name
