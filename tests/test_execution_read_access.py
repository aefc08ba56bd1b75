"""A read step can look at everything and change nothing: against the real systems.

The step context's read surfaces are exercised on the Kubernetes emulator (in this loop),
the real Redis and PostgreSQL of tests/servers.py (db ``test``):
each read works, each write is refused — by the surface before anything is sent, or by
the server inside a READ ONLY transaction — and the data is checked afterwards with a
client of the test's own, so "refused" means "nothing changed", not "an exception".
"""

from __future__ import annotations

import uuid

import asyncpg
import pytest
import redis.asyncio as aioredis
import servers
from health_support import emulator
from wizard_support import load_config, write_config

from console.execution.context import NotPermitted
from console.execution.executor import FAILED
from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.read_access import read_exec_problem
from console.execution.session import WizardRun

pytestmark = pytest.mark.timeout(60)
PG_DSN = f"postgresql://postgres@{servers.PG_HOSTPORT}/test"
NS, DEPLOYMENT = "mcp-production", "mcp-server-production"


async def refuse(request):  # read steps are never confirmed
    raise AssertionError(f"unexpected confirmation: {request}")


def read_step(step_id, body):
    async def run(ctx):
        await body(ctx)
        yield "the read step carried on"

    return Step(step_id, step_id, "a read step that tries to write", Risk.READ,
                lambda ctx: Plan("look"), run)


def make_run(tmp_path, wizard=None, **config_kw):
    config = load_config(write_config(tmp_path, **config_kw))
    run = WizardRun(config=config, env_name="sandbox", read_only=False, confirmer=refuse,
                    wizard=wizard or Wizard("ro", "RO", "S", "W"))
    run.start()
    return run


@pytest.fixture
async def cluster_run(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10) as (cluster, _server):
        yield cluster, (lambda wizard=None: make_run(tmp_path, wizard,
                                                     kubeconfig=str(kubeconfig)))


def replicas(cluster) -> int | None:
    obj = cluster.store.peek("deployments.apps", NS, DEPLOYMENT)
    return obj and obj["spec"]["replicas"]


async def test_the_kubernetes_reader_reads_and_refuses_every_write(cluster_run):
    cluster, new_run = cluster_run
    run = new_run()
    try:
        reader = await run.ctx.kube()
        assert not hasattr(reader, "api")  # no raw client to build a writer on
        before = replicas(cluster)
        assert (await reader.deployment()).desired == before  # a typed view now
        reads = reader  # ClusterReads is part of the reader now
        assert await reads.pods("app=mcp-server")
        assert await reads.pod("no-such-pod") is None
        for api, method in (("AppsV1Api", "delete_namespaced_deployment"),
                            ("AppsV1Api", "patch_namespaced_deployment_scale"),
                            ("CoreV1Api", "create_namespaced_pod"),
                            ("CoreV1Api", "connect_get_namespaced_pod_exec"),
                            ("ApiClient", "call_api")):
            with pytest.raises(NotPermitted):
                await reader.get(api, method, DEPLOYMENT, NS, body={"spec": {"replicas": 0}})
        with pytest.raises(NotPermitted):
            async for _ in reader.watch("AppsV1Api", "read_namespaced_deployment", NS,
                                        name=DEPLOYMENT, resource_version=None, timeout=1):
                pass
        with pytest.raises(NotPermitted):
            reads.exec_target("postgres-production-primary-0", ["sh", "-c", "rm -rf /data"])
        target = reads.exec_target("postgres-production-primary-0", ["pg_isready"])
        assert target.command == ("pg_isready",) and target.namespace == NS
        assert replicas(cluster) == before
    finally:
        await run.finish("completed")


async def test_a_read_step_reaching_for_a_write_fails_and_changes_nothing(cluster_run):
    from kubernetes_asyncio import client as k8s

    cluster, new_run = cluster_run

    async def by_name(ctx):
        reader = await ctx.kube()
        await reader.get("AppsV1Api", "delete_namespaced_deployment", DEPLOYMENT, NS)

    async def by_raw_client(ctx):
        apps = k8s.AppsV1Api((await ctx.kube()).api)
        await apps.delete_namespaced_deployment(DEPLOYMENT, NS)

    wizard = Wizard("ro", "RO", "S", "W", steps=(read_step("by-name", by_name),
                                                 read_step("by-raw-client", by_raw_client)))
    run = new_run(wizard)
    try:
        first, second = await run.run_step(0), await run.run_step(1)
    finally:
        await run.finish("failed")
    assert first.status == FAILED and "not permitted" in first.error
    assert second.status == FAILED and "api" in second.error
    assert replicas(cluster) is not None  # the deployment is still there


