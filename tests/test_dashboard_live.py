"""Pilot tests of the dashboard with live data: the emulated cluster, the real PostgreSQL
and Redis, a real HTTP service and moto S3, at 80x24 and 200x60; drill-downs and the log
viewer; tables updated by row key; polling paused for panels not on screen."""

from __future__ import annotations

import asyncio
import os

import pytest
from health_support import (
    HealthServer,
    emulator,
    live_environment,
    row_lock_chain,
    start_moto,
)
from textual.widgets import DataTable, Input, Log
from waiting import DEFAULT_TIMEOUT, until

from console.config.model import Config
from console.identity import Operator
from screens.app import McpOpsApp
from screens.cache_view import CacheView
from screens.database_view import DatabaseView
from screens.header import StatusHeader
from screens.log_viewer import LogViewer
from screens.panels import (
    AlertsPanel,
    CachePanel,
    DatabasePanel,
    Panel,
    PodsPanel,
    ServicePanel,
)
from screens.pods_view import PodDetail, PodsView
from screens.tables import row_keys

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]
COMPONENTS = ("service", "pods", "database", "cache", "backups")


@pytest.fixture(scope="module")
def moto_url():
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture
async def live(tmp_path, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    service = await HealthServer().start()
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10) as (cluster, _server):
        config = Config.model_validate({
            "ui": {"refresh_seconds": 0.5, "source_timeout_seconds": 3},
            "environments": {"live": live_environment(service.url, moto_url, kubeconfig)},
        })
        yield config, cluster, service, kubeconfig
    await service.stop()


def make_app(config) -> McpOpsApp:
    return McpOpsApp(config, "live", operator=Operator("oncall", "ops-1"))


async def wait_until(pilot, predicate, seconds: float = DEFAULT_TIMEOUT,
                     what: str = "condition"):
    """:func:`waiting.until`, pausing through the pilot so the app handles its messages."""
    return await until(predicate, seconds, interval=0.1, sleep=pilot.pause, what=what)


def panels_with_data(app) -> set[str]:
    return {p.COMPONENT for p in app.query(Panel) if p.COMPONENT and p.snapshot is not None}


def text_of(widget) -> str:
    rendered = widget.render()
    return getattr(rendered, "plain", str(rendered))


async def test_dashboard_80x24_shows_every_panel_with_live_data(live):
    config, cluster, service, _ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: panels_with_data(app) == set(COMPONENTS), what="data")
        hub = app._live_data["live"]
        await wait_until(pilot, lambda: hub.report is not None and len(hub.report.components) == 5)
        header = app.query_one(StatusHeader)
        assert header.overall == hub.report.status.label
        assert f" {header.overall} " in str(header.render())
        service_text = text_of(app.query_one("#service-endpoints"))
        assert "health" in service_text and "db" in service_text and "deps" in service_text
        pods = app.query_one(PodsPanel)
        table = pods.query_one(DataTable)
        assert sorted(row_keys(table)) == sorted(p.name for p in pods.snapshot.pods)
        assert len(pods.snapshot.pods) == 6
        assert "6/6 ready" in text_of(pods.query_one("#pods-summary"))
        db = app.query_one(DatabasePanel)
        assert f"/{db.snapshot.max_connections} " in text_of(db.query_one("#trend-connections .trend-label"))
        assert "hit " in text_of(app.query_one(CachePanel).query_one("#trend-hit .trend-label"))
        backups = app.query_one("#backups-velero", DataTable)
        assert backups.row_count >= 1
        alerts = text_of(app.query_one("#alerts-list"))
        assert alerts.startswith("no active alerts") or alerts.split("\n")[0][0].isdigit()
        for panel in app.query(Panel):
            assert panel.region.right <= 80 and panel.region.bottom <= 23
            assert not panel.has_class("-stale")


async def test_dashboard_200x60_three_columns_and_all_pods_visible(live):
    config, *_ = live
    app = make_app(config)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: panels_with_data(app) == set(COMPONENTS), what="data")
        assert len({p.region.x for p in app.query(Panel)}) == 3
        table = app.query_one(PodsPanel).query_one(DataTable)
        assert table.row_count == 6 and table.region.height >= 7


