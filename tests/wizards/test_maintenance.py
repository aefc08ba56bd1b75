"""``maintenance-window`` against real parts: the Kubernetes emulator (its drain, PDB,
Velero, rollout and HPA controllers), the real PostgreSQL (tests/servers.py), and a real HTTP
receiver for the status-page webhook.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import yaml
from aiohttp import web
from conftest import drive

from actions.maintenance import WIZARD
from actions.maintenance.app import rollout_undo_step, set_image_step
from actions.maintenance.capacity import PREVIOUS_ANNOTATION
from actions.maintenance.window import WindowError, parse_window, window_step
from console.execution.confirmation import TYPED, ConfirmationAnswer, ConfirmationRequest
from console.execution.model import Wizard
from sandbox.kube.controllers.chaos import mark_image_bad

pytestmark = pytest.mark.timeout(300)
NS = "mcp-production"
OLD_IMAGE = "pratiko/mcp-server:v1.1.0"
NEW_IMAGE = "pratiko/mcp-server:v1.2.0"
WEBHOOK_ENV = "WZ_MAINT_STATUS_PAGE"


class Receiver:
    """A status-page webhook: a real HTTP server keeping every JSON body posted."""

    def __init__(self) -> None:
        self.deliveries: list[dict] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> Receiver:
        async def hook(request: web.Request) -> web.Response:
            self.deliveries.append(await request.json())
            return web.json_response({"ok": True})

        app = web.Application()
        app.router.add_post("/status-page", hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/status-page"
        return self

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def receiver(monkeypatch):
    r = await Receiver().start()
    monkeypatch.setenv(WEBHOOK_ENV, r.url)
    yield r
    await r.stop()


def configure(world, **maintenance) -> Path:
    """The world's config with the maintenance settings and the status-page variable."""
    data = yaml.safe_load(world.config_path.read_text())
    env = data["environments"]["sandbox"]
    env["maintenance"] = {"log_path": str(world.tmp / "docs" / "maintenance-log.md"),
                          **maintenance}
    env["notifications"] = {"status_page_webhook_env": WEBHOOK_ENV}
    world.config_path.write_text(yaml.safe_dump(data))
    return world.tmp / "docs" / "maintenance-log.md"


def window_around(now: datetime, *, inside: bool) -> str:
    """A window in UTC containing ``now`` (or a week away from it)."""
    at = now if inside else now + timedelta(days=7)
    ordinal = (at.day - 1) // 7 + 1
    nth = "last" if ordinal == 5 else ("1st", "2nd", "3rd", "4th")[ordinal - 1]
    begin, end = at - timedelta(hours=1), at + timedelta(hours=1)
    if begin.date() != at.date() or end.date() != at.date():  # keep it on the same day
        begin, end = at.replace(hour=0, minute=0), at.replace(hour=23, minute=59)
    return f"{nth} {at:%A} {begin:%H:%M}-{end:%H:%M} UTC"


def pods_on(world, node: str) -> list[dict]:
    return [p for p in world.store.iter("pods") if p["spec"].get("nodeName") == node
            and not p["metadata"].get("deletionTimestamp")]


def non_daemonset(pods: list[dict]) -> list[str]:
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
            if not any(o.get("kind") == "DaemonSet"
                       for o in p["metadata"].get("ownerReferences") or [])]


def cordoned(world) -> set[str]:
    return {n["metadata"]["name"] for n in world.store.iter("nodes")
            if n["spec"].get("unschedulable")}


def hpa(world) -> dict:
    return world.store.peek("horizontalpodautoscalers.autoscaling", NS, "mcp-server-hpa")


def app_images(world) -> set[str]:
    return {c["image"] for p in world.app_pods() if not p["metadata"].get("deletionTimestamp")
            for c in p["spec"]["containers"]}