async def test_redis_for_a_read_step_only_reads(tmp_path):
    key = f"mcp-ops-test:read-access:{uuid.uuid4().hex}"
    raw = aioredis.Redis.from_url(f"redis://{servers.REDIS_HOSTPORT}/0", decode_responses=True)
    await raw.set(key, "before", ex=60)
    run = make_run(tmp_path)
    try:
        r = run.ctx.redis()
        assert await r.get(key) == "before"
        assert (await r.info("server"))["redis_version"]
        assert await r.execute_command("ACL", "WHOAMI") == "default"
        assert isinstance(await r.slowlog_get(1), list)
        writes = [lambda: r.set(key, "after"), lambda: r.delete(key), lambda: r.flushdb(),
                  lambda: r.expire(key, 1), lambda: r.pipeline(),
                  lambda: r.execute_command("SET", key, "after"),
                  lambda: r.execute_command("del", key),
                  lambda: r.execute_command("CONFIG SET", "maxmemory", "1"),
                  lambda: r.execute_command("CONFIG", "SET", "maxmemory", "1"),
                  lambda: r.execute_command("ACL", "SETUSER", "intruder", "on"),
                  lambda: r.execute_command("EVAL", "return redis.call('DEL', KEYS[1])", 1,
                                            key)]
        for write in writes:
            with pytest.raises(NotPermitted):
                await write()
        assert await raw.get(key) == "before"
        assert "intruder" not in await raw.acl_users()
    finally:
        await run.finish("completed")
        await raw.delete(key)
        await raw.aclose()


async def test_postgres_for_a_read_step_is_a_read_only_transaction(tmp_path):
    table = f"read_access_{uuid.uuid4().hex[:10]}"
    run = make_run(tmp_path, pg_dsn=PG_DSN)
    try:
        pg = await run.ctx.postgres()
        assert await pg.fetchval("SELECT 41 + 1") == 42
        assert not hasattr(pg, "execute") and not hasattr(pg, "executemany")
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await pg.fetch(f"CREATE TABLE {table} (i int)")
        # switching the session's default off does not open the next transaction for writes
        await pg.fetch("SET default_transaction_read_only = off")
        await pg.fetch("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await pg.fetchrow(f"CREATE TABLE {table} (i int)")
        # each query is its own READ ONLY transaction: a switch lasts only for itself
        await pg.fetchval("SET TRANSACTION READ WRITE")
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await pg.fetchval(f"CREATE TABLE {table} (i int)")
        with pytest.raises(asyncpg.ActiveSQLTransactionError):  # not within a query
            await pg.fetchval("SELECT set_config('transaction_read_only', 'off', true)")
    finally:
        await run.finish("completed")
    check = await asyncpg.connect(PG_DSN, timeout=5)
    try:
        assert await check.fetchval("SELECT to_regclass($1)", table) is None
    finally:
        await check.close()


@pytest.mark.parametrize("command, allowed", [
    (["pg_isready", "-d", "app"], True),
    (["psql", "-d", "app", "-c", "SET default_transaction_read_only = on",
      "-c", "SELECT count(*) FROM critical_table"], True),
    (["/usr/bin/psql", "-c", "SET default_transaction_read_only = on", "-c", "SHOW server_version",
      "-c", "WITH t AS (SELECT 1) SELECT * FROM t;"], True),
    (["psql", "-c", "SELECT count(*) FROM critical_table"], False),  # session not read-only
    (["psql", "-c", "SET default_transaction_read_only = on", "-c", "DELETE FROM t"], False),
    (["psql", "-c", "SET default_transaction_read_only = on",
      "-c", "SELECT 1; SET default_transaction_read_only = off"], False),
    (["psql", "-c", "SET default_transaction_read_only = on",
      "-c", "SELECT set_config('default_transaction_read_only', 'off', false)"], False),
    (["psql", "-c", "SET default_transaction_read_only = on",
      "-c", "SELECT pg_terminate_backend(42)"], False),
    (["psql", "-c", "SET default_transaction_read_only = on", "-f", "/tmp/x.sql"], False),
    (["psql", "-c", "SET default_transaction_read_only = on", "-c", "SELECT 1",
      "-o", "/data/out"], False),
    (["pg_restore", "-d", "app"], False),
    (["sh", "-c", "pg_isready"], False),
    ([], False),
])
def test_what_a_read_step_may_exec_in_a_pod(command, allowed):
    assert (read_exec_problem(command) is None) is allowed, read_exec_problem(command)
