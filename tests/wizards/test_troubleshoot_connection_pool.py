"""``troubleshoot-connection-pool`` on the real PostgreSQL: raising max_connections is
written with ALTER SYSTEM and shown waiting for a restart (``pending_restart``), never
claimed as done by a reload; refused on RDS; the database restart is not offered unless
asked for.
"""

from __future__ import annotations

import asyncpg
import pytest
from conftest import PG_ADMIN, cli, drive

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def restore_max_connections():
    admin = await asyncpg.connect(PG_ADMIN)
    current = int(await admin.fetchval("SELECT setting FROM pg_settings "
                                       "WHERE name = 'max_connections'"))
    try:
        yield current
    finally:
        await admin.execute("ALTER SYSTEM RESET max_connections")
        await admin.execute("SELECT pg_reload_conf()")
        await admin.close()


async def pending_restart() -> bool:
    admin = await asyncpg.connect(PG_ADMIN)
    try:
        return bool(await admin.fetchval("SELECT pending_restart FROM pg_settings "
                                         "WHERE name = 'max_connections'"))
    finally:
        await admin.close()


async def test_read_only_explains_the_restart_and_stops_at_raise_max(world):
    out = await cli(world.config_path, "run", "troubleshoot-connection-pool", "--env",
                    "sandbox", "--read-only", "--set", "remedy=raise-max", "--set",
                    "max_connections=250")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "pending_restart = false" in out.stdout
    assert "changes nothing until a restart" in out.stdout
    assert "raise-max" in out.stdout and "read-only mode" in out.stdout


async def test_raise_max_is_written_and_waits_for_a_restart(world, restore_max_connections):
    current = restore_max_connections
    driven = await drive(world, "troubleshoot-connection-pool",
                         {"remedy": "raise-max", "max_connections": str(current + 7)})
    text = driven.text()
    assert driven.statuses["raise-max"] == "ok", text
    assert driven.statuses["restart-database"] == "skipped"  # not asked for
    assert "ALTER SYSTEM" in text
    assert f"max_connections still {current}; pending_restart = true: {current + 7} " \
        "applies at the next restart" in text
    assert await pending_restart()
    [note] = [r["data"] for r in driven.records("note")
              if "previous_max_connections" in r["data"]]
    assert note["previous_max_connections"] == current


async def test_raise_max_is_refused_on_rds(world, restore_max_connections):
    text = world.config_path.read_text().replace(
        "      s3_backup_bucket:", "      rds_primary_id: pratiko-production\n"
        "      s3_backup_bucket:")
    world.config_path.write_text(text)
    driven = await drive(world, "troubleshoot-connection-pool",
                         {"remedy": "raise-max", "max_connections": "300"})
    assert driven.statuses["raise-max"] == "failed"
    assert "RDS" in driven.outcomes["raise-max"].error
    assert "parameter group" in driven.text()
    assert not await pending_restart()