# ---- the window --------------------------------------------------------------------------
def test_window_is_computed_in_its_time_zone_daylight_saving_included():
    w = parse_window("2nd Sunday 02:00-06:00 America/New_York")
    # December: EST, UTC-5 -> 07:00-11:00 UTC on Sunday 13th
    begin, end, inside = w.current_or_next(datetime(2026, 12, 6, 15, 0, tzinfo=UTC))
    assert not inside
    assert (begin.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 12, 13, 7, 0, tzinfo=UTC), datetime(2026, 12, 13, 11, 0, tzinfo=UTC))
    assert w.current_or_next(datetime(2026, 12, 13, 7, 30, tzinfo=UTC))[2]
    assert not w.current_or_next(datetime(2026, 12, 13, 11, 0, tzinfo=UTC))[2]
    # July: EDT, UTC-4 -> 06:00 UTC; "EST" would have said 07:00
    begin, _, inside = w.current_or_next(datetime(2026, 7, 12, 6, 30, tzinfo=UTC))
    assert inside and begin.astimezone(UTC).hour == 6
    # after December's window: January's 2nd Sunday is the 10th
    begin, _, _ = w.current_or_next(datetime(2026, 12, 20, tzinfo=UTC))
    assert begin.date().isoformat() == "2027-01-10"
    assert "outside the maintenance window; the next one is Sun 2026-12-13 02:00-06:00 EST" in \
        w.describe(datetime(2026, 12, 6, 15, 0, tzinfo=UTC))


@pytest.mark.parametrize("text", ["2nd Sunday 02:00-06:00 EST", "9th Sunday 02:00-06:00 UTC",
                                  "2nd Someday 02:00-06:00 UTC", "2nd Sunday 02:00 UTC",
                                  "2nd Sunday 25:00-06:00 UTC", "2nd Sunday 02:00-02:00 UTC"])
def test_unreadable_windows_are_refused_with_the_expected_form(text):
    with pytest.raises(WindowError):
        parse_window(text)


async def test_starting_outside_the_window_needs_the_name_typed(world):
    configure(world, window=window_around(datetime.now(UTC), inside=False))
    wizard = Wizard("maintenance-window-test", "window", "Maintenance Windows", "tests",
                    steps=(window_step(),))
    asked: list[ConfirmationRequest] = []

    async def says_yes(request: ConfirmationRequest) -> ConfirmationAnswer:
        asked.append(request)
        return ConfirmationAnswer(True, "y")  # a muscle-memory yes, not the name

    declined = await drive(world, wizard, confirmer=says_yes)
    assert declined.statuses == {"window": "declined"}
    assert asked[0].kind == TYPED and "outside the maintenance window" in asked[0].prompt()
    assert "Type 'sandbox'" in asked[0].prompt()

    looking = await drive(world, wizard, read_only=True, confirm=None)
    assert looking.statuses == {"window": "ok"}  # read-only: nothing can start, no gate
    assert "outside the maintenance window" in looking.text()
    assert "confirmed by" not in looking.text()

    typed = await drive(world, wizard)  # --confirm sandbox: the name typed
    assert typed.statuses == {"window": "ok"}, typed.text()
    assert "started outside the window" in typed.text()
    assert any(r["data"].get("outside_window") for r in typed.records("note"))

    configure(world, window=window_around(datetime.now(UTC), inside=True))
    asked.clear()
    inside = await drive(world, wizard, confirmer=says_yes)
    assert inside.statuses == {"window": "ok"} and not asked  # nothing to confirm
    assert "inside the maintenance window" in inside.text()


# ---- bad inputs --------------------------------------------------------------------------
async def test_bad_image_and_unknown_node_are_refused_before_anything_runs(world, receiver):
    configure(world)
    before = json.dumps(world.deployment()["spec"])
    driven = await drive(world, "maintenance-window",
                         {"image": "pratiko/MCP-server:v1.2.0; rm -rf /",
                          "nodes": "node-1,node-9", "tables": "accounts;drop"})
    problems = {p.name: p.message for p in driven.problems}
    assert set(problems) == {"image", "nodes", "tables"}, problems
    assert "not an image reference" in problems["image"]
    assert "no such node: node-9" in problems["nodes"]
    assert "';'" in problems["tables"]
    assert driven.outcomes == {}
    assert not cordoned(world)
    assert json.dumps(world.deployment()["spec"]) == before
    assert not [b for b in world.store.iter("backups.velero.io", "velero")
                if b["metadata"]["name"].startswith("pre-maintenance-backup-")]
    assert receiver.deliveries == []


