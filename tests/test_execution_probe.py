"""The start-up probe against real systems: the emulator's SelfSubjectRulesReview, a
PostgreSQL role with and without write privileges, a Redis ACL user with and without
@write."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as aioredis
from wizard_support import EmulatorProcess, load_config, write_config

from console.execution.probe import (
    Capability,
    ProbeReport,
    probe_environment,
    probe_kubernetes,
    probe_postgres,
    probe_redis,
    redis_acl_can_write,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
RO_ROLE = "wz_probe_reader"
RO_REDIS = "wz_probe_reader"


@pytest.fixture
async def pg_reader():
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute("DROP TABLE IF EXISTS wz_probe_t; CREATE TABLE wz_probe_t (id int)")
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", RO_ROLE)
        if not exists:
            await conn.execute(f"CREATE ROLE {RO_ROLE} LOGIN")
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        await conn.execute("REVOKE CREATE ON DATABASE test FROM PUBLIC")
        await conn.execute(f"GRANT SELECT ON wz_probe_t TO {RO_ROLE}")
        yield f"postgresql://{RO_ROLE}@127.0.0.1:5432/test"
    finally:
        await conn.execute("DROP TABLE IF EXISTS wz_probe_t")
        await conn.close()


@pytest.fixture
async def redis_reader():
    admin = aioredis.Redis(host="127.0.0.1", port=6379)
    await admin.execute_command("ACL", "SETUSER", RO_REDIS, "reset", "on", "nopass", "~*",
                                "&*", "-@all", "+@read", "+acl|whoami", "+acl|getuser",
                                "+client", "+ping")
    try:
        yield RO_REDIS
    finally:
        await admin.execute_command("ACL", "DELUSER", RO_REDIS)
        await admin.aclose()


def env_of(tmp_path, **kw):
    return load_config(write_config(tmp_path, **kw)).environments["sandbox"]


async def test_postgres_superuser_can_write_and_reader_cannot(tmp_path, pg_reader):
    admin = await probe_postgres(env_of(tmp_path))
    assert admin.can_write is True and "superuser" in admin.detail
    reader = await probe_postgres(env_of(tmp_path, pg_dsn=pg_reader))
    assert reader.can_write is False, reader.detail
    assert RO_ROLE in reader.detail


async def test_redis_default_user_can_write_and_acl_reader_cannot(tmp_path, redis_reader,
                                                                 monkeypatch):
    admin = await probe_redis(env_of(tmp_path))
    assert admin.can_write is True and "default" in admin.detail
    monkeypatch.setenv("WZ_TEST_REDIS_PASSWORD", "any-password")  # nopass accepts any
    reader = await probe_redis(env_of(tmp_path, redis_url=f"redis://{redis_reader}@127.0.0.1:6379/0"))
    assert reader.can_write is False, reader.detail
    assert "-@all" in reader.detail


def test_redis_rule_replay():
    assert redis_acl_can_write("+@all")
    assert not redis_acl_can_write("+@all -@write")
    assert not redis_acl_can_write("-@all +@read +acl|whoami")
    assert redis_acl_can_write("-@all +@read +set")


@pytest.mark.timeout(60)
async def test_kubernetes_rules_review_admin_and_readonly_tokens(tmp_path):
    with EmulatorProcess(tmp_path / "emu") as emu:
        admin = await probe_kubernetes(env_of(tmp_path, kubeconfig=str(emu.kubeconfig)))
        reader = await probe_kubernetes(env_of(tmp_path, kubeconfig=str(emu.readonly_kubeconfig)))
    assert admin.can_write is True, admin.detail
    assert reader.can_write is False, reader.detail


async def test_unreachable_systems_are_unknown_not_read_only(tmp_path):
    env = env_of(tmp_path, pg_dsn="postgresql://postgres@127.0.0.1:1/test",
                 redis_url="redis://127.0.0.1:1/0")
    report = await probe_environment(env, timeout=3)
    assert [c.can_write for c in report.capabilities] == [None, None, None]
    assert report.credentials_can_write is None
    assert "unknown" in report.header_text(enforced=True)


def test_header_text_combines_enforcement_and_credentials():
    ro = ProbeReport((Capability("kubernetes", False, ""), Capability("postgres", False, "")))
    rw = ProbeReport((Capability("kubernetes", False, ""), Capability("redis", True, "")))
    assert ro.header_text(True) == ("read-only enforced by the console; "
                                    "credentials are read-only")
    assert rw.header_text(False) == "console may change things; credentials CAN write"
