"""``mcp-ops run --dry-run`` when a step's plan cannot be made: reported like the executor
reports it, the other plans still shown, the session record ended and not resumable."""

from __future__ import annotations

import pytest
from wizard_support import load_config, write_config

from console.commands.run import EXIT_FAILED, _dry_run
from console.execution.confirmation import CommandLineConfirmer
from console.execution.driver import RunDriver
from console.execution.log_store import read_records, verify
from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.session import ResumeError, WizardRun

SECRET = "pg-Secret-5521"


def step(step_id: str, risk: Risk, plan) -> Step:
    async def run(ctx):
        raise AssertionError("a dry run runs nothing")
        yield ""  # pragma: no cover - makes this an async generator

    return Step(step_id, f"Step {step_id}", "why", risk, plan, run)


def broken_plan(ctx) -> Plan:
    raise ValueError(f"cannot read the release (password {SECRET})")


WIZARD = Wizard("t", "T", "S", "W", steps=(
    step("look", Risk.READ, lambda ctx: Plan("look around", (Plan.command("kubectl", "get", "pods"),))),
    step("change", Risk.CHANGE, broken_plan),
    step("after", Risk.CHANGE, lambda ctx: Plan("scale up", (Plan.command("kubectl", "scale"),))),
))


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", SECRET)
    config = load_config(write_config(tmp_path))
    wizard_run = WizardRun(config=config, env_name="sandbox", wizard=WIZARD, read_only=False,
                           confirmer=CommandLineConfirmer(None))
    wizard_run.start(dry_run=True)
    return wizard_run


async def test_a_failing_plan_is_reported_and_the_session_ended(run, capsys):
    code = await _dry_run(RunDriver(run))
    out, err = capsys.readouterr()
    assert code == EXIT_FAILED
    assert "[2/3] Step change (change)\n    -> failed: no plan: cannot read the release" in out
    assert "$ kubectl scale" in out  # the plans after it are still shown
    assert SECRET not in out + err and "no plan for step(s) 2" in err
    assert verify(run.log.path).ok
    records = read_records(run.log.path)
    [failed] = [r for r in records if r["event"] == "step_end"]
    assert failed["data"]["step"] == 1 and failed["data"]["status"] == "failed"
    assert SECRET not in failed["data"]["error"]
    assert records[-1]["event"] == "session_end"
    assert records[-1]["data"]["status"] == "dry-run failed"


async def test_a_dry_run_session_cannot_be_resumed(run, tmp_path):
    await _dry_run(RunDriver(run))
    with pytest.raises(ResumeError, match="dry run"):
        await WizardRun.resume(run.log.path, config=run.config, wizard=WIZARD,
                               env_name="sandbox", answers={})


async def test_confirmation_requests_survive_a_failing_plan(tmp_path, monkeypatch):
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", SECRET)
    config = load_config(write_config(tmp_path))
    wizard_run = WizardRun(config=config, env_name="sandbox", wizard=WIZARD, read_only=False,
                           confirmer=CommandLineConfirmer(None))
    wizard_run.start()
    try:
        requests = wizard_run.confirmation_requests()
    finally:
        await wizard_run.finish("refused")
    assert [r.step_index for r in requests] == [1, 2]
    assert requests[0].plan.summary.startswith("no plan: cannot read the release")
    assert SECRET not in requests[0].plan.summary
