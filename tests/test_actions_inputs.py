"""Typed inputs: each kind accepts what it should and explains what it refuses."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from console.execution.inputs import (
    BoolInput,
    ChoiceInput,
    ImageInput,
    Input,
    InputError,
    IntInput,
    K8sNameInput,
    LiveChoiceInput,
    NetworkInput,
    SqlIdentifierInput,
)

CTX = SimpleNamespace(env=SimpleNamespace(kubernetes=SimpleNamespace(max_replicas=20,
                                                                     normal_replicas=6)))


async def ok(item: Input, raw: str):
    return await item.parse(raw, CTX)


async def bad(item: Input, raw: str) -> str:
    with pytest.raises(InputError) as err:
        await item.parse(raw, CTX)
    return str(err.value)


async def test_integer_bounds_may_come_from_the_config():
    item = IntInput("replicas", "Replicas", minimum=1,
                    maximum=lambda ctx: ctx.env.kubernetes.max_replicas)
    assert await ok(item, " 12 ") == 12
    assert "out of range 1..20" in await bad(item, "21")
    assert "not a whole number" in await bad(item, "3.5")
    assert "required" in await bad(item, "")


async def test_defaults_may_be_constant_config_or_live():
    async def live(ctx):
        return 7

    assert await IntInput("a", "A", default=3).default_value(CTX) == 3
    assert await IntInput("b", "B", default=lambda c: c.env.kubernetes.normal_replicas
                          ).default_value(CTX) == 6
    assert await IntInput("c", "C", default=live).default_value(CTX) == 7


async def test_optional_input_accepts_nothing():
    assert await ok(IntInput("n", "N", required=False), "") is None


async def test_choices_and_live_choices():
    item = ChoiceInput("mode", "Mode", choices=("report", "json"))
    assert await ok(item, "json") == "json"
    assert "not one of: report, json" in await bad(item, "xml")

    async def backups(ctx):
        return ["daily-backup-20240115", "daily-backup-20240116"]

    live = LiveChoiceInput("backup", "Backup", source=backups)
    assert await ok(live, "daily-backup-20240116") == "daily-backup-20240116"
    assert "daily-backup-20240115" in await bad(live, "nope")


@pytest.mark.parametrize("raw, expected", [("10.0.0.0/8", "10.0.0.0/8"), ("192.0.2.7", "192.0.2.7"),
                                           ("2001:db8::/32", "2001:db8::/32")])
async def test_networks_accepted(raw, expected):
    assert await ok(NetworkInput("cidr", "CIDR"), raw) == expected


@pytest.mark.parametrize("raw", ["10.0.0.1/8", "300.1.1.1", "1.2.3.4/33", "evil.example"])
async def test_networks_refused(raw):
    assert "not a valid IP" in await bad(NetworkInput("cidr", "CIDR"), raw)


async def test_kubernetes_names():
    item = K8sNameInput("pod", "Pod")
    assert await ok(item, "mcp-server-production-7d9f") == "mcp-server-production-7d9f"
    for raw in ("Upper", "-lead", "trail-", "a_b", "a" * 254):
        assert "Kubernetes name" in await bad(item, raw)


async def test_image_references():
    item = ImageInput("image", "Image")
    for raw in ("pratiko/mcp-server:v1.2.0", "registry.example.com:5000/team/app:1",
                "nginx", "app@sha256:" + "a" * 64):
        assert await ok(item, raw) == raw
    for raw in ("Pratiko/App:v1", "app:", "app:tag with space", "app;rm -rf /"):
        assert "image reference" in await bad(item, raw)


async def test_sql_identifiers():
    item = SqlIdentifierInput("table", "Table")
    assert await ok(item, "critical_table") == "critical_table"
    assert "reserved" in await bad(item, "select")
    for raw in ("1abc", "users; DROP TABLE x", "a-b", 'quoted"name'):
        assert "SQL identifier" in await bad(item, raw)


async def test_free_text_and_booleans():
    assert await ok(Input("note", "Note"), "maintenance done") == "maintenance done"
    assert "control characters" in await bad(Input("note", "Note"), "a\x1b[2Jb")
    assert await ok(BoolInput("go", "Go"), "yes") is True
    assert "yes or no" in await bad(BoolInput("go", "Go"), "maybe")


def test_secret_inputs_show_masked():
    assert Input("pw", "Password", secret=True).show("hunter2") == "***"
    assert Input("n", "N").show("x") == "x"
