"""Pilot tests of the panels' extra sections on a big terminal, with live data (the
emulated cluster, the real PostgreSQL and Redis, a real HTTP service, moto S3).

At 200x60 each panel is ~66x28: the Service panel adds a row per health endpoint and the
request figures in words, the Database panel connections by state and application, the
blocking chains and every session busiest first, the Cache panel INFO figures and the slow
log. At 80x24 (panels ~40x7) none of it shows, and none of it is even filled.
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from health_support import REDIS_URL, row_lock_chain
from test_dashboard_live import live, make_app, moto_url, panels_with_data, text_of, wait_until
from textual.widget import Widget
from textual.widgets import DataTable

from screens.panels import CachePanel, DatabasePanel, Panel, ServicePanel
from screens.tables import row_keys

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow]
__all__ = ["live", "moto_url"]  # fixtures, used by name

COMPONENTS = ("service", "pods", "database", "cache", "backups")
MORE = ("#service-more", "#database-more", "#cache-more")
# a Lua loop long enough (tens of ms) for Redis's slow log (default: slower than 10 ms)
SLOW_SCRIPT = "local i = 0 while i < 4000000 do i = i + 1 end return 'mcp-ops-wide'"


def shown(widget: Widget) -> bool:
    """Displayed, and given rows on the screen."""
    node: Widget | None = widget
    while isinstance(node, Widget):
        if not node.display:
            return False
        node = node.parent if isinstance(node.parent, Widget) else None
    return widget.region.height > 0


def keys(table: DataTable) -> set[str]:
    return {k.value for k in table.rows}


@pytest.fixture
async def lock_chain():
    """A session holding a row lock in an open transaction and one waiting for it."""
    async with row_lock_chain("wide") as (holder, waiter, _blocked):
        yield holder.get_server_pid(), waiter.get_server_pid()


async def slow_redis_command() -> int:
    """Run one command slow enough for SLOWLOG; its slow-log id."""
    client = aioredis.from_url(REDIS_URL)
    try:
        assert await client.eval(SLOW_SCRIPT, 0) == b"mcp-ops-wide"
        for entry in await client.slowlog_get(10):
            command = entry["command"]
            command = command.decode() if isinstance(command, bytes) else str(command)
            if "mcp-ops-wide" in command:
                return int(entry["id"])
        pytest.skip("this Redis logs no slow commands (slowlog-log-slower-than)")
    finally:
        await client.aclose()


async def test_200x60_panels_show_endpoints_sessions_chains_and_slowlog(live, lock_chain):
    config, *_ = live
    holder, waiter = lock_chain
    slow_id = await slow_redis_command()
    app = make_app(config)
    async with app.run_test(size=(200, 60)) as pilot:
        await wait_until(pilot, lambda: panels_with_data(app) == set(COMPONENTS), what="data")
        service, db, cache = (app.query_one(t) for t in (ServicePanel, DatabasePanel, CachePanel))
        for panel in (service, db, cache):
            assert panel.roomy and panel.size.height >= panel.ROOMY_HEIGHT
        for selector in MORE:
            assert shown(app.query_one(selector)), selector

        # Service: a row per endpoint with path, HTTP status and latency; figures in words
        endpoints = service.query_one("#service-endpoint-table", DataTable)
        await wait_until(pilot, lambda: endpoints.row_count == 3, what="endpoint rows")
        assert keys(endpoints) == {"health", "database", "dependencies"}
        assert endpoints.get_cell("database", "path") == "/health/database"
        assert str(endpoints.get_cell("health", "status")) == "200"
        assert str(endpoints.get_cell("health", "ms")).isdigit()
        assert shown(endpoints) and endpoints.region.height >= 4  # header + 3 rows
        assert "/s · errors " in text_of(service.query_one("#service-figures"))

        # Database: the chain (both sides), every session busiest first, the groups
        chain = db.query_one("#database-blocking", DataTable)
        activity = db.query_one("#database-activity", DataTable)
        await wait_until(pilot, lambda: f"{waiter}-{holder}" in keys(chain)
                         and str(waiter) in keys(activity), what="chain and sessions")
        assert chain.get_cell(f"{waiter}-{holder}", "blocker") == str(holder)
        assert "UPDATE" in chain.get_cell(f"{waiter}-{holder}", "hq")
        assert str(activity.get_cell(str(waiter), "lock")) == f"blocked by {holder}"
        assert str(activity.get_cell(str(holder), "lock")).startswith("BLOCKING")
        order = row_keys(activity)
        states = [str(activity.get_cell(k, "lock")) for k in order]
        assert "idle" not in states[:order.index(str(waiter)) + 1]  # busy ones on top
        assert shown(chain) and shown(activity) and activity.region.height >= 4
        assert "waiting on locks" in text_of(db.query_one("#database-blocking-note"))
        assert text_of(db.query_one("#database-groups")).startswith("by state and application: ")
        assert not shown(db.query_one("#database-sessions"))  # the short list gives way

        # Cache: INFO figures and the slow log with our command
        slowlog = cache.query_one("#cache-slowlog-table", DataTable)
        await wait_until(pilot, lambda: str(slow_id) in keys(slowlog), what="slow log entry")
        assert "EVAL" in slowlog.get_cell(str(slow_id), "command").upper()
        assert row_keys(slowlog) == sorted(keys(slowlog), key=int, reverse=True)  # newest first
        details = text_of(cache.query_one("#cache-details"))
        assert "clients  connected " in details and "keyspace hits " in details
        assert shown(slowlog)

        for panel in app.query(Panel):  # nothing spills out of its panel
            for child in panel.query(Widget):
                if shown(child):
                    assert panel.region.contains_region(child.region), child

        # the same app shrunk to 80x24: the extra sections go, the short list comes back
        await pilot.resize_terminal(80, 24)
        await wait_until(pilot, lambda: not db.roomy, what="panels shrunk")
        await pilot.pause(0.2)
        for selector in MORE:
            assert not shown(app.query_one(selector)), selector
        assert not service.roomy and not cache.roomy
        assert shown(db.query_one("#database-sessions"))
        assert str(waiter) in keys(db.query_one("#database-sessions", DataTable))


async def test_80x24_shows_and_fills_none_of_it_until_the_terminal_grows(live):
    config, *_ = live
    app = make_app(config)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(pilot, lambda: panels_with_data(app) == set(COMPONENTS), what="data")
        await pilot.pause(1.0)  # a couple more polls
        for panel in app.query(Panel):
            assert not panel.roomy and panel.size.height < panel.ROOMY_HEIGHT
            assert panel.region.right <= 80 and panel.region.bottom <= 23
        for selector in MORE:
            assert not shown(app.query_one(selector)), selector
        # hidden sections are not even filled: a small terminal costs what it did before
        for table_id in ("#service-endpoint-table", "#database-activity"):
            assert app.query_one(table_id, DataTable).row_count == 0
        assert text_of(app.query_one("#cache-details")) == ""

        await pilot.resize_terminal(200, 60)
        service = app.query_one(ServicePanel)
        await wait_until(pilot, lambda: service.roomy, what="panels grown")
        # filled at once from the last snapshot, without waiting for a poll
        assert app.query_one("#service-endpoint-table", DataTable).row_count == 3
        assert app.query_one("#database-activity", DataTable).row_count == len(
            app.query_one(DatabasePanel).snapshot.sessions)
        assert "keyspace hits " in text_of(app.query_one("#cache-details"))
        await pilot.pause(0.2)
        for selector in MORE:
            assert shown(app.query_one(selector)), selector
