"""Authentication and authorization through the real kubectl: tokens, rule reviews,
403 for a read-only token's writes, impersonation, 401 for an unknown token."""

from __future__ import annotations

import re

import api_objects as w
import pytest
from kube_support import kubectl

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(120),
              pytest.mark.emulator(seeded=False, controllers=False)]

NS = "mcp-production"
SA = "system:serviceaccount:mcp-production:mcp-server-production"


@pytest.fixture
async def world(emulator):
    w.small_world(emulator.store)
    return emulator


ROW = re.compile(r"^(\S*)\s+(\[.*?\])\s+(\[.*?\])\s+(\[.*\])\s*$")


def rules(text: str) -> dict[str, str]:
    """``auth can-i --list`` rows: resource (or non-resource URLs) -> verbs column."""
    out = {}
    for line in text.strip().splitlines()[1:]:
        m = ROW.match(line)
        assert m, line
        out[m.group(1) or m.group(2)] = m.group(4)
    return out


async def test_can_i_list_for_admin_and_read_only_tokens(world):
    admin = rules((await kubectl(world, "auth", "can-i", "--list", "-n", NS)).stdout)
    assert admin["*.*"] == "[*]"
    viewer = rules((await kubectl(world, "auth", "can-i", "--list", "-n", NS,
                                  kubeconfig=world.readonly_kubeconfig)).stdout)
    assert viewer["*.*"] == "[get list watch]"
    assert "selfsubjectrulesreviews.authorization.k8s.io" in viewer


async def test_can_i_answers_from_the_same_rules(world):
    yes = await kubectl(world, "auth", "can-i", "patch", "deployments", "-n", NS)
    assert yes.stdout.strip() == "yes"
    no = await kubectl(world, "auth", "can-i", "patch", "deployments", "-n", NS,
                       kubeconfig=world.readonly_kubeconfig, check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    logs = await kubectl(world, "auth", "can-i", "get", "pods", "--subresource=log", "-n", NS,
                         kubeconfig=world.readonly_kubeconfig)
    assert logs.stdout.strip() == "yes"
    exec_ = await kubectl(world, "auth", "can-i", "create", "pods", "--subresource=exec", "-n", NS,
                          kubeconfig=world.readonly_kubeconfig, check=False)
    assert exec_.stdout.strip() == "no"


async def test_read_only_token_reads_but_every_write_is_forbidden(world):
    ro = world.readonly_kubeconfig
    listed = await kubectl(world, "get", "pods", "-n", NS, "-o", "name", kubeconfig=ro)
    assert len(listed.stdout.split()) == 6
    for args in (["scale", "deployment/mcp-server-production", "--replicas=10"],
                 ["patch", "hpa", "mcp-server-hpa", "-p", '{"spec":{"maxReplicas":20}}'],
                 ["delete", "pod", "mcp-server-production-abc12-00000"],
                 ["cordon", "node-1"],
                 ["create", "configmap", "x"]):
        res = await kubectl(world, *args, "-n", NS, kubeconfig=ro, check=False)
        assert res.returncode != 0 or args[0] == "cordon", args  # kubectl cordon exits 0 anyway
        assert "forbidden: User \"sandbox-viewer\" cannot" in res.stderr, res.stderr
    dep = world.store.get("deployments.apps", NS, "mcp-server-production")
    assert dep["spec"]["replicas"] == 6 and not world.store.get("nodes", "", "node-1")["spec"]


async def test_impersonation_takes_the_rules_of_the_impersonated_user(world):
    listing = rules((await kubectl(world, "auth", "can-i", "--list", "-n", NS, f"--as={SA}")).stdout)
    assert listing["pods"] == "[get list watch]"
    assert "*.*" not in listing
    secret = await kubectl(world, "auth", "can-i", "get", "secret/postgres-credentials", "-n", NS,
                           f"--as={SA}")
    assert secret.stdout.strip() == "yes"
    res = await kubectl(world, "delete", "pod", "mcp-server-production-abc12-00000", "-n", NS,
                        f"--as={SA}", check=False)
    assert f'User "{SA}" cannot delete resource "pods"' in res.stderr
    who = await kubectl(world, "auth", "whoami", f"--as={SA}", "--as-group=ops")
    assert SA in who.stdout and "ops" in who.stdout


async def test_a_read_only_caller_may_not_impersonate(world):
    await kubectl(world, "get", "pods", "-n", NS, kubeconfig=world.readonly_kubeconfig)  # discovery
    res = await kubectl(world, "get", "pods", "-n", NS, "--as=sandbox-admin",
                        kubeconfig=world.readonly_kubeconfig, check=False)
    assert res.returncode != 0
    assert 'cannot impersonate resource "users"' in res.stderr


async def test_unknown_token_is_401(world, tmp_path):
    bad = world.kubeconfig_for("not-a-token", tmp_path / "bad-kubeconfig")
    res = await kubectl(world, "get", "pods", "-n", NS, kubeconfig=bad, check=False)
    assert res.returncode != 0
    assert "You must be logged in to the server" in res.stderr
