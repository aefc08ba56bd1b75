"""Read-only credentials (issue 19, part 7), against the real systems.

The Kubernetes emulator's read-only token (RBAC: get/list/watch), a PostgreSQL login role
created here that may only SELECT (its own database; dropped afterwards) and a Redis ACL
user limited to reading commands (deleted afterwards). With all three:

- the credential probe says every system is read-only;
- the console's header shows READ-ONLY and ``creds:ro`` and the console is in read-only
  mode, so the wizard picker offers change wizards for reading only;
- a wizard's change step is refused before its ``run`` is entered (no client call of it),
  in process and through ``mcp-ops run``, and the refusal is in the session log;
- with writable credentials the same step runs (the refusal is the credentials').
"""

from __future__ import annotations

import subprocess
import time

import pytest
import servers
from health_support import read_only_redis_user, select_only_role
from wizard_support import PYTHON, ROOT, EmulatorProcess, cli_env, load_config, write_config

from console.execution.confirmation import ConfirmationAnswer
from console.execution.log_store import list_sessions, verify
from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.probe import probe_environment
from console.execution.session import WizardRun
from console.identity import Operator

pytestmark = pytest.mark.timeout(120)

@pytest.fixture
async def pg_reader():
    """A database of our own with one table, and a login role that may only SELECT it."""
    async with select_only_role("rel_ro") as (dsn, _role):
        yield dsn


@pytest.fixture
async def redis_reader():
    async with read_only_redis_user("rel_ro_reader") as name:
        yield f"redis://{name}@{servers.REDIS_HOSTPORT}/0"


@pytest.fixture
def emulator(tmp_path):
    with EmulatorProcess(tmp_path / "emu") as emu:
        yield emu


@pytest.fixture
def read_only_config(tmp_path, emulator, pg_reader, redis_reader):
    return write_config(tmp_path, kubeconfig=str(emulator.readonly_kubeconfig),
                        pg_dsn=pg_reader, redis_url=redis_reader)


def change_wizard(calls: list[str]) -> Wizard:
    async def look(ctx):
        yield "looked"

    async def change(ctx):
        calls.append("change")  # the step's body: any client call of it comes after this
        yield "changed"

    return Wizard("ro-cred-test", "Read-only credentials test", "S", "W", steps=(
        Step("look", "Look", "why", Risk.READ, lambda ctx: Plan("look", ()), look),
        Step("change", "Change", "why", Risk.CHANGE, lambda ctx: Plan("change", ()), change)))


async def yes(request):
    return ConfirmationAnswer(True, None)


async def drive(config_path, calls):
    config = load_config(config_path)
    run = WizardRun(config=config, env_name="sandbox", wizard=change_wizard(calls),
                    read_only=False, confirmer=yes)
    run.start()
    assert await run.resolve_inputs({}) == []
    outcomes = [await run.run_step(0), await run.run_step(1)]
    await run.finish("completed" if all(o.ok for o in outcomes) else "refused")
    return run, outcomes


async def test_the_probe_finds_every_system_read_only(read_only_config):
    env = load_config(read_only_config).environments["sandbox"]
    report = await probe_environment(env, timeout=10)
    assert [c.can_write for c in report.capabilities] == [False, False, False], report.lines()
    assert report.credentials_can_write is False
    refusal = report.refusal()
    assert refusal and "kubernetes: read-only" in refusal and "postgres: read-only" in refusal
    assert "redis: read-only" in refusal


async def test_a_change_step_is_refused_before_it_runs(read_only_config):
    calls: list[str] = []
    run, (looked, changed) = await drive(read_only_config, calls)
    assert looked.ok
    assert changed.status == "refused" and "read-only credentials" in (changed.error or "")
    assert calls == []  # the step's body was never entered
    check = verify(run.log.path)
    assert check.ok, check.describe()
    events = [(r["event"], r["data"].get("id")) for r in check.records]
    assert ("refusal", "change") in events and ("step_start", "change") not in events
    [refusal] = [r["data"]["reason"] for r in check.records if r["event"] == "refusal"]
    assert all(f"{system}: read-only" in refusal for system in ("kubernetes", "postgres", "redis"))


async def test_writable_credentials_run_the_same_step(tmp_path, emulator):
    calls: list[str] = []
    config = write_config(tmp_path, kubeconfig=str(emulator.kubeconfig))
    _, (looked, changed) = await drive(config, calls)
    assert looked.ok and changed.ok, changed
    assert calls == ["change"]


async def test_one_writable_system_is_not_read_only(tmp_path, emulator, redis_reader):
    """Kubernetes and Redis read-only, PostgreSQL superuser: the step may write to it."""
    calls: list[str] = []
    config = write_config(tmp_path, kubeconfig=str(emulator.readonly_kubeconfig),
                          redis_url=redis_reader)
    _, (_, changed) = await drive(config, calls)
    assert changed.ok and calls == ["change"]


def test_mcp_ops_run_refuses_the_first_change_step(tmp_path, read_only_config):
    result = subprocess.run([PYTHON, "-m", "console", "run", "scaling", "--env", "sandbox",
                             "--set", "replicas=7", "--confirm", "sandbox",
                             "--config", str(read_only_config)],
                            cwd=ROOT, env=cli_env(tmp_path), capture_output=True, text=True,
                            timeout=90)
    assert result.returncode != 0, result.stdout
    assert "read-only credentials" in result.stdout + result.stderr, result.stdout
    [session] = list_sessions(tmp_path / "sessions")
    check = verify(session.path)
    assert check.ok, check.describe()
    events = [(r["event"], r["data"].get("id")) for r in check.records]
    assert ("refusal", "hpa-settings") in events
    assert not any(e == "step_start" and i != "current-state" for e, i in events), events


async def test_the_console_header_says_read_only_and_offers_no_change(read_only_config):
    from actions.catalogue import get
    from screens.app import McpOpsApp
    from screens.header import StatusHeader
    from screens.wizard_picker import describe

    config = load_config(read_only_config)
    app = McpOpsApp(config, "sandbox", operator=Operator("oncall", "ops-1"))
    async with app.run_test(size=(160, 40)) as pilot:
        header = app.query_one(StatusHeader)
        deadline = time.monotonic() + 30
        while header.credentials_can_write is None and time.monotonic() < deadline:
            await pilot.pause(0.1)
        assert header.credentials_can_write is False
        await pilot.pause()
        line = str(header.render())
        assert "READ-ONLY" in line and "creds:ro" in line, line
        assert app.read_only
        assert "read-only: reads only" in str(describe(get("scaling"), app.read_only))
