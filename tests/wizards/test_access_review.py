"""``access-review`` against the emulator's RBAC (Roles, ClusterRoles and bindings served
and honoured by its authorizer), seeded with one over-broad binding and an unused secret."""

from __future__ import annotations

import pytest
from conftest import drive, sandbox_cli

pytestmark = pytest.mark.timeout(180)


async def test_the_over_broad_binding_and_the_unused_secret_are_found(world):
    report = world.tmp / "review.md"
    driven = await drive(world, "access-review", {"report": str(report)})
    text = driven.text()
    assert driven.statuses["report"] == "failed", text  # a CRITICAL finding fails the run
    assert ("CRITICAL    ServiceAccount:mcp-production:ci-deployer is cluster-admin through "
            "ClusterRoleBinding/ci-deployer-admin (cluster-wide) -> ClusterRole/cluster-admin"
            ) in text
    assert "WARNING     ServiceAccount:mcp-production:ci-deployer has wildcard verbs" in text
    assert "Group:system:masters is cluster-admin through ClusterRoleBinding/cluster-admin " \
        "(cluster-wide) (allowed" in text
    assert "WARNING     secret mcp-production/ci-deployer-token-legacy" in text
    assert "postgres-credentials" not in " ".join(
        x for x in driven.lines if x.startswith("WARNING"))
    # what the API server answers, asked as each account (impersonation)
    assert ("system:serviceaccount:mcp-production:mcp-server-production can (in "
            "mcp-production): ") in text
    can = next(x for x in driven.lines if "mcp-production:ci-deployer can" in x)
    assert "* * (*)" in can
    body = report.read_text()
    assert body.startswith("# Access review — sandbox") and "**CRITICAL**" in body
    assert "| mcp-production | ci-deployer-token-legacy |" in body and "**no** |" in body
    note = next(r["data"] for r in driven.records("note")
                if r["data"]["text"] == "access review report")
    import hashlib

    assert hashlib.sha256(body.encode()).hexdigest() == note["sha256"]


async def test_the_emulator_honours_the_bindings(world):
    """kubectl, as the over-broad account, may delete secrets; as the application's
    account, only read its own secret; after the binding goes, the admin rights go too."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kube"))
    from kube_support import kubectl

    ci = "--as=system:serviceaccount:mcp-production:ci-deployer"
    app = "--as=system:serviceaccount:mcp-production:mcp-server-production"
    yes = await kubectl(world.emulator, "auth", "can-i", "delete", "nodes", ci)
    assert yes.stdout.strip() == "yes"
    no = await kubectl(world.emulator, "auth", "can-i", "delete", "nodes", app, check=False)
    assert no.stdout.strip() == "no"
    world.store.delete("clusterrolebindings.rbac.authorization.k8s.io", "", "ci-deployer-admin")
    gone = await kubectl(world.emulator, "auth", "can-i", "delete", "nodes", ci, check=False)
    assert gone.stdout.strip() == "no"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sandbox_access_review_through_mcp_ops_run(sandbox, tmp_path):
    out = sandbox_cli(sandbox, tmp_path, "run", "access-review", "--env", "sandbox",
                      "--set", f"report={tmp_path / 'review.md'}", "--read-only")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "ci-deployer is cluster-admin through ClusterRoleBinding/ci-deployer-admin" in \
        out.stdout
    assert (tmp_path / "review.md").exists()


async def test_service_account_tokens_authenticate_as_the_account(world):
    """``kubectl create token`` (a TokenRequest) gives a token that is the account: the
    over-broad one may delete nodes, the application's may read its one secret only."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kube"))
    from kube_support import kubectl

    async def token(account: str) -> str:
        out = await kubectl(world.emulator, "create", "token", account, "-n", "mcp-production")
        return out.stdout.strip()

    ci, app = await token("ci-deployer"), await token("mcp-server-production")
    assert ci.startswith("sa-") and ci != app

    async def can(tok: str, *args: str) -> str:
        out = await kubectl(world.emulator, "auth", "can-i", *args, f"--token={tok}",
                            check=False)
        return out.stdout.strip()

    assert await can(ci, "delete", "nodes") == "yes"
    assert await can(app, "delete", "nodes") == "no"
    assert await can(app, "get", "secret/postgres-credentials", "-n", "mcp-production") == "yes"
    assert await can(app, "get", "secret/ci-deployer-token-legacy", "-n",
                     "mcp-production") == "no"
    who = await kubectl(world.emulator, "auth", "whoami", f"--token={app}", "-o", "json")
    assert "system:serviceaccount:mcp-production:mcp-server-production" in who.stdout
    missing = await kubectl(world.emulator, "create", "token", "nobody", "-n",
                            "mcp-production", check=False)
    assert missing.returncode != 0 and "not found" in missing.stderr
