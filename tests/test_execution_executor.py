"""The executor's order of things: refusal, plan, confirmation, grant, run, verify, end.

The steps here run real local programs through ``ctx.mutations.process`` (the same path as
the scaling wizard's helm step), so "did it run" is a file on disk, not a flag in a mock.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from waiting import process_gone
from wizard_support import load_config, write_config

from console.execution.confirmation import ConfirmationAnswer, ConfirmationRequest
from console.execution.executor import (
    ABORTED,
    DECLINED,
    FAILED,
    OK,
    TIMED_OUT,
    OutputEvent,
    ProgressEvent,
)
from console.execution.log_store import read_records, verify
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, Wizard
from console.execution.session import WizardRun


def touch_step(marker, risk=Risk.CHANGE, *, timeout=30.0, extra_code="",
               started: list | None = None) -> Step:
    """A step that writes ``marker`` with a real program, then prints what it did. The
    program's Process is appended to ``started``, so a test can check it has ended."""
    code = f"open({str(marker)!r}, 'w').write('done'); print('wrote marker'){extra_code}"

    async def run(ctx):
        yield Progress(0, 1, "writing")
        process = ctx.mutations.process([sys.executable, "-c", code])
        if started is not None:
            started.append(process)
        async for line in process:
            yield line.text
        if not process.result.ok:
            raise StepFailed(process.result.describe())
        yield Progress(1, 1, "writing")

    return Step("touch", "Write the marker", "why", risk,
                lambda ctx: Plan("write a marker file", (Plan.command("touch", marker),)), run,
                timeout=timeout)


class Answers:
    def __init__(self, *answers: ConfirmationAnswer):
        self.answers = list(answers)
        self.requests: list[ConfirmationRequest] = []

    async def __call__(self, request):
        self.requests.append(request)
        return self.answers.pop(0)


async def make_run(tmp_path, wizard, confirmer, *, protected=False, read_only=False, sink=None):
    config = load_config(write_config(tmp_path, protected=protected))
    run = WizardRun(config=config, env_name="sandbox", wizard=wizard, read_only=read_only,
                    confirmer=confirmer, sink=sink)
    run.start()
    return run


def events(run):
    return [r["event"] for r in read_records(run.log.path)]


async def test_read_step_needs_no_confirmation_and_change_step_yes_no(tmp_path):
    marker = tmp_path / "m"
    wizard = Wizard("t", "T", "S", "W", steps=(touch_step(marker),))
    answers = Answers(ConfirmationAnswer(True))
    run = await make_run(tmp_path, wizard, answers)
    outcome = await run.run_step(0)
    await run.finish("completed")
    assert outcome.status == OK and marker.read_text() == "done"
    assert answers.requests[0].kind == "yes/no"
    # the environment's lease is asked for before the confirmation; this config's
    # kubeconfig does not exist, so there is none to take: logged, and the step goes on
    # the health check made alongside the step lands whenever it is done: shown apart
    assert [e for e in events(run) if e != "health"] == [
        "session_start", "step_plan", "lease", "confirmation", "step_start", "output",
        "step_end", "session_end"]
    (health,) = [r["data"] for r in read_records(run.log.path) if r["event"] == "health"]
    assert health["step"] == 0 and health["components"]["pods"]["status"] == "UNREACHABLE"
    lease = next(r for r in read_records(run.log.path) if r["event"] == "lease")
    assert lease["data"]["event"] == "unavailable"
    assert verify(run.log.path).ok


async def test_declined_change_step_does_not_run(tmp_path):
    marker = tmp_path / "m"
    wizard = Wizard("t", "T", "S", "W", steps=(touch_step(marker),))
    run = await make_run(tmp_path, wizard, Answers(ConfirmationAnswer(False)))
    outcome = await run.run_step(0)
    await run.finish("refused")
    assert outcome.status == DECLINED and not marker.exists()
    confirmation = next(r for r in read_records(run.log.path) if r["event"] == "confirmation")
    assert confirmation["data"]["confirmed"] is False


