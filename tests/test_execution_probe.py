"""The start-up probe against real systems: the emulator's SelfSubjectRulesReview (also a
rejected token and an incomplete review), a PostgreSQL role with and without write
privileges, Redis ACL users with and without write-capable categories and selectors."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
import servers
from health_support import read_only_redis_user, select_only_role
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
from console.sources.kube import KubeError
from sandbox.kube.auth import ADMIN_TOKEN, READONLY_TOKEN, Authorizer
from sandbox.kube.cluster import build_cluster
from sandbox.kube.server import start_server


def unique(stem: str) -> str:
    """Other engineers' test runs share these servers: names of our own, never reused."""
    return f"{stem}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def pg_reader():
    """A database and a login role of this test's own: the role may only SELECT one
    table. Yields (dsn, role)."""
    async with select_only_role("wz_probe", "wz_probe_t") as got:
        yield got


@pytest.fixture
async def redis_reader():
    async with read_only_redis_user("wz_probe_reader") as name:
        yield name


def env_of(tmp_path, **kw):
    return load_config(write_config(tmp_path, **kw)).environments["sandbox"]


async def test_postgres_superuser_can_write_and_reader_cannot(tmp_path, pg_reader):
    admin = await probe_postgres(env_of(tmp_path))
    assert admin.can_write is True and "superuser" in admin.detail
    dsn, role = pg_reader
    reader = await probe_postgres(env_of(tmp_path, pg_dsn=dsn))
    assert reader.can_write is False, reader.detail
    assert role in reader.detail


async def test_redis_default_user_can_write_and_acl_reader_cannot(tmp_path, redis_reader,
                                                                 monkeypatch):
    admin = await probe_redis(env_of(tmp_path))
    assert admin.can_write is True and "default" in admin.detail
    monkeypatch.setenv("WZ_TEST_REDIS_PASSWORD", "any-password")  # nopass accepts any
    reader = await probe_redis(env_of(tmp_path, redis_url=f"redis://{redis_reader}@{servers.REDIS_HOSTPORT}/0"))
    assert reader.can_write is False, reader.detail
    assert "-@all" in reader.detail


def test_redis_rule_replay():
    assert redis_acl_can_write("+@all")
    assert not redis_acl_can_write("+@all -@write")
    assert not redis_acl_can_write("-@all +@read +acl|whoami")
    assert redis_acl_can_write("-@all +@read +set")


@pytest.mark.parametrize("category", ["string", "hash", "list", "keyspace", "admin",
                                      "dangerous", "fast", "slow", "blocking", "scripting"])
def test_redis_categories_that_hold_writes_can_write(category):
    assert redis_acl_can_write(f"-@all +@read +@{category}"), category
    assert not redis_acl_can_write(f"-@all +@{category} -@write"), category


def test_redis_read_only_categories_and_commands():
    assert not redis_acl_can_write("-@all +@read +@connection +@pubsub +@transaction")
    assert redis_acl_can_write("-@all +@read +getdel")  # not in a short hand-made list
    assert redis_acl_can_write("-@all +@read +config|set")
    assert redis_acl_can_write("-@all +@read +xgroup")  # every subcommand, some writing
    assert not redis_acl_can_write("-@all +@read +config|get")
    assert redis_acl_can_write("-@all +@read", ("-@all +set",))  # a Redis 7 selector


@pytest.fixture
async def redis_user_with():
    """Creates ACL users with given rules (deleted afterwards); returns their names."""
    admin = aioredis.Redis(host="127.0.0.1", port=servers.REDIS_PORT)
    made: list[str] = []

    async def make(*rules: str) -> str:
        name = unique(f"wz_probe_u{len(made)}")
        await admin.execute_command("ACL", "SETUSER", name, "reset", "on", "nopass", "~*",
                                    "&*", "-@all", "+@read", "+acl|whoami", "+acl|getuser",
                                    "+client", "+ping", *rules)
        made.append(name)
        return name

    try:
        yield make
    finally:
        for name in made:
            await admin.execute_command("ACL", "DELUSER", name)
        await admin.aclose()


@pytest.mark.parametrize("rules", [("+@string",), ("+@hash",), ("+@keyspace",), ("+@admin",),
                                   ("+@dangerous",), ("(+set ~cache:*)",)])
async def test_redis_user_with_a_writing_category_can_write(tmp_path, monkeypatch,
                                                            redis_user_with, rules):
    user = await redis_user_with(*rules)
    monkeypatch.setenv("WZ_TEST_REDIS_PASSWORD", "any-password")
    cap = await probe_redis(env_of(tmp_path, redis_url=f"redis://{user}@{servers.REDIS_HOSTPORT}/0"))
    assert cap.can_write is True, cap.detail


@pytest.mark.timeout(60)
async def test_kubernetes_rules_review_admin_and_readonly_tokens(tmp_path):
    with EmulatorProcess(tmp_path / "emu") as emu:
        admin = await probe_kubernetes(env_of(tmp_path, kubeconfig=str(emu.kubeconfig)))
        reader = await probe_kubernetes(env_of(tmp_path, kubeconfig=str(emu.readonly_kubeconfig)))
    assert admin.can_write is True, admin.detail
    assert reader.can_write is False, reader.detail


@pytest.mark.timeout(60)
async def test_kubernetes_rejected_token_is_unknown_not_read_only(tmp_path):
    """A 401 answer carries no rules; it must not read as "no write rules"."""
    with EmulatorProcess(tmp_path / "emu") as emu:
        bad = tmp_path / "kubeconfig-bad"
        bad.write_text(emu.kubeconfig.read_text().replace(ADMIN_TOKEN, "no-such-token"))
        env = env_of(tmp_path, kubeconfig=str(bad))
        with pytest.raises(KubeError) as caught:
            await probe_kubernetes(env)
        report = await probe_environment(env, timeout=10)
    assert caught.value.status == 401
    assert report.capabilities[0].can_write is None, report.capabilities[0].detail


class IncompleteAuthorizer(Authorizer):
    """An authorizer that, like a webhook-backed one, cannot enumerate every rule."""

    def rules_review(self, user, namespace):
        status = super().rules_review(user, namespace)
        return {**status, "incomplete": True, "evaluationError": "webhook authorizer: no list"}


@pytest.mark.timeout(60)
async def test_kubernetes_incomplete_review_is_unknown_unless_a_write_rule_shows(tmp_path):
    default = Authorizer.default()
    authorizer = IncompleteAuthorizer(default.tokens, default.user_rules, default.group_rules)
    server = await start_server(build_cluster(seeded=False), tokens=authorizer)
    try:
        reader_cfg = server.write_kubeconfig(tmp_path / "kc-reader", READONLY_TOKEN)
        admin_cfg = server.write_kubeconfig(tmp_path / "kc-admin", ADMIN_TOKEN)
        reader = await probe_kubernetes(env_of(tmp_path, kubeconfig=str(reader_cfg)))
        admin = await probe_kubernetes(env_of(tmp_path, kubeconfig=str(admin_cfg)))
    finally:
        await server.stop()
    assert reader.can_write is None, reader.detail
    assert "webhook authorizer" in reader.detail
    assert admin.can_write is True, admin.detail  # a rule that allows writes is enough


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
