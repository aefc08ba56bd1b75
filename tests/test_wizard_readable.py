"""Everything the wizard runner says is readable at 80x24, and its keys mean what the
footer says.

A wizard made for the test: a read step whose output has lines longer than the output
pane (the figures at their end, as the scaling wizard's are), then a change step with an
input. Its steps run through the real driver and executor; nothing outside the test is
touched (the change step only reports what it was given).
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, ProgressBar
from wizard_support import load_config, write_config

from console.execution import session_log
from console.execution.inputs import IntInput
from console.execution.log_store import list_sessions, read_records
from console.execution.model import Plan, Risk, Step, Wizard
from screens.app import McpOpsApp
from screens.confirm_modal import ConfirmModal
from screens.wizard_runner import WizardRunner
from screens.wrap_log import WrapLog

pytestmark = pytest.mark.timeout(60)

HPA_LINE = ("hpa/mcp-server-hpa: min 6, max 20, cpu target 70%, current 23%, "
            "desired 6 replicas, last scaled 2026-11-29T02:41:07Z")
DEPLOYMENT_LINE = ("deployment/mcp-server-production: 6/6 ready, 6 updated, 6 available, "
                   "image ghcr.io/pratiko/mcp-server:1.42.0")
DUMP_LINE = ("latest dump production/postgres/pratiko_mcp_production_20261129T0300.dump "
             "412.7 MiB, 3 h old")


def look_step() -> Step:
    async def run(ctx):
        for line in (DEPLOYMENT_LINE, HPA_LINE, DUMP_LINE):
            yield line

    return Step("look", "Current state of the deployment and its autoscaler",
                "Look before changing anything.", Risk.READ,
                lambda ctx: Plan("Show the deployment, its HPA and the latest dump",
                                 (Plan.command("kubectl", "get", "deployment,hpa"),)), run)


def scale_step() -> Step:
    async def run(ctx):
        yield f"would scale to {ctx.values['replicas']}"

    return Step("scale", "Scale the deployment", "Set the replica count.", Risk.CHANGE,
                lambda ctx: Plan(f"Scale to {ctx.values['replicas']}",
                                 (Plan.command("kubectl", "scale",
                                               f"--replicas={ctx.values['replicas']}"),)),
                run, inputs=(IntInput("replicas", "Replicas", minimum=1, maximum=20,
                                      default=6),))


READ_THEN_CHANGE = Wizard("readable", "Readable wizard", "Test › Readable", "in tests",
                          steps=(look_step(), scale_step()))


async def wait_for(pilot, condition, what: str, timeout: float = 15.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path))


@pytest.fixture
def fixed_session_id(monkeypatch):
    """Session ids carry the time and a random suffix; a snapshot needs the same one."""
    monkeypatch.setattr(session_log, "new_session_id", lambda label: f"20261129-030000-{label}")


def runner_for(config, operator, wizard=READ_THEN_CHANGE, read_only=False) -> WizardRunner:
    return WizardRunner(config=config, env_name="sandbox", wizard=wizard, read_only=read_only,
                        operator=operator)


async def past_the_read_step(pilot, runner: WizardRunner) -> None:
    """Run step 1 (r) and wait until step 2 and its form are shown."""
    await wait_for(pilot, lambda: runner.driver is not None and not runner.busy, "the start")
    await pilot.press("r")
    await wait_for(pilot, lambda: runner.index == 1 and not runner.busy
                   and runner.form is not None, "step 2 and its form")
    await pilot.pause()


def output_rows(runner: WizardRunner) -> list[str]:
    return runner.query_one("#output", WrapLog).rows()


def unwrapped(rows: list[str]) -> str:
    return " ".join(row.strip() for row in rows)


def squeezed(text: str) -> str:
    """Without whitespace: a word cut at a row's end reads whole again."""
    return "".join(text.split())


