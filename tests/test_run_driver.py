"""The run driver on its own: a wizard made for the test whose steps are plain async
generators, run against a real session log in tmp_path — auto-advance, retry, skip,
abort, dry run, resume, states, and the typed errors a run can raise."""

from __future__ import annotations

import asyncio

import pytest
from wizard_support import load_config, write_config

from actions.catalogue import UnknownWizard, WizardNotBuilt, runnable
from console.config import ConfigError
from console.errors import McpOpsError
from console.execution.confirmation import CommandLineConfirmer, ConfirmationAnswer
from console.execution.driver import (
    InputsRejected,
    NotConfirmed,
    RunDriver,
    RunState,
    SessionNotFound,
    StepEnded,
    StepStarting,
)
from console.execution.executor import StepStatus
from console.execution.inputs import IntInput
from console.execution.log_store import read_records, summarize, verify
from console.execution.model import Plan, Risk, Step, StepFailed, Wizard
from console.execution.session import ResumeError
from console.execution.session_log import SessionLog, SessionLogBusy

pytestmark = pytest.mark.timeout(30)


class Steps:
    """Builds steps that count their runs; ``fail`` makes the next N runs fail."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}
        self.fail: dict[str, int] = {}
        self.hang = asyncio.Event()  # a "hang" step waits on it (never set by the test)

    def step(self, step_id: str, risk: Risk = Risk.READ, *, inputs=(), applies=None,
             plan=None) -> Step:
        async def run(ctx):
            self.runs[step_id] = self.runs.get(step_id, 0) + 1
            yield f"{step_id} ran"
            if self.fail.get(step_id, 0) > 0:
                self.fail[step_id] -= 1
                raise StepFailed(f"{step_id} broke")
            if step_id == "hang":
                await self.hang.wait()

        return Step(step_id, f"Step {step_id}", "why", risk,
                    plan or (lambda ctx: Plan(f"do {step_id}", (Plan.command("echo", step_id),))),
                    run, inputs=inputs, applies=applies)


async def yes(request):
    return ConfirmationAnswer(True, request.env_name)


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path))


def start(config, wizard, events=None, **kw) -> RunDriver:
    kw.setdefault("confirmer", yes)
    return RunDriver.start(config=config, env_name="sandbox", wizard=wizard, read_only=False,
                           sink=events.append if events is not None else None, **kw)


def ends(driver: RunDriver) -> list[tuple[str, str]]:
    return [(r["data"]["id"], r["data"]["status"])
            for r in read_records(driver.log.path) if r["event"] == "step_end"]


def events_of(driver: RunDriver, event: str) -> list[dict]:
    return [r for r in read_records(driver.log.path) if r["event"] == event]


async def test_auto_advance_runs_reads_and_stops_before_a_step_that_needs_the_operator(config):
    s = Steps()
    wizard = Wizard("t", "T", "S", "W", steps=(
        s.step("look"), s.step("look-more"),
        s.step("change", Risk.CHANGE),
        s.step("ask", inputs=(IntInput("count", "Count", default=1),)),
        s.step("after"),
    ))
    seen: list = []
    driver = start(config, wizard, seen)
    assert driver.state is RunState.READY and driver.current == 0
    assert [driver.needs_operator(i) for i in range(5)] == [False, False, True, True, False]

    assert await driver.advance() is RunState.WAITING
    assert driver.current == 2 and s.runs == {"look": 1, "look-more": 1}
    assert await driver.advance() is RunState.WAITING  # the change step ran; inputs next
    assert driver.current == 3
    assert await driver.set_inputs({"count": "3"}) == []
    assert await driver.advance() is RunState.COMPLETED  # "after" is a read: ran on its own
    assert driver.current is None and s.runs["after"] == 1

    starting = [e.step for e in seen if isinstance(e, StepStarting)]
    ended = [(e.step, e.outcome.status) for e in seen if isinstance(e, StepEnded)]
    assert starting == [0, 1, 2, 3, 4] and ended == [(i, StepStatus.OK) for i in range(5)]
    assert await driver.finish() is None
    assert driver.finished is RunState.COMPLETED
    records = verify(driver.log.path)
    assert records.ok and records.records[-1]["data"]["status"] == "completed"


async def test_without_stopping_it_runs_to_the_end_and_skips_what_does_not_apply(config):
    s = Steps()
    wizard = Wizard("t", "T", "S", "W", steps=(
        s.step("look"), s.step("change", Risk.CHANGE),
        s.step("never", Risk.CHANGE, applies=lambda values: False), s.step("last"),
    ))
    driver = start(config, wizard)
    assert await driver.advance(stop_for_operator=False) is RunState.COMPLETED
    assert ends(driver) == [("look", "ok"), ("change", "ok"), ("never", "skipped"),
                            ("last", "ok")]
    assert "never" not in s.runs
    await driver.finish()


async def test_a_failed_step_stays_current_and_a_retry_runs_it_again(config):
    s = Steps()
    s.fail["flaky"] = 1
    wizard = Wizard("t", "T", "S", "W", steps=(s.step("look"), s.step("flaky"), s.step("end")))
    driver = start(config, wizard)
    assert await driver.advance() is RunState.FAILED
    assert driver.current == 1 and driver.last.status is StepStatus.FAILED
    assert driver.last.error == "flaky broke"
    assert await driver.advance() is RunState.COMPLETED  # the retry
    assert s.runs == {"look": 1, "flaky": 2, "end": 1}
    assert ends(driver) == [("look", "ok"), ("flaky", "failed"), ("flaky", "ok"), ("end", "ok")]
    await driver.finish()
    assert summarize(driver.log.path).status == "completed"


async def test_skip_logs_the_step_skipped_and_moves_on(config):
    s = Steps()
    s.fail["broken"] = 5
    wizard = Wizard("t", "T", "S", "W", steps=(s.step("broken"), s.step("next")))
    seen: list = []
    driver = start(config, wizard, seen)
    assert await driver.advance() is RunState.FAILED
    outcome = driver.skip()
    assert outcome.status is StepStatus.SKIPPED and outcome.ok
    assert driver.current == 1 and driver.state is RunState.WAITING
    assert isinstance(seen[-1], StepEnded) and seen[-1].outcome.status == "skipped"
    [skipped] = [r["data"] for r in events_of(driver, "step_end") if r["data"]["id"] == "broken"
                 and r["data"]["status"] == "skipped"]
    assert skipped["error"] == "skipped by the operator"
    assert await driver.advance() is RunState.COMPLETED
    assert driver.completed == {0, 1}
    assert s.runs["next"] == 1
    await driver.finish()
    with pytest.raises(RuntimeError):
        driver.skip()


async def test_abort_while_a_step_runs_logs_it_aborted_and_ends_the_session(config):
    s = Steps()
    wizard = Wizard("t", "T", "S", "W", steps=(s.step("hang"), s.step("never")))
    driver = start(config, wizard)
    task = asyncio.create_task(driver.advance())
    while s.runs.get("hang") != 1:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert driver.state is RunState.ABORTED and driver.current == 0
    await driver.abort()
    assert driver.finished is RunState.ABORTED
    assert ends(driver) == [("hang", "aborted")]
    summary = summarize(driver.log.path)
    assert summary.status == "aborted" and summary.resumable
    assert await driver.advance() is RunState.ABORTED  # a finished run runs nothing
    assert "never" not in s.runs


async def test_finishing_an_open_run_ends_it_aborted(config):
    s = Steps()
    driver = start(config, Wizard("t", "T", "S", "W", steps=(s.step("a", Risk.CHANGE),)))
    assert driver.state.open
    await driver.finish()
    assert events_of(driver, "session_end")[0]["data"]["status"] == "aborted"
    assert await driver.finish(RunState.COMPLETED) is None  # once only
    assert len(events_of(driver, "session_end")) == 1


async def test_dry_run_logs_every_plan_and_runs_nothing(config):
    s = Steps()

    def broken(ctx):
        raise ValueError("cannot plan")

    wizard = Wizard("t", "T", "S", "W", steps=(
        s.step("look"), s.step("change", Risk.CHANGE),
        s.step("not-here", applies=lambda values: False), s.step("unplannable", plan=broken),
    ))
    driver = start(config, wizard, dry_run=True)
    entries = driver.dry_run()
    assert [(e.index, e.applicable, e.plan is not None, e.error) for e in entries] == [
        (0, True, True, None), (1, True, True, None), (2, False, False, None),
        (3, True, False, "no plan: cannot plan")]
    assert driver.state is RunState.DRY_RUN_FAILED
    await driver.finish()
    assert s.runs == {}
    records = read_records(driver.log.path)
    assert not [r for r in records if r["event"] == "step_start"]
    plans = [r["data"] for r in records if r["event"] == "step_plan"]
    assert [p["id"] for p in plans] == ["look", "change"] and all(p["dry_run"] for p in plans)
    assert plans[0]["commands"] == ["echo look"]
    assert ends(driver) == [("unplannable", "failed")]
    assert records[-1]["data"]["status"] == "dry-run failed"
    with pytest.raises(ResumeError, match="finished|dry run"):
        await RunDriver.resume(driver.log.path, config=config, wizard=wizard, env_name=None,
                               confirmer=yes)


async def test_a_clean_dry_run_ends_dry_run(config):
    s = Steps()
    driver = start(config, Wizard("t", "T", "S", "W", steps=(s.step("look"),)), dry_run=True)
    driver.dry_run()
    assert driver.state is RunState.DRY_RUN
    await driver.finish()
    assert summarize(driver.log.path).status == "dry-run"


async def test_resume_does_not_run_completed_steps_again(config, tmp_path):
    s = Steps()
    s.fail["third"] = 1
    wizard = Wizard("t", "T", "S", "W", steps=(
        s.step("first"), s.step("second"), s.step("third"), s.step("fourth")))
    driver = start(config, wizard)
    assert await driver.advance() is RunState.FAILED
    await driver.finish()  # failed: resumable
    assert summarize(driver.log.path).status == "failed"

    # by id, as `mcp-ops run --resume ID` gives it
    again, problems = await RunDriver.resume(driver.log.id, config=config, wizard=wizard,
                                             env_name="sandbox", confirmer=yes)
    assert problems == [] and again.resumed
    assert again.completed == {0, 1} and again.current == 2 and again.state is RunState.READY
    assert await again.advance() is RunState.COMPLETED
    assert s.runs == {"first": 1, "second": 1, "third": 2, "fourth": 1}
    await again.finish()
    result = verify(driver.log.path)
    assert result.ok and result.records[-1]["data"]["status"] == "completed"
    starts = [r["data"]["id"] for r in result.records if r["event"] == "step_start"]
    assert starts == ["first", "second", "third", "third", "fourth"]


async def test_resume_errors_are_typed_with_a_title(config, tmp_path):
    s = Steps()
    wizard = Wizard("t", "T", "S", "W", steps=(s.step("first"), s.step("second")))
    with pytest.raises(SessionNotFound) as missing:
        await RunDriver.resume("no-such-session", config=config, wizard=wizard, env_name=None,
                               confirmer=yes)
    assert isinstance(missing.value, McpOpsError) and missing.value.title == "No such session"

    driver = start(config, wizard)
    # still open (its writer holds the lock): another process may not resume it
    with pytest.raises(SessionLogBusy) as busy:
        await RunDriver.resume(driver.log.path, config=config, wizard=wizard, env_name=None,
                               confirmer=yes)
    assert busy.value.title == "Session busy" and "still being written" in str(busy.value)
    assert await driver.advance(stop_for_operator=False) is RunState.COMPLETED
    await driver.finish()
    with pytest.raises(ResumeError) as finished:
        await RunDriver.resume(driver.log.path, config=config, wizard=wizard, env_name=None,
                               confirmer=yes)
    assert finished.value.title == "Cannot resume"


async def test_inputs_and_confirmations_are_refused_with_every_problem(config):
    s = Steps()
    wizard = Wizard("t", "T", "S", "W", steps=(
        s.step("ask", inputs=(IntInput("count", "Count", minimum=1, maximum=5, default=1),)),
        s.step("change", Risk.CHANGE), s.step("drop", Risk.DESTRUCTIVE)))
    driver = start(config, wizard, confirmer=CommandLineConfirmer(None))
    problems = await driver.set_inputs({"count": "9", "bogus": "1"})
    error = InputsRejected(problems)
    assert isinstance(error, McpOpsError) and error.title == "Invalid inputs"
    assert str(error).startswith("2 invalid input(s):\n  bogus: no such input")
    assert "count: 9 is out of range 1..5" in str(error)
    assert await driver.set_inputs({"count": "2"}) == []
    with pytest.raises(NotConfirmed) as refused:
        driver.require_confirmations(CommandLineConfirmer(None).problem)
    assert str(refused.value).splitlines() == [
        "2 step(s) need confirmation:",
        "  step 2 Step change: needs --confirm sandbox (yes/no, change)",
        "  step 3 Step drop: needs --confirm sandbox (yes/no, destructive)"]
    assert events_of(driver, "note")[-1]["data"]["text"] == \
        "refused: missing confirmation for steps 2, 3"
    driver.require_confirmations(CommandLineConfirmer("sandbox").problem)  # all confirmed
    await driver.finish(RunState.REFUSED)
    assert summarize(driver.log.path).status == "refused"


async def test_read_only_refuses_the_change_step_and_the_run_is_refused(config):
    s = Steps()
    wizard = Wizard("t", "T", "S", "W", steps=(s.step("look"), s.step("change", Risk.CHANGE)))
    driver = RunDriver.start(config=config, env_name="sandbox", wizard=wizard, read_only=True,
                             confirmer=yes)
    driver.require_confirmations(CommandLineConfirmer(None).problem)  # nothing to confirm
    assert await driver.advance(stop_for_operator=False) is RunState.REFUSED
    assert driver.last.status is StepStatus.REFUSED and driver.current == 1
    assert "change" not in s.runs
    await driver.finish()
    assert summarize(driver.log.path).status == "refused"


def test_states_keep_the_strings_written_in_logs():
    assert [s.value for s in StepStatus] == ["ok", "failed", "refused", "declined", "skipped",
                                             "aborted", "timed-out"]
    assert StepStatus("timed-out") is StepStatus.TIMED_OUT and StepStatus.OK == "ok"
    assert {s for s in StepStatus if s.done} == {StepStatus.OK, StepStatus.SKIPPED}
    assert RunState.WAITING == "waiting-for-input" and RunState.DRY_RUN_FAILED == "dry-run failed"
    assert {s for s in RunState if s.open} == {RunState.READY, RunState.RUNNING, RunState.WAITING}


def test_catalogue_and_config_errors_are_typed(tmp_path, log_review_planned):
    with pytest.raises(UnknownWizard) as unknown:
        runnable("no-such-wizard")
    assert isinstance(unknown.value, KeyError) and unknown.value.title == "Unknown wizard"
    assert str(unknown.value).startswith("no wizard 'no-such-wizard'; known: ")
    with pytest.raises(WizardNotBuilt, match="planned but not built"):
        runnable(log_review_planned)
    assert runnable("scaling").built
    assert issubclass(ConfigError, McpOpsError) and ConfigError.title == "Configuration error"


def test_a_log_written_before_the_enums_reads_the_same(tmp_path, fixed_operator):
    """Statuses as bare strings, as older versions wrote them: resume still counts them."""
    from console.execution.redaction import Redactor

    log = SessionLog.create(tmp_path, label="t", env="sandbox", operator=fixed_operator,
                            redactor=Redactor())
    log.append("session_start", {"wizard": "t"})
    log.append("step_end", {"step": 0, "status": "ok"})
    log.append("step_end", {"step": 1, "status": "timed-out"})
    log.close()
    summary = summarize(log.path)
    assert summary.completed_steps == (0,) and summary.resumable
    assert [StepStatus(r["data"]["status"]) for r in read_records(log.path)
            if r["event"] == "step_end"] == [StepStatus.OK, StepStatus.TIMED_OUT]
