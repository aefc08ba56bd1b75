"""One operator at a time per environment: the Lease ``mcp-ops-<env>`` taken by a run's
first change step, against the Kubernetes emulator in its own process, read back with the
real kubectl; ``mcp-ops run`` refused while another operator holds it, taking it over by
naming the holder, and a crashed holder's lease expiring on its own."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from wizard_support import PYTHON, ROOT, EmulatorProcess, cli_env, write_config

from console.config.model import KubernetesSettings
from console.execution.kube.api import KubeApi
from console.execution.kube.lease import Holder, LeaseHeld, OperatorLease
from console.execution.log_store import list_sessions, read_records

pytestmark = pytest.mark.timeout(120)
NS, LEASE = "mcp-production", "mcp-ops-sandbox"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(tmp_path_factory.mktemp("emu"), speed=20) as emu:
        yield emu


def kubectl(emulator, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "KUBECONFIG": str(emulator.kubeconfig),
           "KUBECACHEDIR": str(emulator.directory / "cache")}
    return subprocess.run(["kubectl", *args, "--request-timeout=10s"], input=stdin,
                          capture_output=True, text=True, env=env, timeout=60)


def lease_json(emulator) -> dict | None:
    out = kubectl(emulator, "get", "lease", LEASE, "-n", NS, "-o", "json")
    return json.loads(out.stdout) if out.returncode == 0 else None


def plant(emulator, operator: str, renewed_ago: float) -> None:
    """A lease as another operator's console would hold it (renewed ``renewed_ago`` s ago)."""
    kubectl(emulator, "delete", "lease", LEASE, "-n", NS, "--ignore-not-found")
    at = (datetime.now(UTC) - timedelta(seconds=renewed_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    manifest = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": LEASE, "namespace": NS, "annotations": {
                    "mcp-ops.pratiko.ai/operator": operator,
                    "mcp-ops.pratiko.ai/wizard": "db-pitr",
                    "mcp-ops.pratiko.ai/session": "20261206-020000-db-pitr-abcd"}},
                "spec": {"holderIdentity": f"{operator}@ops-box", "leaseDurationSeconds": 30,
                         "acquireTime": at, "renewTime": at}}
    done = kubectl(emulator, "create", "-f", "-", stdin=json.dumps(manifest))
    assert done.returncode == 0, done.stderr


def lease_for(emulator, operator: str, session: str, **kw) -> OperatorLease:
    settings = KubernetesSettings(kubeconfig=str(emulator.kubeconfig), namespace=NS,
                                  request_timeout=5)
    return OperatorLease(KubeApi(settings), settings, "sandbox",
                         Holder(operator, "host-" + operator, "scaling", session), **kw)


async def test_two_takers_race_one_wins_and_a_take_over_must_name_the_holder(emulator):
    kubectl(emulator, "delete", "lease", LEASE, "-n", NS, "--ignore-not-found")
    ann, bob = lease_for(emulator, "ann", "s-ann"), lease_for(emulator, "bob", "s-bob")
    try:
        results = await asyncio.gather(ann.acquire(), bob.acquire(), return_exceptions=True)
        assert sorted(type(r).__name__ for r in results) == ["LeaseHeld", "str"]
        winner, loser = (ann, bob) if results[0] == "acquired" else (bob, ann)
        held = next(r for r in results if isinstance(r, LeaseHeld))
        assert f"held by {winner.holder.identity} (scaling, session " in str(held)
        assert f"--take-over {winner.holder.operator}" in str(held)
        assert lease_json(emulator)["spec"]["holderIdentity"] == winner.holder.identity

        with pytest.raises(LeaseHeld):
            await loser.acquire(take_over="somebody-else")
        taken = await loser.acquire(take_over=winner.holder.operator)
        assert taken.startswith(f"taken over from {winner.holder.identity}")
        await winner.renew()  # the old holder learns it at its next renewal
        assert winner.lost.startswith(f"taken over by {loser.holder.identity}")
        with pytest.raises(LeaseHeld):
            await winner.acquire()
        assert await winner.release() is False  # not its own any more: left alone
        assert lease_json(emulator)["spec"]["holderIdentity"] == loser.holder.identity
        assert await loser.release() is True
        assert lease_json(emulator) is None
    finally:
        for lease in (ann, bob):
            await lease.release()
            await lease._api.close()


