"""The wizard runner: steps with their state, plan -> inputs -> confirm -> stream -> result.

The screen drives a :class:`console.execution.driver.RunDriver` — the same driver
``mcp-ops run`` uses — so the console and the command line order, skip, retry and log
steps identically. Keys:
``r`` runs the current step with the answers in its form (or retries a failed one), ``s``
skips it, ``a`` / ``ctrl+c`` aborts (cancelling a running step cleanly), ``escape`` closes
when the run is over. Read steps without inputs that follow a finished step run on their
own; the runner stops before anything that needs an answer or a confirmation, and after
any failure (the driver's ``stop_for_operator``).

Keys mean what the footer says: focus goes into a step's form only when the operator asks
(``tab``), never when a step is shown — so an ``r`` pressed while a read step ends runs
the next step instead of being typed into its first field. While a field has focus the
footer drops r/s/a (they are typed), Enter checks the answers and runs the step, and
``escape`` leaves the field.

The output pane wraps long lines (:class:`.wrap_log.WrapLog`) and keeps the last
``ui.output_line_cap`` lines. The progress bar shows the running step's progress (moving
while it has none to report) and otherwise the steps done of the steps to run. A worker
that fails (a session log that another process is writing, on resume) is shown by the
App's handler; escape then closes the screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, ProgressBar, Static

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
from .literal import printable, printable_text
from .take_over_modal import TakeOverModal
from .wizard_widgets import InputForm, StepList, render_plan
from .worker_errors import ForwardWorkerErrors
from .wrap_log import WrapLog

FAILURE = {StepStatus.FAILED: "failed", StepStatus.TIMED_OUT: "timed out",
           StepStatus.REFUSED: "was refused", StepStatus.DECLINED: "was not confirmed"}


class WizardRunner(ForwardWorkerErrors, Screen[None]):
    DEFAULT_CSS = """
    WizardRunner #title { height: auto; max-height: 2; background: $panel; }
    WizardRunner #body { height: 1fr; }
    WizardRunner #right { width: 1fr; padding: 0 0 0 1; }
    WizardRunner #top { height: auto; max-height: 50%; scrollbar-size-vertical: 1; }
    WizardRunner #form-slot { height: auto; }
    WizardRunner #plan { height: auto; }
    WizardRunner #output { height: 1fr; min-height: 3; border-top: solid $panel-lighten-2; }
    WizardRunner ProgressBar { height: 1; }
    WizardRunner #status { height: auto; max-height: 3; background: $boost; }
    """
    BINDINGS = [
        Binding("r", "run_step", "Run/Retry", id="wizard.run"),
        Binding("s", "skip", "Skip", id="wizard.skip"),
        Binding("a", "abort", "Abort", id="wizard.abort"),
        Binding("T", "take_over", "Take over", id="wizard.take-over"),
        Binding("ctrl+c", "interrupt", "Abort", show=False, priority=True,
                id="wizard.interrupt"),
        Binding("escape", "close", "Close", id="wizard.close"),
        # tab: into the form when there is one and focus is outside it, else as always
        Binding("tab", "edit_answers", "Edit answers", id="wizard.edit"),
        Binding("tab", "app.focus_next", "Focus Next", show=False, id="wizard.focus-next"),
        # the App's q (quit) and e (switch environment) must not cut a wizard short, nor
        # w / L open another wizard or a resume over it (and the footer fits 80 columns)
        Binding("q", "close", "Close", show=False, id="wizard.quit"),
        Binding("e", "stay('switching environment')", show=False, id="wizard.environment"),
        Binding("w", "stay('starting another wizard')", show=False, id="wizard.wizards"),
        Binding("L", "stay('opening the session logs')", show=False, id="wizard.sessions"),
    ]

    def __init__(self, *, config: Any, env_name: str, wizard: Wizard, read_only: bool,
                 operator: Any = None, resume: Path | None = None,
                 directory: Path | None = None,
                 answers: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.config, self.env_name, self.wizard = config, env_name, wizard
        # answers filled in from where the wizard was opened (the backup under the cursor):
        # shown in the form as any default is, and editable
        self.answers = dict(answers or {})
        self.read_only, self.operator, self.resume_path = read_only, operator, resume
        self.directory = directory
        self.driver: RunDriver | None = None
        self._busy = False  # a step worker is validating answers or running steps
        self.form: InputForm | None = None
        self.hinting = False  # the status line shows the current step's keys

    @property
    def busy(self) -> bool:
        return self._busy

    @busy.setter
    def busy(self, value: bool) -> None:
        self._busy = value
        self.refresh_bindings()  # r and s are offered only when they can do something

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
                yield WrapLog(max_lines=self.config.ui.output_line_cap, id="output",
                              auto_scroll=True)
                yield ProgressBar(total=len(self.wizard.steps), show_eta=False, id="progress")
        yield Static("", id="status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._begin()

    def _status(self, text: str) -> None:
        self.query_one("#status", Static).update(printable(text))
        self.hinting = False

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
        if step.inputs:  # not focused: the operator tabs into it (see the module's doc)
            values = {i.name: self.answers.get(i.name) or await self.driver.default_text(i)
                      for i in step.inputs}
            self.form = InputForm(list(step.inputs), values)
            await slot.mount(self.form)
            self._plan(index, note="r runs the step with the answers below; "
                                   "tab edits them, Enter in a field runs it")
        else:
            self._plan(index)
        self._steps_progress()
        self._show_hint(index)

    def _show_hint(self, index: int) -> None:
        """The keys for the step on show; kept up to date as focus moves in and out of
        its form (until something else is said in the status line)."""
        self._status(self._hint(index))
        self.hinting = True
        self.refresh_bindings()  # a form came or went: tab offers it or not

    def _hint(self, index: int) -> str:
        where = f"step {index + 1}/{len(self.wizard.steps)}"
        if self.form is None:
            return f"{where}: r runs it · s skip · a abort"
        if self._in_form():
            return f"{where}: Enter runs it with these answers · esc leaves the field"
        return f"{where}: r runs it with these answers · tab edits them · s skip · a abort"

    def _in_form(self) -> bool:
        focused = self.focused
        return self.form is not None and focused is not None and self.form in focused.ancestors

    def _steps_progress(self) -> None:
        """The bar between steps: steps done (ok or skipped) of the steps to run."""
        if self.driver is not None:
            self.query_one("#progress", ProgressBar).update(
                total=len(self.wizard.steps), progress=len(self.driver.completed))

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
        self.query_one("#plan", Static).update(printable_text(render_plan(index, step, plan, note)))

    def _log(self, line: str) -> None:
        self.query_one("#output", WrapLog).write_line(line)

    # ---- keys mean what the footer says ------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("run_step", "skip", "abort") and isinstance(self.focused, Input):
            return False  # typed into the field: the footer must not offer them
        if action in ("run_step", "skip"):
            return not (self.busy or self.finished or self.driver is None
                        or self.driver.current is None)
        if action == "abort":
            return not self.finished
        if action == "edit_answers":
            return self.form is not None and not self.busy and not self._in_form()
        if action == "take_over":  # only after a refusal because someone holds the env
            return (self.driver is not None and self.driver.run.held_by is not None
                    and not self.busy and not self.finished)
        return True

    def on_descendant_focus(self) -> None:
        self._focus_moved()

    def on_descendant_blur(self) -> None:
        self._focus_moved()

    def _focus_moved(self) -> None:
        self.refresh_bindings()
        if self.hinting and self.driver is not None and self.driver.current is not None:
            self._show_hint(self.driver.current)

    def action_edit_answers(self) -> None:
        if self.form is not None:
            self.form.focus_first()

    def action_leave_field(self) -> None:
        self.set_focus(None)

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
            self._status(f"step {event.step + 1}/{len(self.wizard.steps)} running: "
                         f"{event.title} · a abort")
        elif isinstance(event, StepEnded):
            self._steps().set_state(event.step, event.outcome.status)
            self._steps_progress()
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
        take_over = " · T take over" if self.driver and self.driver.run.held_by else ""
        self._status(f"step {index + 1} {what} · r retry{take_over} · s skip · a abort")
        self.refresh_bindings()

    @work(exclusive=True, group="take-over", exit_on_error=False)
    async def action_take_over(self) -> None:
        driver = self.driver
        if driver is None or driver.run.held_by is None or self.busy:
            return
        holder = await self.app.push_screen(
            TakeOverModal(driver.env_name, driver.run.held_by), wait_for_dismiss=True)
        if holder:
            driver.run.take_over = holder
            self._log(f"taking {driver.env_name} over from {holder}")
            self.action_run_step()

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

    def action_interrupt(self) -> None:
        """ctrl+c: abort, also from inside a field (where ``a`` is typed)."""
        self.action_abort()

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
        self._steps_progress()
        self.refresh_bindings()
        self._status(f"wizard {state} · log {driver.log.id} · escape closes")
        if driver.current is not None and state is RunState.ABORTED:
            self._steps().set_state(driver.current, StepStatus.ABORTED)

    def action_stay(self, what: str) -> None:
        if self.finished:
            self._status(f"escape closes the wizard first, then {what}")
        else:
            self._status(f"finish or abort the wizard before {what}")

    def action_close(self) -> None:
        if self.finished or self.driver is None:
            self.dismiss(None)
        else:
            self._status("the wizard is still open: a aborts it first, then escape closes")