async def test_service_failure_turns_the_service_panel_and_alerts_red(live):
    config, cluster, service, _ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: "service" in panels_with_data(app))
        service.mode = "error"
        panel = app.query_one(ServicePanel)
        await wait_until(pilot, lambda: panel.has_class("-critical"), what="critical border")
        assert "HTTP 500" in text_of(panel.query_one("#service-endpoints"))
        await wait_until(pilot, lambda: "GET /health answered HTTP 500" in
                         text_of(app.query_one("#alerts-list")), what="alert")
        alerts = text_of(app.query_one("#alerts-list")).splitlines()
        assert alerts[1].startswith(" CRIT ") or alerts[1].startswith(" UNRE ")
        assert app.query_one(StatusHeader).overall in ("CRITICAL", "UNREACHABLE")


async def test_pod_table_updates_by_row_key_keeping_the_cursor(live, tmp_path):
    config, cluster, service, kubeconfig = live
    app = make_app(config)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: "pods" in panels_with_data(app))
        panel = app.query_one(PodsPanel)
        table = panel.query_one(DataTable)
        table.move_cursor(row=1)
        chosen = panel.selected_pod()
        keys_before = {k.value: k for k in table.rows}
        env = os.environ | {"KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp_path / "kc")}
        victim = next(k for k in keys_before if k != chosen)
        proc = await asyncio.create_subprocess_exec(
            "kubectl", "--request-timeout=10s", "-n", "mcp-production", "delete", "pod", victim,
            "--wait=false", env=env, stdout=asyncio.subprocess.DEVNULL)
        assert await proc.wait() == 0
        await wait_until(pilot, lambda: victim not in {k.value for k in table.rows}
                         and table.row_count == 6, what="replacement pod")
        survivors = {k.value: k for k in table.rows if k.value in keys_before}
        assert len(survivors) == 5
        assert all(survivors[v] is keys_before[v] for v in survivors)  # same rows, not re-added
        assert panel.selected_pod() == chosen


async def test_pods_drilldown_filter_sort_detail_and_logs(live):
    config, *_ = live
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "pods" in panels_with_data(app))
        app.query_one(PodsPanel).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, PodsView)
        view = app.screen
        table = view.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count == 6, what="pods in drill-down")
        name = view.snapshot.pods[3].name
        await pilot.press("slash")
        assert view.query_one(Input).has_focus
        await pilot.press(*name[-5:])
        assert row_keys(table) == [name]
        await pilot.press("escape")
        assert table.row_count == 6 and table.has_focus
        await pilot.press("s")  # name -> status
        await pilot.press("s")  # -> restarts
        assert view.sort_name == "restarts"
        restarts = [int(table.get_cell(k, "restarts")) for k in row_keys(table)]
        assert restarts == sorted(restarts, reverse=True)
        table.move_cursor(row=0)
        await pilot.press("enter")
        assert isinstance(app.screen, PodDetail)
        await pilot.press("escape")
        assert app.screen is view
        await pilot.press("l")
        assert isinstance(app.screen, LogViewer)
        viewer = app.screen
        log = viewer.query_one(Log)
        await wait_until(pilot, lambda: viewer.buffer.received >= 20, what="log lines")
        assert log.line_count >= 20
        await pilot.press("2")  # errors preset: grep -i error
        assert viewer.preset.name == "errors"
        assert all("error" in line.lower() for line in viewer.visible_lines())
        await pilot.press("5")  # ERROR|WARN|Exception
        assert all(any(w in line for w in ("ERROR", "WARN", "Exception"))
                   for line in viewer.visible_lines())
        await pilot.press("1", "space")
        assert viewer.paused
        shown = len(viewer.visible_lines())
        received = viewer.buffer.received
        await wait_until(pilot, lambda: viewer.buffer.received > received, seconds=20,
                         what="more lines while paused")
        assert len(viewer.visible_lines()) == shown  # paused: the screen holds still
        await pilot.press("space")
        assert not viewer.paused and len(viewer.visible_lines()) == len(viewer.buffer.lines)
        await pilot.press("escape", "escape")
        assert not isinstance(app.screen, (LogViewer, PodsView))