# ---- a failed update is undone -----------------------------------------------------------
async def test_bad_image_fails_the_rollout_and_is_undone_to_the_previous_image(world):
    bad = "pratiko/mcp-server:v1.2.0-broken"
    mark_image_bad(world.cluster, bad)
    world.store.mutate("deployments.apps", NS, "mcp-server-production",
                       lambda d: d["spec"].update(progressDeadlineSeconds=60))
    wizard = Wizard("maintenance-app-test", "app update", "Maintenance Windows", "tests",
                    steps=(set_image_step(), rollout_undo_step()))

    driven = await drive(world, wizard, {"image": bad})

    assert driven.statuses == {"set-image": "ok", "rollout-undo": "ok"}, driven.text()
    text = driven.text()
    assert "FAILED — rollout failed" in text and "progress deadline" in text
    [plan] = [r["data"] for r in driven.records("step_plan") if r["data"]["id"] == "rollout-undo"]
    assert "failed" in plan["summary"] and OLD_IMAGE in plan["summary"]
    assert plan["commands"] == [f"kubectl rollout undo deployment/mcp-server-production -n {NS}",
                                f"kubectl rollout status deployment/mcp-server-production -n {NS}"]
    confirmed = [r["data"] for r in driven.records("confirmation")]
    assert [c["confirmed"] for c in confirmed] == [True, True]  # set image, then the undo
    container = world.deployment()["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == OLD_IMAGE
    assert app_images(world) == {OLD_IMAGE}
    assert f"all 6 pods run {OLD_IMAGE}" in text


async def test_healthy_update_is_not_undone(world):
    wizard = Wizard("maintenance-app-test", "app update", "Maintenance Windows", "tests",
                    steps=(set_image_step(), rollout_undo_step()))
    driven = await drive(world, wizard, {"image": NEW_IMAGE})
    assert driven.statuses == {"set-image": "ok", "rollout-undo": "skipped"}, driven.text()
    assert "nothing to undo" in driven.outcomes["rollout-undo"].error
    assert app_images(world) == {NEW_IMAGE}


# ---- end to end --------------------------------------------------------------------------
async def test_maintenance_window_end_to_end(world, receiver):
    log_file = configure(world)
    nodes = sorted(n["metadata"]["name"] for n in world.store.iter("nodes"))
    seen_cordoned: dict[str, tuple[set[str], list[str]]] = {}

    from console.execution.confirmation import CommandLineConfirmer

    confirm = CommandLineConfirmer("sandbox")

    async def confirmer(request: ConfirmationRequest) -> ConfirmationAnswer:
        step = WIZARD.steps[request.step_index]
        if step.id.startswith("return-node-"):  # the node is drained, its OS work done
            node = nodes[int(step.id.rsplit("-", 1)[1]) - 1]
            seen_cordoned[node] = (cordoned(world), non_daemonset(pods_on(world, node)))
        return await confirm(request)

    answers = {"image": NEW_IMAGE} | {f"os-update-{i}-done": "yes"
                                      for i in range(1, len(nodes) + 1)}
    driven = await drive(world, "maintenance-window", answers, confirmer=confirmer)

    ran = {k: v for k, v in driven.statuses.items() if v != "skipped"}
    assert set(driven.statuses.values()) <= {"ok", "skipped"}, driven.text()
    assert [k for k in ran if "node" in k or k.startswith("os-update")] == [
        f"{kind}-{i}" for i in range(1, len(nodes) + 1)
        for kind in ("drain-node", "os-update", "return-node")]
    assert driven.statuses["pg-stat-reset"] == "skipped"  # off by default
    assert driven.statuses["rollout-undo"] == "skipped"  # the update was healthy
    assert driven.statuses["prometheus-up"] == "skipped"  # UNKNOWN, not a pass

    # the backup
    name = f"pre-maintenance-backup-{datetime.now(UTC):%Y%m%d}"
    backup = world.store.peek("backups.velero.io", "velero", name)
    assert backup["status"]["phase"] == "Completed"
    # each node in turn: cordoned alone, nothing but DaemonSet pods on it; all back after
    assert list(seen_cordoned) == nodes
    for node, (cordoned_then, left) in seen_cordoned.items():
        assert cordoned_then == {node} and left == [], (node, cordoned_then, left)
    assert not cordoned(world)
    pod_progress = [p for p in driven.progress if p.label.startswith("pods evicted from")]
    assert pod_progress and {p.label for p in pod_progress} == {
        f"pods evicted from {n}" for n in nodes}
    node_progress = [p for p in driven.progress if p.label == "nodes updated"]
    assert node_progress[-1].done == node_progress[-1].total == len(nodes)
    # the new image
    assert world.deployment()["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE
    assert app_images(world) == {NEW_IMAGE}
    # VACUUM ANALYZE in the real database
    conn = await asyncpg.connect(world.pg.dsn(world.pg.production), timeout=5)
    try:
        rows = await conn.fetch("SELECT relname, last_vacuum, last_analyze FROM "
                                "pg_stat_user_tables ORDER BY relname")
    finally:
        await conn.close()
    assert [r["relname"] for r in rows] == ["accounts", "critical_table"]
    assert all(r["last_vacuum"] and r["last_analyze"] for r in rows), rows
    # replicas and HPA back to normal
    spec = hpa(world)
    assert (spec["spec"]["minReplicas"], spec["spec"]["maxReplicas"]) == (6, 20)
    assert PREVIOUS_ANNOTATION not in (spec["metadata"].get("annotations") or {})
    assert world.deployment()["spec"]["replicas"] == 6
    held = [r["data"] for r in driven.records("note") if "maintenance_previous" in r["data"]]
    assert held[0]["maintenance_previous"] == {"minReplicas": 6, "maxReplicas": 20,
                                               "replicas": 6}
    # the log, and the status page told twice
    assert log_file.read_text().count("Maintenance completed ") == 1
    assert [d["status"] for d in receiver.deliveries] == ["in_progress", "completed"]
    assert "Scheduled maintenance in progress" in receiver.deliveries[0]["text"]
    # plans carry the commands of the runbook (argument lists rendered for display)
    commands = [c for r in driven.records("step_plan") for c in r["data"]["commands"]]
    assert f"velero backup create {name} --include-namespaces={NS} --wait" in commands
    assert "kubectl drain node-1 --ignore-daemonsets --delete-emptydir-data --timeout=900s" \
        in commands
    assert (f"kubectl set image deployment/mcp-server-production mcp-server={NEW_IMAGE} "
            f"-n {NS}") in commands
    assert any(c.startswith("psql ") and 'VACUUM (ANALYZE) "public"."critical_table"' in c
               for c in commands)
    assert "WARNING: the PostgreSQL primary (postgres-production-primary-" in driven.text()
    assert "UNKNOWN — not checked: no service.prometheus_url" in \
        driven.outcomes["prometheus-up"].error


# ---- pg_stat_reset only when asked for ---------------------------------------------------
async def test_statistics_reset_is_off_by_default_and_explained_when_asked_for(world):
    from actions.maintenance.database import reset_step, vacuum_step

    wizard = Wizard("maintenance-db-test", "db", "Maintenance Windows", "tests",
                    steps=(vacuum_step(), reset_step()))

    async def stats_reset() -> datetime | None:
        conn = await asyncpg.connect(world.pg.dsn(world.pg.production), timeout=5)
        try:
            return await conn.fetchval("SELECT stats_reset FROM pg_stat_database "
                                       "WHERE datname = current_database()")
        finally:
            await conn.close()

    before = await stats_reset()
    default = await drive(world, wizard, {"tables": "critical_table"})
    assert default.statuses == {"vacuum-analyze": "ok", "pg-stat-reset": "skipped"}, \
        default.text()
    assert await stats_reset() == before
    [plan] = [r["data"] for r in default.records("step_plan")]
    assert plan["commands"][0].endswith('-c \'VACUUM (ANALYZE) "public"."critical_table"\'')

    asked = await drive(world, wizard, {"tables": "critical_table", "reset_statistics": "yes"})
    assert asked.statuses == {"vacuum-analyze": "ok", "pg-stat-reset": "ok"}, asked.text()
    after = await stats_reset()
    assert after is not None and (before is None or after > before)
    [plan] = [r["data"] for r in asked.records("step_plan") if r["data"]["id"] == "pg-stat-reset"]
    assert "Autovacuum loses the counts" in plan["summary"]
    assert "not 'update statistics'" in plan["summary"]
    assert plan["risk"] == "destructive"


# ---- a health drop stops the node updates between nodes ---------------------------------
async def test_health_drop_stops_between_nodes_before_the_next_drain(world):
    from waiting import until

    from actions.maintenance.nodes import node_steps
    from console.execution.confirmation import CommandLineConfirmer
    from sandbox.kube.controllers.chaos import crashloop

    configure(world)
    wizard = Wizard("maintenance-nodes-test", "nodes", "Maintenance Windows", "tests",
                    steps=tuple(node_steps()[:6]))  # two node slots
    confirm = CommandLineConfirmer("sandbox")

    def crashing() -> bool:
        return any(s.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
                   for p in world.app_pods() for s in p.get("status", {}).get(
                       "containerStatuses") or [])

    async def confirmer(request: ConfirmationRequest) -> ConfirmationAnswer:
        if wizard.steps[request.step_index].id == "drain-node-2":  # node-1 is back
            crashloop(world.cluster, NS, selector={"app": "mcp-server"})
            await until(crashing, what="mcp-server pods in CrashLoopBackOff")
        return await confirm(request)

    driven = await drive(world, wizard, {"nodes": "node-1,node-2", "os-update-1-done": "yes",
                                         "os-update-2-done": "yes"}, confirmer=confirmer)

    assert driven.statuses == {"drain-node-1": "ok", "os-update-1": "ok",
                               "return-node-1": "ok", "drain-node-2": "failed"}, driven.text()
    error = driven.outcomes["drain-node-2"].error
    assert "service health dropped (pods CRITICAL)" in error
    assert "stopping before draining node/node-2" in error
    assert not cordoned(world)  # node-1 back, node-2 never touched
    assert any(p["spec"].get("nodeName") == "node-2" for p in world.app_pods())


# ---- the OS work is confirmed by hand; a resumed run restores what the HPA recorded -----
async def test_unconfirmed_os_work_stops_and_resume_finishes_from_the_hpa_record(world,
                                                                                 receiver):
    configure(world)
    answers = {"nodes": "node-2", "tables": "accounts"}
    stopped = await drive(world, "maintenance-window", answers)

    assert stopped.statuses["drain-node-1"] == "ok"
    assert stopped.statuses["os-update-1"] == "failed", stopped.text()
    assert "--set os-update-1-done=yes" in stopped.outcomes["os-update-1"].error
    assert cordoned(world) == {"node-2"}  # left cordoned for the OS work
    assert hpa(world)["spec"]["minReplicas"] == 8
    assert json.loads(hpa(world)["metadata"]["annotations"][PREVIOUS_ANNOTATION]) == {
        "minReplicas": 6, "maxReplicas": 20, "replicas": 6}

    resumed = await drive(world, "maintenance-window", {"os-update-1-done": "yes"},
                          resume=stopped.path)

    assert set(resumed.statuses.values()) <= {"ok", "skipped"}, resumed.text()
    assert "window" not in resumed.statuses and "drain-node-1" not in resumed.statuses
    assert resumed.statuses["return-node-1"] == "ok"
    assert not cordoned(world)
    spec = hpa(world)
    assert (spec["spec"]["minReplicas"], spec["spec"]["maxReplicas"]) == (6, 20)
    assert PREVIOUS_ANNOTATION not in (spec["metadata"].get("annotations") or {})
    assert world.deployment()["spec"]["replicas"] == 6
    assert [d["status"] for d in receiver.deliveries] == ["in_progress", "completed"]


# ---- Prometheus up, through PromQL ------------------------------------------------------
@pytest.fixture
async def prometheus(world, tmp_path):
    import asyncio
    import shutil

    import httpx
    from health_support import listening_ports, refused_port
    from waiting import until

    if shutil.which("prometheus") is None:
        pytest.skip("prometheus binary not installed (apt-get install prometheus)")
    service = yaml.safe_load(world.config_path.read_text())["environments"]["sandbox"][
        "service"]["base_url"]
    with refused_port() as dead:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\nscrape_configs:\n"
            f"  - job_name: mcp-server-production\n    static_configs:\n"
            f"      - targets: ['{service.split('://')[1]}']\n"
            f"  - job_name: mcp-server-staging\n    static_configs:\n"
            f"      - targets: ['{service.split('://')[1]}', '127.0.0.1:{dead}']\n")
        proc = await asyncio.create_subprocess_exec(
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            "--web.listen-address=127.0.0.1:0", "--log.level=warn",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            (port,) = await until(lambda: proc.returncode is None and listening_ports(proc.pid),
                                  what="prometheus listening")
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient() as client:
                async def scraped() -> bool:
                    try:
                        body = (await client.get(f"{url}/api/v1/query",
                                                 params={"query": "count(up)"})).json()
                    except (httpx.HTTPError, ValueError):
                        return False
                    result = body.get("data", {}).get("result") or []
                    return bool(result) and result[0]["value"][1] == "3"

                await until(scraped, what="prometheus scraped its 3 targets")
            yield url
        finally:
            proc.terminate()
            await proc.wait()


async def test_prometheus_up_is_asked_through_promql_and_a_down_target_fails(world,
                                                                           prometheus):
    from actions.maintenance.after import prometheus_step

    wizard = Wizard("maintenance-prom-test", "prom", "Maintenance Windows", "tests",
                    steps=(prometheus_step(),))
    data = yaml.safe_load(world.config_path.read_text())
    data["environments"]["sandbox"]["service"]["prometheus_url"] = prometheus
    world.config_path.write_text(yaml.safe_dump(data))

    up = await drive(world, wizard)
    assert up.statuses == {"prometheus-up": "ok"}, up.text()
    assert "all 1 targets of job mcp-server-production up" in up.text()
    assert f"promtool query instant {prometheus} " in up.records("step_plan")[0]["data"][
        "commands"][0]

    data["environments"]["sandbox"]["service"]["prometheus_job"] = "mcp-server-staging"
    world.config_path.write_text(yaml.safe_dump(data))
    down = await drive(world, wizard)
    assert down.statuses == {"prometheus-up": "failed"}
    assert "targets down: 127.0.0.1:" in down.outcomes["prometheus-up"].error

    data["environments"]["sandbox"]["service"]["prometheus_job"] = "no-such-job"
    world.config_path.write_text(yaml.safe_dump(data))
    missing = await drive(world, wizard)
    assert "no series" in missing.outcomes["prometheus-up"].error


# ---- through the command line ------------------------------------------------------------
async def test_mcp_ops_run_maintenance_window_with_answers_on_the_command_line(world,
                                                                              receiver):
    from conftest import cli

    log_file = configure(world)
    out = await cli(world.config_path, "run", "maintenance-window", "--env", "sandbox",
                    "--confirm", "sandbox", "--set", f"image={NEW_IMAGE}",
                    "--set", "nodes=node-1,node-2", "--set", "os-update-1-done=yes",
                    "--set", "os-update-2-done=yes", env={WEBHOOK_ENV: receiver.url})
    assert out.returncode == 0, out.stdout + out.stderr
    total = len(WIZARD.steps)
    assert f"[1/{total}] Maintenance window (read)" in out.stdout
    assert f"[6/{total}] Node update 1: drain (destructive)" in out.stdout
    assert "Type 'sandbox' to go on" in out.stdout or "inside the maintenance window" in out.stdout
    assert "Cannot evict pod as it would violate the pod's disruption budget" in out.stdout
    assert "skipped: UNKNOWN — not checked" in out.stdout
    assert app_images(world) == {NEW_IMAGE} and not cordoned(world)
    assert world.deployment()["spec"]["replicas"] == 6
    assert "Maintenance completed " in log_file.read_text()
    assert [d["status"] for d in receiver.deliveries] == ["in_progress", "completed"]

    dry = await cli(world.config_path, "run", "maintenance-window", "--env", "sandbox",
                    "--dry-run", "--set", f"image={NEW_IMAGE}", "--set", "nodes=node-3",
                    env={WEBHOOK_ENV: receiver.url})
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "kubectl drain node-3 --ignore-daemonsets --delete-emptydir-data" in dry.stdout
    assert "kubectl rollout undo deployment/mcp-server-production" in dry.stdout
    assert "Node update 2: drain: skipped (not applicable)" in dry.stdout
    assert len(receiver.deliveries) == 2 and app_images(world) == {NEW_IMAGE}  # ran nothing

    refused = await cli(world.config_path, "run", "maintenance-window", "--env", "sandbox",
                        "--set", "image=not a/valid:image!", env={WEBHOOK_ENV: receiver.url})
    assert refused.returncode == 2
    assert "image" in refused.stdout + refused.stderr
    assert len(receiver.deliveries) == 2  # nothing more sent


# ---- the rehearsal: mcp-ops run against mcp-ops sandbox serve ---------------------------
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_sandbox_rehearsal_through_mcp_ops_run(fresh_sandbox, tmp_path):
    """``mcp-ops run maintenance-window --env sandbox --confirm sandbox`` against a real
    ``mcp-ops sandbox serve`` (real-time clock), checked against the sandbox's own ground
    truth: ``mcp-ops sandbox status``, the real kubectl, the real database."""
    import os
    import subprocess
    import sys

    from kube_support import KUBECTL

    from console.config import load_file

    # a sandbox of its own: a drain refuses the stop-gap pod a PITR rehearsal leaves
    sandbox = fresh_sandbox
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "KUBECACHEDIR": str(tmp_path / "kubecache"), "PYTHONPATH": str(root)}
    work = tmp_path / "ops"  # the runbook's docs/maintenance-log.md, relative to here
    work.mkdir()

    def mcp_ops(*args: str, timeout: float = 780) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "console.cli", "--config",
                               str(sandbox.config), *args], capture_output=True, text=True,
                              cwd=work, env=env, timeout=timeout)

    config = load_file(sandbox.config)
    _, settings = config.environment("sandbox")
    k = settings.kubernetes

    def kubectl(*args: str) -> dict:
        out = subprocess.run([KUBECTL, "--kubeconfig", str(k.kubeconfig), "--context",
                              str(k.context), "--request-timeout=20s", *args, "-o", "json"],
                             capture_output=True, text=True, timeout=60, env=env, check=True)
        return json.loads(out.stdout)

    nodes = sorted(n["metadata"]["name"] for n in kubectl("get", "nodes")["items"])
    before = json.loads(mcp_ops("sandbox", "status", "--format", "json", timeout=60).stdout)
    image = before["regions"]["sandbox"]["deployment"]["image"]
    new_image = image.rsplit(":", 1)[0] + ":v1.2.0"
    assert new_image != image
    sets = ["--set", f"image={new_image}"]
    for i in range(1, len(nodes) + 1):
        sets += ["--set", f"os-update-{i}-done=yes"]

    out = mcp_ops("run", "maintenance-window", "--env", "sandbox", "--confirm", "sandbox", *sets)

    assert out.returncode == 0, out.stdout[-6000:] + out.stderr
    for node in nodes:  # each drained (nothing but DaemonSet pods left), then back
        assert f"verified: node/{node} cordoned, only DaemonSet pods left on it" in out.stdout
        assert f"verified: node/{node} Ready, schedulable" in out.stdout
    if settings.service.prometheus_url:  # the sandbox's own Prometheus, when installed
        assert f"targets of job {settings.service.prometheus_job} up" in out.stdout
    else:
        assert "skipped: UNKNOWN — not checked" in out.stdout
    name = f"pre-maintenance-backup-{datetime.now(UTC):%Y%m%d}"
    backup = kubectl("get", "backups.velero.io", name, "-n", "velero")
    assert backup["status"]["phase"] == "Completed" and not backup["status"].get("errors")
    assert not [n for n in kubectl("get", "nodes")["items"] if n["spec"].get("unschedulable")]
    hpa_now = kubectl("get", "hpa", k.hpa, "-n", k.namespace)
    assert (hpa_now["spec"]["minReplicas"], hpa_now["spec"]["maxReplicas"]) == (6, 20)
    assert PREVIOUS_ANNOTATION not in (hpa_now["metadata"].get("annotations") or {})

    after = json.loads(mcp_ops("sandbox", "status", "--format", "json", timeout=60).stdout)
    deployment = after["regions"]["sandbox"]["deployment"]
    assert deployment["image"] == new_image
    assert deployment["ready"] == deployment["desired"] == 6
    statuses = [n["status"] for n in after["notifications"] if n["channel"] == "status_page"]
    assert statuses[-2:] == ["in_progress", "completed"], after["notifications"]

    async def vacuumed() -> list:
        conn = await asyncpg.connect(settings.postgres.dsn, timeout=5)
        try:
            return await conn.fetch("SELECT relname, last_vacuum, last_analyze "
                                    "FROM pg_stat_user_tables")
        finally:
            await conn.close()

    import asyncio

    rows = asyncio.run(vacuumed())
    assert rows and all(r["last_vacuum"] and r["last_analyze"] for r in rows), rows
    log = (work / "docs" / "maintenance-log.md").read_text()
    assert log.count("Maintenance completed ") == 1 and f"image {new_image}" in log