async def test_the_holder_renews_while_it_runs(emulator):
    kubectl(emulator, "delete", "lease", LEASE, "-n", NS, "--ignore-not-found")
    ann = lease_for(emulator, "ann", "s-renew", renew_every=0.2)
    try:
        await ann.acquire()
        first = lease_json(emulator)["spec"]["renewTime"]
        await asyncio.sleep(0.8)
        assert lease_json(emulator)["spec"]["renewTime"] > first
    finally:
        await ann.release()
        await ann._api.close()


def run_scaling(emulator, tmp_path, *extra: str) -> tuple[subprocess.CompletedProcess, list]:
    config = write_config(tmp_path, kubeconfig=str(emulator.kubeconfig), context="sandbox")
    out = subprocess.run([PYTHON, "-m", "console.cli", "--config", str(config), "run",
                          "scaling", "--confirm", "sandbox", "--set", "replicas=7", "--set", "hpa_min=7",
                          *extra],
                         capture_output=True, text=True, env=cli_env(tmp_path), cwd=ROOT,
                         timeout=120)
    (summary, *_) = list_sessions(tmp_path / "sessions")
    return out, list(read_records(summary.path))


def test_a_run_is_refused_while_another_operator_holds_the_environment(emulator, tmp_path):
    plant(emulator, "alice", renewed_ago=2)
    before = kubectl(emulator, "get", "deployment/mcp-server-production", "-n", NS,
                     "-o", "jsonpath={.spec.replicas}").stdout
    out, records = run_scaling(emulator, tmp_path)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "held by alice@ops-box (db-pitr, session 20261206-020000-db-pitr-abcd)" in out.stdout
    assert "--take-over alice" in out.stdout
    assert kubectl(emulator, "get", "deployment/mcp-server-production", "-n", NS, "-o",
                   "jsonpath={.spec.replicas}").stdout == before
    refusals = [r for r in records if r["event"] == "refusal"]
    assert refusals and "held by alice@ops-box" in refusals[0]["data"]["reason"]
    assert not any(r["event"] == "confirmation" for r in records)  # never even asked
    assert lease_json(emulator)["spec"]["holderIdentity"] == "alice@ops-box"  # untouched


def test_taking_over_by_naming_the_holder_runs_and_releases_after(emulator, tmp_path):
    plant(emulator, "alice", renewed_ago=2)
    out, records = run_scaling(emulator, tmp_path, "--take-over", "alice")
    assert out.returncode == 0, out.stdout + out.stderr
    leases = [r["data"] for r in records if r["event"] == "lease"]
    assert leases[0]["event"] == "taken"
    assert leases[0]["detail"].startswith("taken over from alice@ops-box (db-pitr")
    assert leases[-1]["event"] == "released"
    assert lease_json(emulator) is None