# ---- wrapping ---------------------------------------------------------------------------
def test_runner_mid_wizard_wraps_long_output_80x24(snap_compare, config, fixed_operator,
                                                   fixed_session_id):
    """Step 1's long lines wrapped whole in the output pane; step 2's form shown but not
    focused; the footer offers r (and tab into the form); the bar is at 1 of 2 steps."""

    async def run_before(pilot):
        runner = runner_for(config, fixed_operator)
        await pilot.app.push_screen(runner)
        await past_the_read_step(pilot, runner)

    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


async def test_long_output_lines_wrap_whole_and_rewrap_after_a_resize(config, fixed_operator):
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = runner_for(config, fixed_operator)
        await app.push_screen(runner)
        await past_the_read_step(pilot, runner)
        log = runner.query_one("#output", WrapLog)
        for size in ((80, 24), (140, 30), (60, 20), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            width = log.scrollable_content_region.width
            rows = output_rows(runner)
            assert rows and all(len(row) <= width for row in rows), (size, width, rows)
            text = squeezed("".join(rows))
            for line in (DEPLOYMENT_LINE, HPA_LINE, DUMP_LINE):
                assert squeezed(line) in text, (size, line, rows)
            if size[0] < 140:  # the pane is narrower than the lines: they did wrap
                assert len(rows) > log.line_count
        assert log.lines[-3:] == [DEPLOYMENT_LINE, HPA_LINE, DUMP_LINE]  # as written


async def test_step_titles_are_whole_at_80_columns(config, fixed_operator):
    from actions.catalogue import get

    for wizard_id in ("scaling", "db-pitr", "morning-health-check"):
        wizard = get(wizard_id)
        app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
        async with app.run_test(size=(80, 24)) as pilot:
            runner = runner_for(config, fixed_operator, wizard=wizard, read_only=True)
            await app.push_screen(runner)
            await pilot.pause()
            steps = runner.query_one("#steps")
            assert steps.size.width <= 32  # 40% of the screen: the plan keeps its room
            rows = steps.step_rows(steps.content_size.width)
            assert all(len(row.plain) <= steps.content_size.width for _, row in rows)
            for index, step in enumerate(wizard.steps):
                text = unwrapped([row.plain for i, row in rows if i == index])
                assert text.endswith(f"{index + 1}. {step.title}"), (text, step.title)
                assert "…" not in text


async def test_a_step_list_taller_than_the_screen_keeps_the_current_step_in_view(
        config, fixed_operator):
    steps = tuple(Step(f"s{i}", f"Step number {i} with a title long enough to wrap", "x",
                       Risk.READ, lambda ctx: Plan("p"), look_step().run) for i in range(30))
    wizard = Wizard("tall", "Tall", "Test", "in tests", steps=steps)
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = runner_for(config, fixed_operator, wizard=wizard)
        await app.push_screen(runner)
        await pilot.pause()
        step_list = runner.query_one("#steps")
        height = step_list.content_size.height
        for current, above, below in ((0, False, True), (15, True, True), (29, True, False)):
            step_list.set_current(current)
            await pilot.pause()
            shown = str(step_list.render()).splitlines()
            assert len(shown) == height
            assert shown[0].strip().startswith("↑") is above
            assert shown[-1].strip().startswith("↓") is below
            assert (f"{current + 1}. Step number {current} with a title long enough to wrap"
                    in unwrapped(shown))


# ---- keys mean what the footer says -------------------------------------------------------
async def test_r_twice_across_a_read_to_change_step_types_nothing(config, tmp_path,
                                                                  fixed_operator):
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = runner_for(config, fixed_operator)
        await app.push_screen(runner)
        await past_the_read_step(pilot, runner)
        field = runner.query_one("#input-replicas", Input)
        assert not isinstance(app.focused, Input)  # the form is shown, not entered
        assert "r" in runner.active_bindings and "tab" in runner.active_bindings

        await pilot.press("r")  # the second r: runs step 2 (its confirmation)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        assert field.value == "6"
        await pilot.press("n")
        await wait_for(pilot, lambda: runner.query_one("#steps").states[1] == "declined"
                       and not runner.busy, "the decline")
        assert field.value == "6"

        # into the form only when asked: there r is typed, and the footer no longer offers it
        await pilot.press("tab")
        assert app.focused is field
        assert "r" not in runner.active_bindings and "s" not in runner.active_bindings
        await pilot.press("end", "backspace", "8")
        assert field.value == "8"
        await pilot.press("escape")  # leaves the field, the wizard stays
        assert app.focused is None and app.screen is runner
        assert "r" in runner.active_bindings
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmModal), "the confirmation")
        await pilot.press("y")
        await wait_for(pilot, lambda: runner.finished == "completed", "the end")
    (session,) = list_sessions(tmp_path / "sessions")
    inputs = [r["data"]["values"] for r in read_records(session.path) if r["event"] == "inputs"]
    assert str(inputs[-1]["replicas"]) == "8"  # typed after tab; never an "r"


