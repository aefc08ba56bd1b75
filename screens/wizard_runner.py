"""The wizard runner: steps with their state, plan -> inputs -> confirm -> stream -> result.

The screen drives a :class:`console.execution.driver.RunDriver` — the same driver
``mcp-ops run`` uses — so the console and the command line order, skip, retry and log
steps identically. Keys:
Enter in a field (or ``r``) runs the current step (or retries a failed one), ``s`` skips
it, ``a`` / ``ctrl+c`` aborts (cancelling a running step cleanly), ``escape`` closes when
the run is over. Read steps without inputs that follow a finished step run on their own;
the runner stops before anything that needs an answer or a confirmation, and after any
failure (the driver's ``stop_for_operator``). The output pane keeps the last
``ui.output_line_cap`` lines. A worker that fails (a session log that another process is
writing, on resume) is shown by the App's handler; escape then closes the screen.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Log, ProgressBar, Static

from console.execution.driver import RunDriver, RunState, StepEnded, StepStarting
from console.execution.executor import (
    OutputEvent,
    ProgressEvent,
    StateEvent,
    StepOutcome,
    StepPhase,
    StepStatus,
)
from console.execution.model import Risk, Wizard
from console.execution.session import WizardRun

from .confirm_modal import ConfirmModal
from .wizard_widgets import InputForm, StepList, render_plan
from .worker_errors import ForwardWorkerErrors

FAILURE = {StepStatus.FAILED: "failed", StepStatus.TIMED_OUT: "timed out",
           StepStatus.REFUSED: "was refused", StepStatus.DECLINED: "was not confirmed"}


class WizardRunner(ForwardWorkerErrors, Screen[None]):
    DEFAULT_CSS = """
    WizardRunner #title { height: 1; background: $panel; }
    WizardRunner #body { height: 1fr; }
    WizardRunner #right { width: 1fr; padding: 0 0 0 1; }
    WizardRunner #top { height: auto; max-height: 50%; }
    WizardRunner #plan { height: auto; }
    WizardRunner #output { height: 1fr; min-height: 3; border-top: solid $panel-lighten-2; }
    WizardRunner ProgressBar { height: 1; }
    WizardRunner #status { height: 1; background: $boost; }
    """
    BINDINGS = [
        Binding("r", "run_step", "Run/Retry", id="wizard.run"),
        Binding("s", "skip", "Skip", id="wizard.skip"),
        Binding("a", "abort", "Abort", id="wizard.abort"),
        Binding("ctrl+c", "abort", "Abort", show=False, priority=True, id="wizard.interrupt"),
        Binding("escape", "close", "Close", id="wizard.close"),
        # the App's q (quit) and e (switch environment) must not cut a wizard short
        Binding("q", "close", "Close", show=False, id="wizard.quit"),
        Binding("e", "stay", show=False, id="wizard.environment"),
    ]

    def __init__(self, *, config: Any, env_name: str, wizard: Wizard, read_only: bool,
                 operator: Any = None, resume: Path | None = None,
                 directory: Path | None = None) -> None:
        super().__init__()
        self.config, self.env_name, self.wizard = config, env_name, wizard
        self.read_only, self.operator, self.resume_path = read_only, operator, resume
        self.directory = directory
        self.driver: RunDriver | None = None
        self.busy = False  # a step worker is validating answers or running steps
        self.form: InputForm | None = None

    @property
    def run(self) -> WizardRun | None:
        return self.driver.run if self.driver is not None else None

    @property
    def index(self) -> int | None:
        """The current step: shown, running, or failed and waiting for retry or skip."""
        return self.driver.current if self.driver is not None else 0

    @property
    def finished(self) -> RunState | None:
        return self.driver.finished if self.driver is not None else None

    # ---- layout ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        mode = "  READ-ONLY" if self.read_only else ""
        yield Static(f" {self.wizard.title} · {self.env_name}{mode} · {self.wizard.section}",
                     id="title", markup=False)
        with Horizontal(id="body"):
            yield StepList(self.wizard.steps, id="steps")
            with Vertical(id="right"):
                with VerticalScroll(id="top"):
                    yield Static("", id="plan")
                    yield Vertical(id="form-slot")
                yield Log(max_lines=self.config.ui.output_line_cap, id="output", auto_scroll=True)
                yield ProgressBar(total=None, show_eta=False, id="progress")
        yield Static("", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._begin()

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(text)

    def _steps(self) -> StepList:
        return self.query_one("#steps", StepList)

    # ---- session ----------------------------------------------------------------------
    @work(exclusive=True, group="wizard", exit_on_error=False)
    async def _begin(self) -> None:
        kw: dict[str, Any] = dict(
            config=self.config, wizard=self.wizard, env_name=self.env_name,
            read_only=self.read_only, confirmer=self._confirm, sink=self._on_event,
            operator=self.operator, directory=self.directory)
        try:
            if self.resume_path is not None:
                self.driver, _ = await RunDriver.resume(self.resume_path, **kw)
                done = sorted(self.driver.completed)
                for index in done:
                    self._steps().set_state(index, StepStatus.OK)
                self._log(f"resumed session {self.driver.log.id}; completed steps: "
                          f"{', '.join(str(i + 1) for i in done) or 'none'}")
            else:
                self.driver = RunDriver.start(**kw)
                self._log(f"session {self.driver.log.id}")
        except Exception:  # shown by the App's worker-error handler
            self._status("the wizard could not start · escape closes")
            raise
        await self._show(self.driver.current)

    async def _show(self, index: int | None) -> None:
        """Show the current step ``index``: its plan, and its form if it has inputs."""
        slot = self.query_one("#form-slot", Vertical)
        await slot.remove_children()
        self.form = None
        if index is None:
            await self._finish(RunState.COMPLETED)
            return
        assert self.driver is not None
        step = self.wizard.steps[index]
        self._steps().set_current(index)
        if step.inputs:
            values = {i.name: await self.driver.default_text(i) for i in step.inputs}
            self.form = InputForm(list(step.inputs), values)
            await slot.mount(self.form)
            self.form.focus_first()
            self._plan(index, note="Enter in a field (or r) checks the answers and runs the step")
        else:
            self._plan(index)
        hint = "r runs it" if not step.inputs else "Enter runs it"
        self._status(f"step {index + 1}/{len(self.wizard.steps)}: {hint} · s skip · a abort")

    def _plan(self, index: int, note: str = "") -> None:
        assert self.driver is not None
        step = self.wizard.steps[index]
        try:
            plan = self.driver.plan(index) if all(i.name in self.driver.run.ctx.values
                                                  for i in step.inputs) else None
        except Exception as exc:  # a plan needing answers not given yet
            plan, note = None, f"{note} ({exc})"
        if self.read_only and step.risk > Risk.READ:
            note = "read-only: this step will be refused. " + note
        self.query_one("#plan", Static).update(render_plan(index, step, plan, note))

    def _log(self, line: str) -> None:
        self.query_one("#output", Log).write_line(line)

    # ---- driver and executor callbacks ------------------------------------------------
    async def _confirm(self, request):
        return await self.app.push_screen(ConfirmModal(request), wait_for_dismiss=True)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, OutputEvent):
            self._log(event.text)
        elif isinstance(event, ProgressEvent):
            p = event.progress
            self.query_one("#progress", ProgressBar).update(total=p.total, progress=p.done)
        elif isinstance(event, StepStarting):
            self.query_one("#progress", ProgressBar).update(total=None, progress=0)
            self.screen.set_focus(None)
            self._steps().set_current(event.step)
        elif isinstance(event, StepEnded):
            self._steps().set_state(event.step, event.outcome.status)
        elif isinstance(event, StateEvent):
            self._steps().set_state(event.step, event.state)
            if event.state == StepPhase.PLANNED:
                self._plan(event.step)
            elif event.detail:
                self._status(f"step {event.step + 1}: {event.state}: {event.detail}")

    # ---- actions ----------------------------------------------------------------------
    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if self.form is not None and event.input.id and event.input.id.startswith("input-"):
            event.stop()
            self.action_run_step()

    def action_run_step(self) -> None:
        """Run the current step (a retry after a failure), then on while nothing needs
        the operator."""
        if self.busy or self.finished or self.driver is None or self.driver.current is None:
            return
        self.busy = True
        self._step_worker()

    @work(exclusive=True, group="step", exit_on_error=False)
    async def _step_worker(self) -> None:
        driver = self.driver
        assert driver is not None
        try:
            if self.form is not None:
                problems = await driver.set_inputs(self.form.answers(),
                                                   [i.name for i in self.form.inputs])
                self.form.show_problems({p.name: p.message for p in problems})
                if problems:
                    self._status(f"{len(problems)} answer(s) to fix: "
                                 + "; ".join(str(p) for p in problems))
                    return
            state = await driver.advance(stop_for_operator=True)
            if state in (RunState.FAILED, RunState.REFUSED) and driver.current is not None:
                assert driver.last is not None
                self._after_failure(driver.current, driver.last)
                return
            await self._show(driver.current)
        except asyncio.CancelledError:
            await self._finish(RunState.ABORTED)
            raise
        finally:
            self.busy = False

    def _after_failure(self, index: int, outcome: StepOutcome) -> None:
        what = FAILURE.get(StepStatus(outcome.status), outcome.status)
        self._log(f"step {index + 1} {what}: {outcome.error or ''}")
        self._status(f"step {index + 1} {what} · r retry · s skip · a abort")

    def action_skip(self) -> None:
        if self.busy or self.finished or self.driver is None or self.driver.current is None:
            return
        index = self.driver.current
        self.driver.skip("skipped by the operator")
        self._log(f"step {index + 1} skipped")
        self._next_worker(self.driver.current)

    @work(exclusive=True, group="wizard", exit_on_error=False)
    async def _next_worker(self, index: int | None) -> None:
        await self._show(index)

    def action_abort(self) -> None:
        if self.finished:
            return
        running = [w for w in self.workers if w.group == "step" and w.is_running]
        if running:
            self._log("aborting: stopping the running step…")
            for worker in running:
                worker.cancel()
        else:
            self.run_worker(self._finish(RunState.ABORTED), group="wizard",
                            exit_on_error=False)

    async def _finish(self, state: RunState) -> None:
        driver = self.driver
        if driver is None or driver.finished:
            return
        warning = await driver.finish(state)
        self._log(f"session {driver.log.id} ended: {state}")
        if warning:  # the S3 archive failed; the local log is complete either way
            self._log(warning)
            self.notify(warning, severity="warning", markup=False)
        elif driver.run.archived is not None:
            self._log(driver.run.archived.describe())
        self._status(f"wizard {state} · log {driver.log.id} · escape closes")
        if driver.current is not None and state is RunState.ABORTED:
            self._steps().set_state(driver.current, StepStatus.ABORTED)

    def action_stay(self) -> None:
        self._status("finish or abort the wizard before switching environment")

    def action_close(self) -> None:
        if self.finished or self.driver is None:
            self.dismiss(None)
        else:
            self._status("the wizard is still open: a aborts it first, then escape closes")