async def test_database_drilldown_shows_the_blocking_chain(live):
    config, *_ = live
    async with row_lock_chain("dash") as (holder, waiter, _blocked):
        app = make_app(config)
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(pilot, lambda: "database" in panels_with_data(app))
            app.query_one(DatabasePanel).focus()
            await pilot.press("enter")
            assert isinstance(app.screen, DatabaseView)
            view = app.screen
            edges = view.query_one("#db-blocking", DataTable)
            key = f"{waiter.get_server_pid()}-{holder.get_server_pid()}"
            await wait_until(pilot, lambda: key in {k.value for k in edges.rows}, what="chain")
            assert "UPDATE" in str(edges.get_cell(key, "bq"))
            assert edges.get_cell(key, "blocker") == str(holder.get_server_pid())
            assert "not installed" in text_of(view.query_one("#db-statements-note")) \
                or view.query_one("#db-statements", DataTable).row_count
            activity = view.query_one("#db-activity", DataTable)
            assert str(waiter.get_server_pid()) in {k.value for k in activity.rows}


async def test_cache_drilldown_info_and_slowlog(live):
    config, *_ = live
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: "cache" in panels_with_data(app))
        app.query_one(CachePanel).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, CacheView)
        info = app.screen.query_one("#cache-info", DataTable)
        await wait_until(pilot, lambda: info.row_count > 5, what="info rows")
        assert info.get_cell("role", "value") in ("master", "slave")
        assert "entries in the slow log" in text_of(app.screen.query_one("#cache-slowlog-note"))
        assert not app.screen.query(".grafana-line")  # none configured


async def test_drilldowns_show_their_grafana_dashboard(live):
    config, *_ = live
    grafana = {"overview": "http://grafana.test/d/mcp-overview",
               "infrastructure": "http://grafana.test/d/infrastructure"}
    env = config.environments["live"].model_copy(
        update={"grafana": config.environments["live"].grafana.model_copy(update=grafana)})
    config = config.model_copy(update={"environments": {"live": env}})
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: {"cache", "pods"} <= panels_with_data(app))
        for panel, view, url in ((CachePanel, CacheView, grafana["overview"]),
                                 (PodsPanel, PodsView, grafana["infrastructure"])):
            app.query_one(panel).focus()
            await pilot.press("enter")
            assert isinstance(app.screen, view)
            line = app.screen.query_one(".grafana-line")
            assert text_of(line) == f"Grafana {url}"
            await pilot.press("escape")


async def test_panels_off_screen_stop_polling(live):
    config, *_ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: panels_with_data(app) == set(COMPONENTS), what="data")
        hub = app._live_data["live"]
        cache, pods = hub.pollers["cache"], hub.pollers["pods"]
        app.query_one(PodsPanel).focus()
        await pilot.press("enter")
        # a cache poll already under way when the panel was hidden may still finish; the
        # gate is consulted before each poll, so none starts after it
        await wait_until(pilot, lambda: cache.in_flight == 0, what="the cache poll in flight done")
        cache_polls, pods_polls = cache.polls, pods.polls
        # the drill-down keeps the pods polling at the same interval: three of its polls are
        # three chances the cache poller had, and its gate said no each time
        await wait_until(pilot, lambda: pods.polls >= pods_polls + 3, what="three pods polls")
        assert cache.polls == cache_polls  # the Cache panel is hidden
        await pilot.press("escape")
        await wait_until(pilot, lambda: cache.polls > cache_polls, what="cache polled again")


async def test_alerts_list_worst_first(live):
    config, cluster, service, _ = live
    service.mode = "slow"
    service.delay = 0.55
    app = make_app(config)
    async with app.run_test(size=(200, 60)) as pilot:
        from sandbox.kube.controllers import chaos

        await wait_until(pilot, lambda: "pods" in panels_with_data(app))
        victim = app.query_one(PodsPanel).snapshot.pods[0].name
        chaos.crashloop(cluster, "mcp-production", pod=victim)
        panel = app.query_one(AlertsPanel)
        await wait_until(pilot, lambda: "CrashLoopBackOff" in text_of(panel.query_one("#alerts-list"))
                         and "took" in text_of(panel.query_one("#alerts-list")), seconds=30,
                         what="crashloop and slow alerts")
        lines = text_of(panel.query_one("#alerts-list")).splitlines()[1:]
        ranks = [{"UNRE": 3, "CRIT": 2, "WARN": 1}[line.split()[0]] for line in lines]
        assert ranks == sorted(ranks, reverse=True)
        assert any(f"pod {victim} CrashLoopBackOff" in line for line in lines)
