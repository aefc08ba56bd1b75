"""The wizard screens at 80x24, driven with Textual's Pilot.

The runner test uses a two-step wizard made for the test whose steps run real programs
through the executor (so confirmations and aborts act on real processes), in a protected
environment so that step 1 (destructive) needs the environment's name typed.
"""

from __future__ import annotations

import sys

import pytest
from textual.widgets import Input, Log, OptionList, Static
from wizard_support import load_config, write_config

from console.execution.inputs import IntInput
from console.execution.log_store import list_sessions, read_records, verify
from console.execution.model import Plan, Risk, Step, StepFailed, Wizard
from console.execution.redaction import Redactor
from console.execution.session_log import SessionLog
from screens.app import McpOpsApp
from screens.confirm_modal import ConfirmModal
from screens.session_log_view import SessionLogView
from screens.wizard_picker import WizardPicker
from screens.wizard_runner import WizardRunner

pytestmark = pytest.mark.timeout(60)


def program_step(step_id, title, risk, code, inputs=()):
    async def run(ctx):
        argv = [sys.executable, "-c", code.format(**ctx.values)]
        process = ctx.mutations.process(argv)
        async for line in process:
            yield line.text
        if not process.result.ok:
            raise StepFailed(process.result.describe())

    return Step(step_id, title, "because the test says so", risk,
                lambda ctx: Plan(f"{title}", (Plan.command("python", "-c", "..."),)), run,
                inputs=inputs)


TWO_STEPS = Wizard("pilot-test", "Two steps", "Test › Pilot", "in tests", steps=(
    program_step("first", "Set the replicas", Risk.DESTRUCTIVE, "print('replicas={replicas}')",
                 inputs=(IntInput("replicas", "Replicas", minimum=1, maximum=10, default=2),)),
    program_step("second", "Slow change", Risk.CHANGE,
                 "import time; print('started', flush=True); time.sleep(30)"),
))


async def wait_for(pilot, condition, what: str, timeout: float = 15.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def output_lines(screen) -> list[str]:
    return list(screen.query_one("#output", Log).lines)


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path, protected=True))


async def test_runner_validation_error_typed_confirmation_and_abort(config, tmp_path,
                                                                   fixed_operator):
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = WizardRunner(config=config, env_name="sandbox", wizard=TWO_STEPS,
                              read_only=False, operator=fixed_operator)
        await app.push_screen(runner)
        await wait_for(pilot, lambda: runner.form is not None, "the input form")
        field = runner.query_one("#input-replicas", Input)
        assert field.value == "2"  # the default

        # 1. a validation error, shown inline; nothing runs
        field.value = "abc"
        field.focus()
        await pilot.press("enter")
        error = runner.query_one("#error-replicas", Static)
        await wait_for(pilot, lambda: "not a whole number" in str(error.render()), "inline error")
        assert field.has_class("-invalid")

        # 2. a good answer, then the typed confirmation (a wrong name first)
        field.value = "3"
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        modal = app.screen
        assert modal.request.kind == "typed"
        await pilot.press(*"prod", "enter")
        assert isinstance(app.screen, ConfirmModal)  # the wrong name does not confirm
        modal.query_one("#typed", Input).value = ""
        await pilot.press(*"sandbox", "enter")
        await wait_for(pilot, lambda: "replicas=3" in output_lines(runner), "step 1 output")

        # 3. step 2: yes/no confirmation, then abort while its program runs
        await wait_for(pilot, lambda: runner.index == 1 and not runner.busy, "step 2 shown")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "yes/no modal")
        assert app.screen.request.kind == "yes/no"
        await pilot.press("y")  # keyboard only, as over SSH
        await wait_for(pilot, lambda: "started" in output_lines(runner), "step 2 running")
        await pilot.press("a")
        await wait_for(pilot, lambda: runner.finished == "aborted", "the abort")
        assert runner.query_one("#steps").states == ["ok", "aborted"]

    (session,) = list_sessions(tmp_path / "sessions")
    records = read_records(session.path)
    rejected = [r for r in records if r["event"] == "input_rejected"]
    assert rejected and rejected[0]["data"]["input"] == "replicas"
    typed = [r["data"] for r in records if r["event"] == "confirmation"]
    assert typed[0] == {"step": 0, "kind": "typed", "confirmed": True, "typed": "sandbox",
                        "reason": ""}
    assert typed[1]["kind"] == "yes/no" and typed[1]["confirmed"]
    ends = [r["data"]["status"] for r in records if r["event"] == "step_end"]
    assert ends == ["ok", "aborted"]
    assert records[-1]["event"] == "session_end" and records[-1]["data"]["status"] == "aborted"
    assert verify(session.path).ok
    print(f"pilot run logged {len(records)} records: input_rejected, typed confirmation, abort")