def test_a_crashed_holders_lease_expires_and_a_new_run_proceeds(emulator, tmp_path):
    plant(emulator, "alice", renewed_ago=120)  # its console was killed two minutes ago
    out, records = run_scaling(emulator, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    leases = [r["data"] for r in records if r["event"] == "lease"]
    assert leases[0]["detail"].startswith("acquired (the lease of alice@ops-box")
    assert "had expired" in leases[0]["detail"]
    assert lease_json(emulator) is None


def test_a_dry_run_needs_no_lease(emulator, tmp_path):
    plant(emulator, "alice", renewed_ago=2)
    out, records = run_scaling(emulator, tmp_path, "--dry-run")
    assert out.returncode == 0, out.stdout + out.stderr
    assert not any(r["event"] == "lease" for r in records)
    kubectl(emulator, "delete", "lease", LEASE, "-n", NS, "--ignore-not-found")


async def test_the_console_offers_a_take_over_by_typing_the_holders_name(emulator, tmp_path,
                                                                        fixed_operator):
    import sys

    from textual.widgets import Input, Log
    from wizard_support import load_config

    from console.execution.model import Plan, Risk, Step, Wizard
    from screens.app import McpOpsApp
    from screens.confirm_modal import ConfirmModal
    from screens.take_over_modal import TakeOverModal
    from screens.wizard_runner import WizardRunner

    async def run(ctx):
        async for line in ctx.mutations.process([sys.executable, "-c", "print('changed')"]):
            yield line.text

    wizard = Wizard("lease-pilot", "Lease pilot", "Test", "in tests", steps=(
        Step("change", "Change it", "because", Risk.CHANGE, lambda ctx: Plan("change"), run),))
    config = load_config(write_config(tmp_path, kubeconfig=str(emulator.kubeconfig),
                                      context="sandbox"))
    plant(emulator, "alice", renewed_ago=1)
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = WizardRunner(config=config, env_name="sandbox", wizard=wizard,
                              read_only=False, operator=fixed_operator)
        await app.push_screen(runner)

        async def until(condition, what):
            for _ in range(300):
                if condition():
                    return
                await pilot.pause(0.05)
            raise AssertionError(f"timed out waiting for {what}")

        await until(lambda: runner.driver is not None and not runner.busy, "the runner")
        assert not runner.check_action("take_over", ())  # nothing refused yet: not offered
        await pilot.press("r")
        await until(lambda: runner.driver.run.held_by is not None and not runner.busy,
                    "the refusal")
        assert runner.check_action("take_over", ())
        lines = list(runner.query_one("#output", Log).lines)
        assert any("held by alice@ops-box" in line for line in lines)
        await pilot.press("T")
        await until(lambda: isinstance(app.screen, TakeOverModal), "the take-over modal")
        await pilot.press(*"bob", "enter")
        assert isinstance(app.screen, TakeOverModal)  # not the holder: nothing happens
        app.screen.query_one("#holder", Input).value = ""
        await pilot.press(*"alice", "enter")
        await until(lambda: isinstance(app.screen, ConfirmModal), "the step's confirmation")
        await pilot.press("y")
        await until(lambda: "changed" in list(runner.query_one("#output", Log).lines),
                    "the step run")
        await until(lambda: runner.finished, "the run's end")
        assert lease_json(emulator) is None  # the last step done: released
        await pilot.press("escape")
    (summary, *_) = list_sessions(tmp_path / "sessions")
    leases = [r["data"] for r in read_records(summary.path) if r["event"] == "lease"]
    assert leases[0]["event"] == "taken" and "alice@ops-box" in leases[0]["detail"]
    assert leases[-1]["event"] == "released"
    kubectl(emulator, "delete", "lease", LEASE, "-n", NS, "--ignore-not-found")


async def test_another_console_shows_who_holds_the_environment(emulator, tmp_path,
                                                              fixed_operator):
    from wizard_support import load_config

    from screens.app import McpOpsApp
    from screens.header import StatusHeader

    config = load_config(write_config(tmp_path, kubeconfig=str(emulator.kubeconfig),
                                      context="sandbox"))
    plant(emulator, "alice", renewed_ago=1)
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            header = app.query_one(StatusHeader)
            for _ in range(200):
                if header.held_by:
                    break
                await pilot.pause(0.05)
            assert header.held_by == "alice (db-pitr)"
            assert "held:alice (db-pitr)" in header.render().plain
            assert len(header.render().plain) <= 80
            await pilot.press("w")  # the picker says so before anything is chosen
            for _ in range(100):
                if app.screen.query("#held-by"):
                    break
                await pilot.pause(0.05)
            held = str(app.screen.query_one("#held-by").render())
            assert held.startswith("held by alice (db-pitr): change steps will be refused")
    finally:
        kubectl(emulator, "delete", "lease", LEASE, "-n", NS, "--ignore-not-found")