async def test_destructive_in_protected_needs_the_name_typed(tmp_path):
    marker = tmp_path / "m"
    wizard = Wizard("t", "T", "S", "W", steps=(touch_step(marker, Risk.DESTRUCTIVE),))
    answers = Answers(ConfirmationAnswer(True, "yes"), ConfirmationAnswer(True, "sandbox"))
    run = await make_run(tmp_path, wizard, answers, protected=True)
    first = await run.run_step(0)
    assert first.status == DECLINED and "sandbox" in first.error and not marker.exists()
    second = await run.run_step(0)
    await run.finish("completed")
    assert second.status == OK and marker.exists()
    assert [r.kind for r in answers.requests] == ["typed", "typed"]
    typed = [r["data"]["typed"] for r in read_records(run.log.path) if r["event"] == "confirmation"]
    assert typed == ["yes", "sandbox"]


async def test_destructive_in_unprotected_is_yes_no(tmp_path):
    wizard = Wizard("t", "T", "S", "W", steps=(touch_step(tmp_path / "m", Risk.DESTRUCTIVE),))
    answers = Answers(ConfirmationAnswer(True))
    run = await make_run(tmp_path, wizard, answers)
    assert (await run.run_step(0)).status == OK
    await run.finish("completed")
    assert answers.requests[0].kind == "yes/no"


async def test_a_read_step_cannot_reach_mutations(tmp_path):
    marker = tmp_path / "m"
    wizard = Wizard("t", "T", "S", "W", steps=(touch_step(marker, Risk.READ),))
    run = await make_run(tmp_path, wizard, Answers())
    outcome = await run.run_step(0)
    await run.finish("failed")
    assert outcome.status == FAILED and "not permitted" in outcome.error
    assert not marker.exists()


async def test_timeout_stops_the_step_and_its_program(tmp_path):
    started: list = []
    wizard = Wizard("t", "T", "S", "W", steps=(
        touch_step(tmp_path / "m", timeout=1.0, extra_code="; import time; time.sleep(30)",
                   started=started),))
    run = await make_run(tmp_path, wizard, Answers(ConfirmationAnswer(True)))
    loop = asyncio.get_running_loop()
    began = loop.time()
    outcome = await run.run_step(0)
    print(f"step timed out and its program was stopped after {loop.time() - began:.2f} s")
    await run.finish("failed")
    assert outcome.status == TIMED_OUT
    (process,) = started
    # stopped before run_step returned, not left sleeping its 30 s
    assert process.pid is not None and process_gone(process.pid)
    assert process.result is not None and process.result.signal is not None
    end = [r for r in read_records(run.log.path) if r["event"] == "step_end"][-1]
    assert end["data"]["status"] == TIMED_OUT


@pytest.mark.timeout(30)
async def test_cancellation_is_logged_as_aborted(tmp_path):
    seen = []
    wizard = Wizard("t", "T", "S", "W", steps=(
        touch_step(tmp_path / "m", extra_code="; import time; time.sleep(30)"),))
    run = await make_run(tmp_path, wizard, Answers(ConfirmationAnswer(True)), sink=seen.append)
    task = asyncio.create_task(run.run_step(0))
    while not any(isinstance(e, OutputEvent) for e in seen):
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await run.finish(ABORTED)
    records = read_records(run.log.path)
    assert [r["data"]["status"] for r in records if r["event"] == "step_end"] == [ABORTED]
    assert records[-1]["data"]["status"] == ABORTED
    assert any(isinstance(e, ProgressEvent) for e in seen)


async def test_secrets_are_redacted_in_log_and_stream(tmp_path, monkeypatch):
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", "pg-super-secret-77")
    (tmp_path / "pw").write_text("pg-super-secret-77")  # the program learns it elsewhere
    seen = []
    wizard = Wizard("t", "T", "S", "W", steps=(touch_step(
        tmp_path / "m", extra_code="; import os; print('pw', open(" + repr(str(tmp_path / "pw"))
        + ").read()); print('env', repr(os.environ.get('WZ_TEST_PG_PASSWORD')))"
        "; print('url postgresql://u:other-pass@h/db')"),))
    run = await make_run(tmp_path, wizard, Answers(ConfirmationAnswer(True)), sink=seen.append)
    assert (await run.run_step(0)).status == OK
    await run.finish("completed")
    shown = [e.text for e in seen if isinstance(e, OutputEvent)]
    assert "pw ***" in shown and "url postgresql://u:***@h/db" in shown
    assert "env None" in shown  # the config names the variable: the program is not given it
    text = run.log.path.read_text()
    assert "pg-super-secret-77" not in text and "other-pass" not in text
