"""A hung source greys only its own panel after the timeout, while keys keep being handled.

The database is reached through a proxy that, on command, stops forwarding anything (a
frozen host: connections accepted, no answer ever). A Pilot keeps pressing keys the whole
time and checks each one is handled; the per-key latency is printed, not asserted
(timings belong in benchmarks).
"""

from __future__ import annotations

import time

import pytest
import servers
from health_support import HangingProxy, HealthServer, emulator, live_environment, start_moto
from waiting import until

from console.collectors.registry import collect_bounded, collectors_for
from console.config.model import Config
from console.identity import Operator
from screens.app import McpOpsApp
from screens.panels import DatabasePanel, Panel

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]
HUNG_TIMEOUT = 0.8  # the database's own bound; every other source gets SOURCE_TIMEOUT
SOURCE_TIMEOUT = 10.0


class ShortBound:
    """The database collector under a bound of its own, far shorter than the others'.

    ``ui.source_timeout_seconds`` applies to every source, and here the emulator shares the
    test's event loop on a loaded machine: a timeout short enough to see the hung database
    go stale quickly could also time out a healthy source now and then. So the others get
    a generous timeout and only the database this short one."""

    def __init__(self, inner) -> None:
        self.inner = inner

    async def collect(self):
        return await collect_bounded("database", self.inner, HUNG_TIMEOUT)

    async def close(self) -> None:
        await self.inner.close()


def collectors_with_a_short_database_bound(env, **kw):
    made = collectors_for(env, **kw)
    made["database"] = ShortBound(made["database"])
    return made


@pytest.fixture
async def world(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    moto, moto_url = start_moto()
    service = await HealthServer().start()
    proxy = await HangingProxy(servers.PG_PORT).start()
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10):
        config = Config.model_validate({
            "ui": {"refresh_seconds": 0.3, "source_timeout_seconds": SOURCE_TIMEOUT,
                   "max_backoff_seconds": 2},
            "environments": {"live": live_environment(
                service.url, moto_url, kubeconfig,
                postgres={"dsn": f"postgresql://postgres@127.0.0.1:{proxy.port}/test"})},
        })
        yield config, proxy
    await proxy.stop()
    await service.stop()
    moto.stop()


async def test_hung_database_greys_only_its_panel_and_keys_stay_handled(world):
    config, proxy = world
    app = McpOpsApp(config, "live", operator=Operator("oncall", "ops-1"))
    app.collector_factory = collectors_with_a_short_database_bound
    latencies: list[float] = []
    async with app.run_test(size=(80, 24)) as pilot:
        db = app.query_one(DatabasePanel)
        await until(lambda: all(p.snapshot is not None for p in app.query(Panel) if p.COMPONENT),
                    interval=0.1, sleep=pilot.pause, what="live data in every panel")
        hub = app._live_data["live"]
        good = db.snapshot
        proxy.hang = True
        panels = list(app.query(Panel))
        presses = 0
        deadline = time.monotonic() + 40
        # keep pressing keys while the database times out and backs off, until it has
        # failed twice and at least ten keys were pressed meanwhile
        while not (db.has_class("-stale") and hub.pollers["database"].failures >= 2
                   and presses >= 10):
            assert time.monotonic() < deadline, "the hung database was not marked stale"
            before = app.focused
            started = time.perf_counter()
            await pilot.press("tab")
            latencies.append(time.perf_counter() - started)
            presses += 1
            assert app.focused is not before, f"key {presses} not handled"
            assert isinstance(app.focused, Panel) or app.focused.parent in panels \
                or any(app.focused in p.walk_children() for p in panels)
            await pilot.pause(0.05)
        assert db.border_subtitle.startswith("stale ")
        assert db.border_subtitle.endswith(f": timed out after {HUNG_TIMEOUT:g} s")
        # the last data stays on screen: the newest good snapshot (a poll in flight when
        # the host hung may have landed after `good` was read)
        shown = db.snapshot
        assert shown is hub.pollers["database"].state.last_good and shown.error is None
        assert shown.collected_at >= good.collected_at
        others = [p for p in app.query(Panel) if p is not db]
        assert not any(p.has_class("-stale") for p in others), [(p.TITLE, p.border_subtitle) for p in others]
        assert all(p.border_subtitle == "" for p in others)
        assert hub.pollers["database"].max_in_flight == 1
        assert hub.pollers["cache"].state.latest.error is None
        assert hub.report.component("database").status.label == "UNREACHABLE"
        proxy.hang = False  # the host comes back: the panel recovers by itself
        await until(lambda: not db.has_class("-stale"), interval=0.1, sleep=pilot.pause,
                    what="the database panel recovered")
        assert db.snapshot is not shown and db.border_subtitle == ""
    latencies.sort()
    print(f"\nkeys pressed while the database hung: {len(latencies)}; handled in "
          f"median {latencies[len(latencies) // 2] * 1000:.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms")
