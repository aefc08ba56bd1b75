"""After ``db-pitr``'s switch the console's own database view follows the application.

The switch is recorded on the Deployment (read back from the emulator's store); the
dashboard's and ``mcp-ops check``'s database collector (``build_collector``, the one they
use) then reads the recovery database where ``postgres.recovery_dsn`` says how to reach it,
and otherwise keeps reading the old primary with a WARNING saying so. The way back removes
the record and the view returns to ``postgres.dsn``. Real PostgreSQL, emulator over HTTP.
"""

from __future__ import annotations

import pytest
import servers
from conftest import drive
from waiting import until

from console.collectors.database_switch import SWITCHED_AT, SWITCHED_TO
from console.collectors.registry import build_collector
from console.config import load_file
from console.health.evaluate import evaluate_component
from console.health.status import Status
from screens.app import McpOpsApp
from screens.panels.alerts import AlertsPanel

pytestmark = pytest.mark.timeout(180)
RECOVERY_HOST = "postgres-recovery.mcp-production.svc.cluster.local"


async def database_view(config, env_name: str = "sandbox"):
    """One collection by the dashboard's database collector, and its verdict."""
    _, env = config.environment(env_name)
    collector = build_collector(env, "database", timeout=5)
    try:
        snap = await collector.collect()
    finally:
        await collector.close()
    return snap, evaluate_component("database", snap, env.thresholds)


def switch_finding(health):
    return next((f for f in health.findings if f.check == "switch"), None)


async def test_the_database_view_follows_the_switch_and_comes_back(world, tmp_path,
                                                                   fixed_operator):
    following = tmp_path / "following.yaml"
    following.write_text(world.config_path.read_text().replace(
        f'postgres: {{dsn: "{world.pg.dsn(world.pg.production)}"}}',
        f'postgres: {{dsn: "{world.pg.dsn(world.pg.production)}", '
        f'recovery_dsn: "{world.pg.dsn(world.pg.recovery)}"}}'))
    config = load_file(following)
    assert config.environment("sandbox")[1].postgres.recovery_dsn

    snap, health = await database_view(config)
    assert snap.ok and snap.database == world.pg.production and not snap.switched_to
    assert switch_finding(health) is None

    world.config_path.write_text(following.read_text())  # the wizard runs with it too
    driven = await drive(world, "db-pitr")
    assert driven.statuses.get("summary") == "ok", driven.text()
    annotations = world.deployment()["metadata"]["annotations"]
    assert annotations[SWITCHED_TO] == RECOVERY_HOST
    assert annotations[SWITCHED_AT].endswith("Z")
    assert f"database view follows the switch: it watches {servers.PG_HOSTPORT}/" \
        f"{world.pg.recovery}" in driven.text()

    # followed: the figures are the recovery database's, and say so
    snap, health = await database_view(config)
    assert snap.ok and snap.database == world.pg.recovery, snap
    assert snap.following and snap.switched_to == RECOVERY_HOST
    finding = switch_finding(health)
    assert finding.status == Status.HEALTHY
    assert finding.reason.startswith("following the switch at ")
    assert f"watched as {servers.PG_HOSTPORT}/{world.pg.recovery}" in finding.reason

    # without recovery_dsn: still the old primary, and a WARNING that says it
    plain = tmp_path / "plain.yaml"
    plain.write_text(following.read_text().replace(
        f', recovery_dsn: "{world.pg.dsn(world.pg.recovery)}"', ""))
    snap, health = await database_view(load_file(plain))
    assert snap.ok and snap.database == world.pg.production and not snap.following
    finding = switch_finding(health)
    assert finding.status == Status.WARNING and health.status >= Status.WARNING
    assert f"the application was switched to {RECOVERY_HOST}" in finding.reason
    assert f"still watches the old primary ({servers.PG_HOSTPORT}/{world.pg.production})" \
        in finding.reason

    # the dashboard at 80x24 says it too: the Database panel's banner, the Alerts panel
    app = McpOpsApp(load_file(plain), "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        summary = app.query_one("#database-summary")
        await until(lambda: "OLD PRIMARY: app switched to " + RECOVERY_HOST
                    in str(summary.render()), sleep=pilot.pause, timeout=60,
                    what=lambda: f"the banner ({summary.render()})")
        alerts = app.query_one(AlertsPanel)
        await until(lambda: "still watches the old primary" in str(
                    alerts.query_one("#alerts-list").render()), sleep=pilot.pause, timeout=30,
                    what="the switch in the Alerts panel")
        assert any(a.check == "switch" for a in alerts.report.alerts)

        # the way back: the record goes, the view returns to postgres.dsn
    back = await drive(world, "db-pitr", {"way_back": "yes"})
    assert back.statuses["way-back"] == "ok", back.text()
    annotations = world.deployment()["metadata"].get("annotations") or {}
    assert SWITCHED_TO not in annotations and SWITCHED_AT not in annotations
    snap, health = await database_view(config)
    assert snap.ok and snap.database == world.pg.production and not snap.switched_to
    assert switch_finding(health) is None
