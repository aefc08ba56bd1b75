"""The executor: the one way a wizard step reaches anything that changes the platform.

For each step, in this order and nowhere else:

1. **read-only** — a ``change``/``destructive`` step in read-only mode is refused and the
   refusal is logged, before a plan is computed or any client is touched;
2. **plan** — what will happen and the guide's equivalent command, logged;
2b. **gate** — a change step must be allowed by the run's gate (the environment's operator
   lease, :mod:`.kube.lease`): while another operator holds it, the step is refused, logged;
3. **confirmation** — by the policy of :mod:`.confirmation`, logged with what was typed;
4. **grant** — only now does ``ctx.mutations`` exist, and only for this step;
5. **run** — output lines are redacted, logged and shown; progress is shown; a timeout
   and cancellation (abort, Ctrl+C, SIGHUP) stop it cleanly and are logged;
6. **verify** — optional check after the run;
7. **step end** — status, duration, error, then fsync of the log (a step boundary).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from console.execution.model import Line, Plan, Progress, Risk, Step, StepFailed, StepSkipped

from .confirmation import ConfirmationRequest, Confirmer, accepted
from .context import NotPermitted, StepContext
from .session_log import SessionLog


class StepStatus(StrEnum):
    """How a step ended. The values are what ``step_end`` records hold, so logs written
    before this enum existed read the same (``StepStatus("timed-out")``)."""

    OK = "ok"
    FAILED = "failed"  # the step raised, or its plan could not be made
    REFUSED = "refused"  # read-only mode: a change step never starts
    DECLINED = "declined"  # the confirmation was not given
    SKIPPED = "skipped"  # by the operator, or not applicable with the answers given
    ABORTED = "aborted"  # cancelled while running (abort, Ctrl+C, SIGHUP)
    TIMED_OUT = "timed-out"

    @property
    def done(self) -> bool:
        """Completed for resume: a resumed run does not repeat it."""
        return self in (StepStatus.OK, StepStatus.SKIPPED)


class StepPhase(StrEnum):
    """Where a step is before it ends (``StateEvent.state``, with the final StepStatus)."""

    PLANNED = "planned"
    CONFIRMING = "confirming"
    RUNNING = "running"
    VERIFYING = "verifying"


# short names, used below and by earlier modules and tests
OK, FAILED, REFUSED, DECLINED, SKIPPED, ABORTED, TIMED_OUT = (
    StepStatus.OK, StepStatus.FAILED, StepStatus.REFUSED, StepStatus.DECLINED,
    StepStatus.SKIPPED, StepStatus.ABORTED, StepStatus.TIMED_OUT)


@dataclass(frozen=True)
class StepOutcome:
    status: StepStatus
    duration: float = 0.0
    error: str | None = None
    verified: str | None = None

    @property
    def ok(self) -> bool:
        return StepStatus(self.status).done


@dataclass(frozen=True)
class OutputEvent:
    step: int
    text: str
    stream: str = "info"


@dataclass(frozen=True)
class ProgressEvent:
    step: int
    progress: Progress


@dataclass(frozen=True)
class StateEvent:
    step: int
    state: StepPhase | StepStatus
    detail: str = ""


Event = OutputEvent | ProgressEvent | StateEvent
Sink = Callable[[Event], Any]
# before a change step is confirmed: None to go on, else why it may not start
Gate = Callable[[Step], Awaitable[str | None]]


class Executor:
    def __init__(self, *, ctx: StepContext, log: SessionLog, confirmer: Confirmer,
                 sink: Sink | None = None, gate: Gate | None = None):
        self.ctx = ctx
        self.log = log
        self.confirmer = confirmer
        self.sink = sink or (lambda event: None)
        self.gate = gate

    def plan(self, step: Step) -> Plan:
        """A step's plan; pure (no client is called to make one). Redacted here, once, so
        the runner screen, the confirmation, ``mcp-ops run --dry-run`` and the log all get
        the same plan with no secret in it (a DSN with its password, a typed secret)."""
        plan = step.plan(self.ctx)
        redact = self.ctx.redactor.text
        return Plan(redact(plan.summary), tuple(redact(c) for c in plan.commands))

    def _say(self, index: int, text: str, stream: str = "info") -> None:
        text = self.ctx.redactor.text(text)
        self.log.append("output", {"step": index, "stream": stream, "line": text})
        self.sink(OutputEvent(index, text, stream))

    def _end(self, index: int, step: Step, status: StepStatus, started: float, *,
             error: str | None = None, verified: str | None = None,
             last_progress: Progress | None = None) -> StepOutcome:
        duration = time.monotonic() - started
        data: dict[str, Any] = {"step": index, "id": step.id, "status": status,
                                "duration": round(duration, 3)}
        if error:
            data["error"] = error
        if verified:
            data["verified"] = verified
        if last_progress is not None:
            data["progress"] = [last_progress.done, last_progress.total, last_progress.label]
        self.log.append("step_end", data, sync=True)
        self.sink(StateEvent(index, status, self.ctx.redactor.text(error or verified or "")))
        return StepOutcome(status, duration, self.ctx.redactor.text(error) if error else None,
                           verified)

    def _refuse(self, index: int, step: Step, reason: str, started: float) -> StepOutcome:
        """A change step that may not start (read-only mode, another operator's lease):
        logged as a refusal, before any confirmation and any client call of the step."""
        self.log.append("refusal", {"step": index, "id": step.id, "title": step.title,
                                    "risk": step.risk.label, "reason": reason}, sync=True)
        self.sink(StateEvent(index, REFUSED, reason))
        return self._end(index, step, REFUSED, started, error=reason)

    async def run_step(self, index: int, step: Step) -> StepOutcome:
        started = time.monotonic()
        ctx = self.ctx
        ctx.step_id = step.id
        if step.risk > Risk.READ and ctx.read_only:
            reason = (f"read-only mode: step {step.id!r} is a {step.risk.label} step and "
                      "nothing that changes anything may run")
            return self._refuse(index, step, reason, started)
        try:
            plan = self.plan(step)
        except Exception as exc:  # a plan that cannot be made is a failed step, not a crash
            return self._end(index, step, FAILED, started, error=f"no plan: {exc}")
        self.log.append("step_plan", {"step": index, "id": step.id, "title": step.title,
                                      "risk": step.risk.label, "summary": plan.summary,
                                      "commands": list(plan.commands)})
        self.sink(StateEvent(index, StepPhase.PLANNED, plan.summary))
        if step.risk > Risk.READ and self.gate is not None:
            held = await self.gate(step)
            if held:
                return self._refuse(index, step, held, started)
        try:
            why_typed = step.typed_reason(ctx)
        except Exception as exc:  # noqa: BLE001 - as a plan: no reason, a failed step
            return self._end(index, step, FAILED, started, error=f"no confirmation: {exc}")
        request = ConfirmationRequest(index, step.title, step.risk, ctx.env_name,
                                      bool(ctx.env.protected), plan,
                                      ctx.redactor.text(why_typed) if why_typed else None)
        if request.kind != "none":
            self.sink(StateEvent(index, StepPhase.CONFIRMING, request.prompt()))
            answer = await self.confirmer(request)
            ok, why = accepted(request, answer)
            self.log.append("confirmation", {"step": index, "kind": request.kind,
                                             "confirmed": ok, "typed": answer.typed,
                                             "reason": why}, sync=True)
            if not ok:
                return self._end(index, step, DECLINED, started, error=f"not confirmed: {why}")
        return await self._run(index, step, started)

    async def _run(self, index: int, step: Step, started: float) -> StepOutcome:
        ctx = self.ctx
        self.log.append("step_start", {"step": index, "id": step.id, "title": step.title,
                                       "risk": step.risk.label}, sync=True)
        self.sink(StateEvent(index, StepPhase.RUNNING))
        last: Progress | None = None
        if step.risk > Risk.READ:
            ctx._grant(step.id)
        budget = asyncio.timeout(step.timeout)
        try:
            async with budget:
                async for item in step.run(ctx):
                    if isinstance(item, Progress):
                        last = item
                        self.sink(ProgressEvent(index, item))
                    elif isinstance(item, Line):
                        self._say(index, item.text, item.stream)
                    else:
                        self._say(index, str(item))
                verified = None
                if step.verify is not None:
                    self.sink(StateEvent(index, StepPhase.VERIFYING))
                    verified = await step.verify(ctx)
                    if verified:
                        self._say(index, f"verified: {verified}")
        except StepSkipped as exc:
            self._say(index, f"skipped: {exc}")
            return self._end(index, step, SKIPPED, started, error=str(exc), last_progress=last)
        except StepFailed as exc:
            return self._end(index, step, FAILED, started, error=str(exc), last_progress=last)
        except TimeoutError as exc:
            if budget.expired():
                return self._end(index, step, TIMED_OUT, started, last_progress=last,
                                 error=f"timed out after {step.timeout:.0f}s")
            # a client's own timeout (a query, a socket read): the step failed on it, long
            # before its own time was up; saying "timed out after 300s" would misname it
            error = f"a request timed out: {exc}" if str(exc) else "a request timed out"
            return self._end(index, step, FAILED, started, error=error[:2000],
                             last_progress=last)
        except asyncio.CancelledError:
            self._end(index, step, ABORTED, started, error="aborted by the operator",
                      last_progress=last)
            raise
        except NotPermitted as exc:
            return self._end(index, step, FAILED, started, error=f"not permitted: {exc}")
        except Exception as exc:  # noqa: BLE001 - any client error fails the step, shown
            error = f"{type(exc).__name__}: {exc}".strip()
            return self._end(index, step, FAILED, started, error=error[:2000],
                             last_progress=last)
        finally:
            ctx._revoke()
        return self._end(index, step, OK, started, verified=verified, last_progress=last)
