"""Act where you look: the drill-downs' keys start one-step actions through the runner
(plan, confirmation, session log), against the emulated cluster and the real PostgreSQL."""
# ruff: noqa: F811 - pytest fixtures imported from another test module are parameters here

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from health_support import PG_DSN, row_lock_chain
from test_dashboard_live import live, make_app, moto_url, panels_with_data, wait_until  # noqa: F401
from textual.widgets import DataTable, Log, TabbedContent

from console.execution.log_store import list_sessions, read_records, verify
from screens.confirm_modal import ConfirmModal
from screens.database_view import DatabaseView
from screens.panels import DatabasePanel, PodsPanel
from screens.pods_view import PodsView
from screens.wizard_runner import WizardRunner

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]
NS = "mcp-production"


def output(runner) -> list[str]:
    return list(runner.query_one("#output", Log).lines)


async def confirm_and_finish(pilot, app, runner) -> None:
    await pilot.press("r")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="confirmation")
    await pilot.press("y")
    await wait_until(pilot, lambda: runner.finished, seconds=60, what="the action's end")


async def test_delete_a_pod_from_the_pods_drilldown(live, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config, cluster, *_ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "pods" in panels_with_data(app))
        app.query_one(PodsPanel).focus()
        await pilot.press("enter")
        view = app.screen
        assert isinstance(view, PodsView)
        await wait_until(pilot, lambda: view.query_one(DataTable).row_count == 6, what="pods")
        pod = view.selected().name
        await pilot.press("d")
        runner = app.screen
        assert isinstance(runner, WizardRunner) and runner.wizard.id == "action-delete-pod"
        await wait_until(pilot, lambda: runner.driver is not None, what="the runner")
        plan = runner.query_one("#plan").render()
        assert f"kubectl delete pod {pod} -n {NS}" in str(plan)
        await confirm_and_finish(pilot, app, runner)
        assert f"pod/{pod} deleted" in output(runner)
    gone = [p for p in cluster.store.iter("pods", NS) if p["metadata"]["name"] == pod
            and not p["metadata"].get("deletionTimestamp")]
    assert not gone
    (session,) = list_sessions(tmp_path / "state" / "mcp-ops" / "sessions")
    assert session.wizard == "action-delete-pod" and verify(session.path).ok


async def test_read_only_refuses_a_panel_action_before_any_call(live, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config, cluster, *_ = live
    from console.identity import Operator
    from screens.app import McpOpsApp

    before = {p["metadata"]["name"] for p in cluster.store.iter("pods", NS)}
    app = McpOpsApp(config, "live", operator=Operator("oncall", "ops-1"), read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "pods" in panels_with_data(app))
        app.query_one(PodsPanel).focus()
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen.query_one(DataTable).row_count == 6)
        await pilot.press("R")
        runner = app.screen
        await wait_until(pilot, lambda: runner.driver is not None, what="the runner")
        await pilot.press("r")
        await wait_until(pilot, lambda: runner.driver.last is not None, what="the refusal")
        assert runner.driver.last.status == "refused"
    assert {p["metadata"]["name"] for p in cluster.store.iter("pods", NS)} == before
    (session,) = list_sessions(tmp_path / "state" / "mcp-ops" / "sessions")
    assert [r["event"] for r in read_records(session.path) if r["event"] == "refusal"]


async def test_terminating_the_preselected_blocker_ends_the_chain(live, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config, *_ = live
    async with row_lock_chain("act") as (holder, waiter, blocked):
        blocker = holder.get_server_pid()
        app = make_app(config)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "database" in panels_with_data(app))
            app.query_one(DatabasePanel).focus()
            await pilot.press("enter")
            view = app.screen
            assert isinstance(view, DatabaseView)
            view.query_one("#db-tabs", TabbedContent).active = "tab-blocking"
            edges = view.query_one("#db-blocking", DataTable)
            key = f"{waiter.get_server_pid()}-{blocker}"  # ours: the shared server may
            await wait_until(pilot, lambda: key in {k.value for k in edges.rows},  # hold others
                             what="the chain")
            edges.focus()
            edges.move_cursor(row=edges.get_row_index(key))
            assert view.target()[0] == blocker  # the blocker, not the waiter
            await pilot.press("K")
            runner = app.screen
            assert isinstance(runner, WizardRunner)
            await wait_until(pilot, lambda: runner.driver is not None, what="the runner")
            assert f"pg_terminate_backend({blocker})" in str(runner.query_one("#plan").render())
            await confirm_and_finish(pilot, app, runner)
            assert f"backend {blocker} terminated" in output(runner)
        await asyncio.wait_for(blocked, 10)  # the waiter got its lock: the chain has ended


