"""The sandbox's database pods are no kinder than the real image: through the real
``kubectl exec``, the runbook's ``psql -c`` (no ``-U``/``-d``) fails as it would in
``postgres:15`` (``kubectl exec`` runs as root), and the corrected command works."""

from __future__ import annotations

import asyncio

import pytest
import servers

pytestmark = pytest.mark.timeout(120)
PRIMARY = "deployment/postgres-production-primary"


async def kubectl_exec(target: str, *command: str) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        "kubectl", "--context", "sandbox", "--request-timeout=20s", "exec", "-n",
        "mcp-production", target, "--", *command,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


@pytest.fixture
async def primary(world):
    """The primary's pods run the real PostgreSQL programs against the test's database."""
    from sandbox.db_exec import PodFiles, postgres_handler
    from sandbox.kube.exec_handlers import register_exec_handler
    from sandbox.kube.exec_subprocess import POSTGRES_PROGRAMS

    register_exec_handler(
        world.cluster, postgres_handler(host="127.0.0.1", port=servers.PG_PORT, user="postgres",
                                        database=world.pg.production, bin_dir=None,
                                        files=PodFiles(world.tmp / "podfs")),
        name_prefix="postgres-production-primary", commands=POSTGRES_PROGRAMS)
    return world


async def test_psql_without_user_and_database_fails_as_in_the_real_image(primary):
    code, out, err = await kubectl_exec(PRIMARY, "psql", "-c", "SELECT count(*) FROM "
                                        "pg_stat_activity;")
    assert code != 0 and out == ""
    assert 'FATAL:  role "root" does not exist' in err
    code, _, err = await kubectl_exec(PRIMARY, "psql", "-U", "pratiko_app", "-c", "SELECT 1")
    assert code != 0 and 'FATAL:  database "pratiko_app" does not exist' in err
    code, _, err = await kubectl_exec(PRIMARY, "pg_dump", "pratiko_mcp_production")
    assert code != 0 and 'role "root" does not exist' in err


async def test_the_corrected_commands_reach_the_real_rows(primary):
    from conftest import ROWS

    code, out, err = await kubectl_exec(PRIMARY, "psql", "-U", "pratiko_app", "-d",
                                        "pratiko_mcp_production", "-tAc",
                                        "SELECT count(*) FROM critical_table")
    assert (code, out.strip()) == (0, str(ROWS)), err
    code, out, err = await kubectl_exec(PRIMARY, "pg_dump", "-U", "pratiko_app",
                                        "pratiko_mcp_production")
    assert code == 0 and "CREATE TABLE public.critical_table" in out, err
    code, _, err = await kubectl_exec(PRIMARY, "psql", "-U", "pratiko_app", "-d", "other_db",
                                      "-c", "SELECT 1")
    assert code != 0 and 'database "other_db" does not exist' in err
