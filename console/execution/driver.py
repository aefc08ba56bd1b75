"""The run driver: one wizard run from its first step to its end, for every front end.

:class:`WizardRun` (:mod:`.session`) holds a run's session log, inputs and executor and
runs one step when told. :class:`RunDriver` decides which step that is and what happens
next, the same way for the console's runner screen and ``mcp-ops run``:

- **current step**: the first step not completed (on resume, the first one the log does
  not show as ok or skipped), then the next one after each step that ends ok or skipped;
- **advance**: run the current step and go on; with ``stop_for_operator`` (the console)
  stop before a step that applies and needs an answer or a confirmation, so read steps
  without inputs run on their own; without it (``mcp-ops run``, whose answers and
  confirmations were given up front) go on to the end. A step that does not apply with
  the answers given is skipped on the way, and logged so;
- **retry**: after a failed, refused or declined step the current step stays; advancing
  again runs it again. **skip** logs it skipped and moves on. **abort** ends the session;
- **dry run**: every plan, nothing run, logged as ``step_plan`` records marked ``dry_run``;
- **state**: a :class:`RunState`, and :meth:`RunDriver.finish` writes it as the session's
  end status.

Besides the executor's events, the driver tells the front end's sink when a step starts
(:class:`StepStarting`) and how it ended (:class:`StepEnded`, also for a skip).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from console.errors import McpOpsError
from console.execution.inputs import Input
from console.execution.model import Plan, Risk, Step, Wizard

from .confirmation import ConfirmationRequest
from .executor import StepOutcome, StepStatus
from .log_store import resolve
from .session import InputProblem, WizardRun
from .session_log import SessionLog, default_directory


class RunState(StrEnum):
    """Where a run is. The final ones are the ``session_end`` statuses logs already hold."""

    READY = "ready"  # started or resumed; the current step has not run yet
    RUNNING = "running"  # a step is running
    WAITING = "waiting-for-input"  # stopped before a step that needs an answer or a yes
    COMPLETED = "completed"
    FAILED = "failed"  # a step failed or timed out: retry, skip or abort
    REFUSED = "refused"  # read-only, not confirmed, or inputs rejected
    ABORTED = "aborted"
    DRY_RUN = "dry-run"
    DRY_RUN_FAILED = "dry-run failed"  # a plan could not be made

    @property
    def open(self) -> bool:
        """Not an end: finishing the session now means the operator gave up (aborted)."""
        return self in (RunState.READY, RunState.RUNNING, RunState.WAITING)


_AFTER: dict[StepStatus, RunState] = {
    StepStatus.FAILED: RunState.FAILED, StepStatus.TIMED_OUT: RunState.FAILED,
    StepStatus.REFUSED: RunState.REFUSED, StepStatus.DECLINED: RunState.REFUSED,
    StepStatus.ABORTED: RunState.ABORTED,
}


# ---- errors an operator can meet before or while a run starts ----------------------------
class SessionNotFound(McpOpsError):
    title = "No such session"


class InputsRejected(McpOpsError):
    """Answers that do not validate; every problem at once."""

    title = "Invalid inputs"

    def __init__(self, problems: list[InputProblem]):
        self.problems = problems
        super().__init__(f"{len(problems)} invalid input(s):\n"
                         + "\n".join(f"  {p}" for p in problems))


class NotConfirmed(McpOpsError):
    """Steps still to run that need a confirmation nobody gave (``mcp-ops run``)."""

    title = "Confirmation missing"

    def __init__(self, missing: list[tuple[ConfirmationRequest, str]]):
        self.missing = missing
        super().__init__(f"{len(missing)} step(s) need confirmation:\n" + "\n".join(
            f"  step {r.step_index + 1} {r.step_title}: {why}" for r, why in missing))


# ---- events for the front end's sink ----------------------------------------------------
@dataclass(frozen=True)
class StepStarting:
    step: int
    title: str
    risk: Risk


@dataclass(frozen=True)
class StepEnded:
    step: int
    outcome: StepOutcome


@dataclass(frozen=True)
class PlannedStep:
    """One step of a dry run: its plan, or why there is none."""

    index: int
    step: Step
    plan: Plan | None = None
    error: str | None = None  # "no plan: ..." (redacted); logged as a failed step
    applicable: bool = True


class RunDriver:
    """Drives one :class:`WizardRun`. Make one with :meth:`start` or :meth:`resume` (or
    around a started ``WizardRun``); end it with :meth:`finish` whatever happened."""

    def __init__(self, run: WizardRun) -> None:
        self.run = run
        self.state = RunState.READY
        self.current: int | None = run.next_index()
        self.last: StepOutcome | None = None  # the outcome of the last step that ended
        self.finished: RunState | None = None  # the status written as session_end

    @classmethod
    def start(cls, *, dry_run: bool = False, **kw: Any) -> RunDriver:
        """A new session (its log is created and ``session_start`` written). ``kw`` are
        :class:`WizardRun`'s: config, env_name, wizard, read_only, confirmer, sink…"""
        run = WizardRun(**kw)
        run.start(dry_run=dry_run)
        return cls(run)

    @classmethod
    async def resume(cls, session: str | Path, *, config: Any, wizard: Wizard,
                     env_name: str | None, answers: Mapping[str, str] | None = None,
                     **kw: Any) -> tuple[RunDriver, list[InputProblem]]:
        """Continue an interrupted session (an id, a unique prefix of one, or a log's
        path): steps the log shows as done are not run again. Returns the problems of the
        recorded and given answers (secret inputs were never recorded: they are problems
        until given again). Raises :class:`SessionNotFound`, ``ResumeError`` (does not
        verify, finished, another wizard or environment) or ``SessionLogBusy``."""
        directory = kw.get("directory") or default_directory(config.session_log.directory)
        try:
            path = resolve(str(session), directory)
        except FileNotFoundError as err:
            raise SessionNotFound(str(err)) from None
        run, problems = await WizardRun.resume(path, config=config, wizard=wizard,
                                               env_name=env_name, answers=answers or {}, **kw)
        return cls(run), problems

    # ---- what the front ends read ---------------------------------------------------
    @property
    def wizard(self) -> Wizard:
        return self.run.wizard

    @property
    def log(self) -> SessionLog:
        assert self.run.log is not None
        return self.run.log

    @property
    def completed(self) -> set[int]:
        return self.run.completed

    @property
    def read_only(self) -> bool:
        return self.run.read_only

    @property
    def env_name(self) -> str:
        return self.run.env_name

    @property
    def resumed(self) -> bool:
        return self.run.resumed

    def plan(self, index: int) -> Plan:
        """The step's plan, redacted; raises when it cannot be made (yet)."""
        return self.run.plan(index)

    def needs_operator(self, index: int) -> bool:
        """Does the step wait for the operator before it runs: it applies with the answers
        given and has inputs or changes something (a confirmation)?"""
        step = self.wizard.steps[index]
        return self.run.applicable(index) and (bool(step.inputs) or step.risk > Risk.READ
                                               or step.typed_confirmation is not None)

    # ---- before anything runs ---------------------------------------------------------
    async def set_inputs(self, answers: Mapping[str, str],
                         names: list[str] | None = None) -> list[InputProblem]:
        """Parse and validate answers (defaults for the rest), logged; every problem at
        once. ``names`` limits it to some inputs (one step's form)."""
        return await self.run.resolve_inputs(answers, names)

    async def default_text(self, item: Input) -> str:
        return await self.run.default_text(item)

    def require_confirmations(self, problem: Callable[[ConfirmationRequest], str | None]) -> None:
        """Headless runs confirm up front: ``problem`` says why a step still to run is not
        confirmed (None: it is). Raises :class:`NotConfirmed` listing them all, noted in
        the log. Nothing to confirm in read-only mode: change steps are refused there."""
        if self.read_only:
            return
        missing = [(r, why) for r in self.run.confirmation_requests() if (why := problem(r))]
        if missing:
            self.run.note("refused: missing confirmation for steps "
                          + ", ".join(str(r.step_index + 1) for r, _ in missing))
            raise NotConfirmed(missing)

    # ---- running ------------------------------------------------------------------------
    def _emit(self, event: Any) -> None:
        if self.run.sink is not None:
            self.run.sink(event)

    async def advance(self, *, stop_for_operator: bool = True) -> RunState:
        """Run the current step (again, after a failure: a retry) and go on until a step
        does not end ok, the wizard ends, or — with ``stop_for_operator`` — the next step
        needs the operator. Returns the new state: COMPLETED, WAITING, FAILED, REFUSED.
        Cancelled (abort, Ctrl+C): the step is logged aborted, the state is ABORTED and
        the cancellation goes on; :meth:`finish` the run then."""
        if self.finished is not None:
            return self.state
        while self.current is not None:
            index = self.current
            step = self.wizard.steps[index]
            self.state = RunState.RUNNING
            self._emit(StepStarting(index, step.title, step.risk))
            try:
                outcome = await self.run.run_step(index)
            except asyncio.CancelledError:
                self.state = RunState.ABORTED
                raise
            self._ended(index, outcome)
            if not outcome.ok:
                self.state = _AFTER[StepStatus(outcome.status)]
                return self.state
            self.current = self.run.next_index(index)
            if (stop_for_operator and self.current is not None
                    and self.needs_operator(self.current)):
                self.state = RunState.WAITING
                return self.state
        self.state = RunState.COMPLETED
        return self.state

    def _ended(self, index: int, outcome: StepOutcome) -> None:
        self.last = outcome
        self._emit(StepEnded(index, outcome))

    def skip(self, reason: str = "skipped by the operator") -> StepOutcome:
        """Log the current step skipped and make the next one current (COMPLETED when
        there is none: the front end then finishes the run)."""
        if self.finished is not None or self.current is None:
            raise RuntimeError("no step to skip")
        index = self.current
        outcome = self.run.skip(index, reason)
        self._ended(index, outcome)
        self.current = self.run.next_index(index)
        self.state = RunState.WAITING if self.current is not None else RunState.COMPLETED
        return outcome

    def dry_run(self) -> list[PlannedStep]:
        """Every step's plan, nothing run: a ``step_plan`` record (``dry_run``) for each
        step that applies, and a failed ``step_end`` (``no plan: ...``, as the executor
        reports it) for one whose plan cannot be made; the other plans are still made.
        The state becomes DRY_RUN or DRY_RUN_FAILED. Start the session with
        ``dry_run=True`` so that it can never be resumed."""
        log = self.log
        entries = []
        for index, step in enumerate(self.wizard.steps):
            if not self.run.applicable(index):
                entries.append(PlannedStep(index, step, applicable=False))
                continue
            try:
                plan = self.run.plan(index)
            except Exception as exc:  # noqa: BLE001 - as Executor.run_step: a failed step
                error = self.run.redactor.text(f"no plan: {exc}")
                log.append("step_end", {"step": index, "id": step.id,
                                        "status": StepStatus.FAILED.value, "duration": 0.0,
                                        "error": error, "dry_run": True}, sync=True)
                entries.append(PlannedStep(index, step, error=error))
                continue
            log.append("step_plan", {"step": index, "id": step.id, "title": step.title,
                                     "risk": step.risk.label, "summary": plan.summary,
                                     "commands": list(plan.commands), "dry_run": True})
            entries.append(PlannedStep(index, step, plan=plan))
        failed = any(e.error for e in entries)
        self.state = RunState.DRY_RUN_FAILED if failed else RunState.DRY_RUN
        return entries

    def note(self, text: str) -> None:
        self.run.note(text)

    async def finish(self, state: RunState | None = None) -> str | None:
        """End the session with ``state`` (default: the current one; a run still open is
        ABORTED): ``session_end``, the log closed, clients closed, the S3 archive when
        configured. Returns the archive's warning line, if it failed. Once only."""
        if self.finished is not None:
            return None
        state = state or self.state
        if state.open:
            state = RunState.ABORTED
        self.state = self.finished = state
        return await self.run.finish(state.value)

    async def abort(self) -> str | None:
        """End the run as aborted (cancel a running step first: its task's cancellation
        logs the step aborted)."""
        return await self.finish(RunState.ABORTED)