async def test_r_pressed_twice_at_once_types_nothing(config, fixed_operator):
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = runner_for(config, fixed_operator)
        await app.push_screen(runner)
        await wait_for(pilot, lambda: runner.driver is not None and not runner.busy, "start")
        await pilot.press("r", "r")
        await wait_for(pilot, lambda: runner.index == 1 and runner.form is not None
                       and (not runner.busy or isinstance(app.screen, ConfirmModal)),
                       "step 2")
        if isinstance(app.screen, ConfirmModal):  # the second r came after step 2 showed
            await pilot.press("n")
        await pilot.pause()
        assert runner.query_one("#input-replicas", Input).value == "6"


# ---- progress ------------------------------------------------------------------------------
@pytest.mark.parametrize("ending, done", [("skip", 2), ("abort", 1)])
async def test_a_finished_wizard_shows_steps_done_of_steps_to_run(config, fixed_operator,
                                                                  ending, done):
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        runner = runner_for(config, fixed_operator)
        await app.push_screen(runner)
        bar = runner.query_one("#progress", ProgressBar)
        assert (bar.total, bar.progress) == (2, 0)
        await past_the_read_step(pilot, runner)
        assert (bar.total, bar.progress) == (2, 1)
        await pilot.press("s" if ending == "skip" else "a")
        await wait_for(pilot, lambda: runner.finished is not None, "the end")
        await pilot.pause()
        assert (bar.total, bar.progress) == (2, done)  # a real fraction, never "--%"
        assert bar.percentage == done / 2
        assert "r" not in runner.active_bindings  # nothing left to run


async def test_confirm_modal_scrolls_a_long_plan_and_wraps_its_prompt(config, fixed_operator):
    from textual.containers import VerticalScroll

    from console.execution.confirmation import ConfirmationRequest

    manifest = "\n".join(f"  line-{i}: value-{i}" for i in range(40))
    request = ConfirmationRequest(2, "2. Create the recovery instance with a long title",
                                  Risk.DESTRUCTIVE, "sandbox", True,
                                  Plan("Create the recovery instance",
                                       (f"kubectl apply -f - <<EOF\n{manifest}\nEOF",)))
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        modal = ConfirmModal(request)
        app.push_screen(modal)
        await pilot.pause()
        await pilot.pause()
        plan = modal.query_one("#plan", VerticalScroll)
        assert plan.max_scroll_y > 0
        assert "pagedown" in modal.active_bindings  # offered: the plan does not fit
        await pilot.press("pagedown")  # focus is in the typed field: still scrolls
        assert plan.scroll_y > 0 and isinstance(app.focused, Input)
        (prompt,) = [label for label in modal.query("Label")
                     if "to go on" in str(label.render())]
        assert len(request.prompt()) > prompt.size.width  # too long for a row: it wraps
        assert prompt.size.height >= 2 and prompt.region.right <= 80