async def test_delete_cache_keys_by_pattern_counts_first_and_leaves_the_rest(live, tmp_path,
                                                                            monkeypatch):
    import uuid

    import redis.asyncio as aioredis
    from health_support import REDIS_URL
    from textual.widgets import Input

    from screens.cache_view import CacheView
    from screens.panels import CachePanel

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config, *_ = live
    prefix = f"mcp-ops-test:act:{uuid.uuid4().hex[:8]}"
    client = aioredis.Redis.from_url(REDIS_URL)
    await client.mset({f"{prefix}:session:{i}": "x" * 100 for i in range(1200)})
    await client.set(f"{prefix}:keep", "1")
    try:
        app = make_app(config)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_until(pilot, lambda: "cache" in panels_with_data(app))
            app.query_one(CachePanel).focus()
            await pilot.press("enter")
            assert isinstance(app.screen, CacheView)
            await pilot.press("D")
            runner = app.screen
            assert isinstance(runner, WizardRunner)
            await wait_until(pilot, lambda: runner.form is not None, what="the form")
            field = runner.query_one("#input-pattern", Input)
            field.value = "*"  # the whole keyspace: refused before anything runs
            await pilot.press("r")
            await wait_until(pilot, lambda: "matches every key" in str(
                runner.query_one("#error-pattern").render()), what="the refusal")
            field.value = f"{prefix}:session:*"
            await confirm_and_finish(pilot, app, runner)
            lines = output(runner)
            assert f"1200 keys match '{prefix}:session:*'" in " ".join(lines)
            assert "1200 keys unlinked" in lines
        assert await client.exists(f"{prefix}:keep") == 1
        assert not [k async for k in client.scan_iter(f"{prefix}:session:*")]
    finally:
        await client.delete(f"{prefix}:keep")
        await client.aclose()


async def test_backup_now_and_restore_the_backup_under_the_cursor(live, tmp_path, monkeypatch):
    from textual.widgets import Input

    from screens.panels import BackupsPanel

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config, cluster, *_ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "backups" in panels_with_data(app))
        panel = app.query_one(BackupsPanel)
        panel.focus()
        await pilot.press("b")
        runner = app.screen
        assert isinstance(runner, WizardRunner) and runner.wizard.id == "action-backup-now"
        await wait_until(pilot, lambda: runner.driver is not None, what="the runner")
        await confirm_and_finish(pilot, app, runner)
        assert runner.finished == "completed", output(runner)
        made = [b for b in cluster.store.iter("backups.velero.io", "velero")
                if b["metadata"]["name"].startswith("manual-backup-")]
        assert made and made[0]["status"]["phase"] == "Completed"
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is not runner, what="back")
        panel.focus()
        table = panel.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count > 0, what="backups listed")
        chosen = panel.selected()
        await pilot.press("v")
        restore = app.screen
        assert isinstance(restore, WizardRunner) and restore.wizard.id == "velero-restore"
        await wait_until(pilot, lambda: restore.driver is not None, what="the restore's runner")
        await pilot.press("r")  # step 1 lists the backups (read); step 2 asks which one
        await wait_until(pilot, lambda: restore.form is not None
                         and restore.query("#input-backup"), what="the restore's form")
        assert restore.query_one("#input-backup", Input).value == chosen


async def test_enter_on_an_alert_opens_the_wizard_that_answers_it(live, tmp_path, monkeypatch):
    from sandbox.kube.controllers import chaos
    from screens.panels import AlertsPanel
    from screens.respond_modal import RespondModal

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    config, cluster, *_ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "pods" in panels_with_data(app))
        victim = app.query_one(PodsPanel).snapshot.pods[0].name
        chaos.crashloop(cluster, NS, pod=victim)
        panel = app.query_one(AlertsPanel)
        await wait_until(pilot, lambda: getattr(panel, "report", None) is not None and any(
            "CrashLoopBackOff" in a.reason for a in panel.report.alerts), seconds=30,
            what="the crashloop alert")
        panel.focus()
        await pilot.press("enter")
        modal = app.screen
        assert isinstance(modal, RespondModal)
        crash = next(i for i, (f, _) in enumerate(modal.routed) if "CrashLoopBackOff" in f.reason)
        assert modal.routed[crash][1].wizard_id == "alert-service-down"
        from textual.widgets import OptionList
        modal.query_one(OptionList).highlighted = crash
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, WizardRunner), what="the wizard")
        assert app.screen.wizard.id == "alert-service-down"


async def test_slash_filters_the_cache_and_database_tables(live):
    from screens.cache_view import CacheView
    from screens.panels import CachePanel

    config, *_ = live
    app = make_app(config)
    # a session of the test's own: on a fresh machine nobody else may be connected
    other = await asyncpg.connect(PG_DSN, server_settings={"application_name": "filter-test"})
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: {"cache", "database"} <= panels_with_data(app))
        app.query_one(CachePanel).focus()
        await pilot.press("enter")
        view = app.screen
        assert isinstance(view, CacheView)
        info = view.query_one("#cache-info", DataTable)
        await wait_until(pilot, lambda: info.row_count > 5, what="info rows")
        every = info.row_count
        await pilot.press("slash", *"memory")
        await wait_until(pilot, lambda: 0 < info.row_count < every, what="filtered rows")
        assert all("memory" in " ".join(map(str, info.get_row_at(i))).lower()
                   for i in range(info.row_count))
        await pilot.press("escape")  # clears the filter, stays on the screen
        await wait_until(pilot, lambda: info.row_count == every, what="every row again")
        assert isinstance(app.screen, CacheView)
        await pilot.press("escape")
        app.query_one(DatabasePanel).focus()
        await pilot.press("enter")
        view = app.screen
        activity = view.query_one("#db-activity", DataTable)
        await wait_until(pilot, lambda: activity.row_count > 0, what="sessions")
        await pilot.press("slash", *"no-such-application-anywhere")
        await wait_until(pilot, lambda: activity.row_count == 0, what="nothing matches")
    await other.close()