async def test_picker_filters_and_planned_entries_do_not_start(config, fixed_operator,
                                                               log_review_planned):
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("w")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardPicker), "the picker")
        options = app.screen.query_one("#wizards", OptionList)
        assert options.option_count == 22
        await pilot.press(*"scal")
        assert [options.get_option_at_index(i).id for i in range(options.option_count)] == ["scaling"]
        app.screen.query_one("#filter", Input).value = "daily log review"
        await pilot.pause()
        await pilot.press("enter")  # planned: a notification, the picker stays
        assert isinstance(app.screen, WizardPicker)
        app.screen.query_one("#filter", Input).value = "morning"
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardRunner), "the runner")
        assert app.screen.wizard.id == "morning-health-check"


async def test_read_only_runner_marks_change_steps(config, tmp_path, fixed_operator):
    app = McpOpsApp(config, "sandbox", read_only=True, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = WizardRunner(config=config, env_name="sandbox", wizard=TWO_STEPS,
                              read_only=True, operator=fixed_operator)
        await app.push_screen(runner)
        await wait_for(pilot, lambda: runner.form is not None, "the form")
        runner.query_one("#input-replicas", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: runner.query_one("#steps").states[0] == "refused",
                       "the refusal")
        assert not isinstance(app.screen, ConfirmModal)  # refused before any confirmation
    (session,) = list_sessions(tmp_path / "sessions")
    assert [r["event"] for r in read_records(session.path)].count("refusal") == 1


async def test_session_log_viewer_lists_verifies_and_offers_resume(config, tmp_path,
                                                                  fixed_operator):
    directory = tmp_path / "sessions"
    log = SessionLog.create(directory, label="scaling", env="sandbox", operator=fixed_operator,
                            redactor=Redactor())
    log.append("session_start", {"wizard": "scaling", "read_only": False}, sync=True)
    log.append("step_end", {"step": 0, "status": "ok", "duration": 0.1}, sync=True)
    log.close()  # no session_end: interrupted
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, SessionLogView), "the viewer")
        view = app.screen
        await wait_for(pilot, lambda: view.listed, "the listing (verified off the UI thread)")
        assert view.sessions[0].resumable
        await pilot.press("v")
        verdict = view.query_one("#verdict", Static)
        await wait_for(pilot, lambda: "records" in str(verdict.render()), "the verification")
        assert "OK: 2 records" in str(verdict.render())
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, WizardRunner), "resumed runner")
        runner = app.screen
        await wait_for(pilot, lambda: runner.run is not None and runner.run.resumed, "resume")
        assert runner.index == 1 and runner.query_one("#steps").states[0] == "ok"


async def test_a_secret_in_a_plan_never_reaches_the_runner_or_its_modal(tmp_path, monkeypatch,
                                                                       fixed_operator):
    secret = "pl4n-S3cret-Value"
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", secret)  # a configured secret variable
    config = load_config(write_config(tmp_path))

    def plan(ctx):
        return Plan(f"connect with password {secret}, token Bearer abcdef0123456789",
                    (Plan.command("psql", f"postgresql://app:{secret}@db:5432/app"),))

    async def run(ctx):
        yield "nothing to do"

    wizard = Wizard("plan-secret", "Plan secret", "Test", "in tests", steps=(
        Step("connect", "Connect", "a plan that names a secret", Risk.CHANGE, plan, run),))
    app = McpOpsApp(config, "sandbox", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = WizardRunner(config=config, env_name="sandbox", wizard=wizard,
                              read_only=False, operator=fixed_operator)
        await app.push_screen(runner)
        shown = runner.query_one("#plan", Static)
        await wait_for(pilot, lambda: "connect with password" in str(shown.render()), "plan")
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        modal_text = "\n".join(str(w.render()) for w in app.screen.query(Static))
        runner_text = str(shown.render())
        await pilot.press("y")
        await wait_for(pilot, lambda: "nothing to do" in output_lines(runner), "the output")
    for text in (runner_text, modal_text):
        assert secret not in text and "abcdef0123456789" not in text
        assert "password ***" in text and "postgresql://app:***@db:5432/app" in text
