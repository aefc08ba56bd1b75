"""One run of one wizard: its session log, its inputs, its steps' states, and resume.

Both front ends — the console screen with forms and modals, ``mcp-ops run`` headless —
drive a :class:`WizardRun` through one :class:`~.driver.RunDriver` (which step is next,
auto-advance, retry, skip, abort, dry run), so both log the same records:
``session_start``, ``inputs`` (or ``input_rejected``), then per step ``step_plan``,
``confirmation``, ``step_start``, ``output``…, ``step_end``, and ``session_end``.

Resume: a log without a good ending (killed, SSH dropped, a failed or aborted step) is
reopened after its chain verifies; its recorded inputs are parsed again (secret inputs were
never recorded and must be given again), a ``resume`` record is appended and the run goes
on at the first applicable step that has not completed.

At the end (:meth:`WizardRun.finish`) the closed log is archived to S3 when
``session_log.s3_archive_bucket`` is set (:mod:`.log_archive`); a failure is a warning.
With the bucket set the log is also uploaded at every step boundary while the run goes on
(:mod:`.log_anchor`), so a copy off the machine follows the session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from console.collectors.base import describe_error
from console.errors import McpOpsError
from console.execution.inputs import Input, InputError
from console.execution.model import Plan, Risk, Wizard
from console.identity import Operator, current_operator

from .confirmation import ConfirmationRequest, Confirmer
from .context import Clients, StepContext
from .executor import SKIPPED, Executor, OutputEvent, Sink, StepOutcome
from .kube.lease import Holder, LeaseHeld, LeaseState, OperatorLease
from .log_anchor import LiveAnchor
from .log_archive import Archived, ArchiveError, archive_session, destination
from .log_store import completed_steps, verify
from .probe import ProbeReport, probe_environment
from .redaction import Redactor, redactor_for
from .session_log import SessionLog, default_directory


@dataclass(frozen=True)
class InputProblem:
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


class ResumeError(McpOpsError):
    """The session cannot be resumed (tampered, finished, another wizard or environment)."""

    title = "Cannot resume"


class WizardRun:
    def __init__(self, *, config: Any, env_name: str, wizard: Wizard, read_only: bool,
                 confirmer: Confirmer, sink: Sink | None = None,
                 operator: Operator | None = None, redactor: Redactor | None = None,
                 directory: Path | None = None):
        name, env = config.environment(env_name)
        self.config, self.env_name, self.env, self.wizard = config, name, env, wizard
        self.read_only = bool(read_only or env.read_only)
        self.operator = operator or current_operator()
        self.redactor = redactor or redactor_for(config)
        self.directory = directory or default_directory(config.session_log.directory)
        self.clients = Clients(env)
        self.ctx = StepContext(config=config, env_name=name, env=env,
                               read_only=self.read_only, clients=self.clients,
                               redactor=self.redactor, operator=self.operator)
        self.confirmer = confirmer
        self.sink = sink
        self.log: SessionLog | None = None
        self.executor: Executor | None = None
        self.completed: set[int] = set()
        self.raw: dict[str, str] = {}  # non-secret answers as text, recorded for resume
        self.resumed = False
        self.archived: Archived | None = None  # set when the ended log was copied to S3
        self.archive_warning: str | None = None
        self.anchor: LiveAnchor | None = None  # uploads the log at step boundaries
        self.credentials: ProbeReport | None = None  # probed at the first change step
        self.take_over: str | None = None  # the lease holder this run may take over from
        self.lease: OperatorLease | None = None
        self.held_by: LeaseState | None = None  # who held the environment at the last refusal
        self._health: asyncio.Task[None] | None = None  # the health check under way

    # ---- session --------------------------------------------------------------------
    def start(self, *, dry_run: bool = False) -> SessionLog:
        self.log = SessionLog.create(self.directory, label=self.wizard.id, env=self.env_name,
                                     operator=self.operator, redactor=self.redactor)
        self._anchor()
        self.log.append("session_start", {
            "wizard": self.wizard.id, "title": self.wizard.title, "section": self.wizard.section,
            "read_only": self.read_only, "dry_run": dry_run,
            "steps": [s.id for s in self.wizard.steps],
        }, sync=True)
        self._executor()
        return self.log

    def _anchor(self) -> None:
        """Upload the log at every step boundary when the archive bucket is configured."""
        assert self.log is not None
        if LiveAnchor.wanted(self.config, self.log.id):
            self.anchor = LiveAnchor(self.log.path, config=self.config, env_name=self.env_name)
            self.log.on_sync = self.anchor.mark

    def _executor(self) -> None:
        assert self.log is not None
        self.ctx._attach_log(self.log)
        self.executor = Executor(ctx=self.ctx, log=self.log, confirmer=self.confirmer,
                                 sink=self.sink, gate=self._hold_environment)

    async def _hold_environment(self, step: Any) -> str | None:
        """The gate of every change step: credentials that are all read-only refuse it
        (nothing it tried would be allowed); the log up to the step's plan is uploaded when
        anchored (:mod:`.log_anchor`); then this run must hold the environment's lease (taken
        at the first change step, kept until the end). A lease that cannot be read or
        written because Kubernetes does not answer or refuses is a logged warning, not a
        refusal: an unreachable lock must not stop a recovery — coordinate by hand then."""
        assert self.log is not None
        refused = await self._read_only_credentials()
        if refused:
            return refused
        if self.anchor is not None:  # the record up to this plan, off the machine first
            await self.anchor.flush()
        if self.lease is None:
            self.lease = OperatorLease(
                self.clients.kube(), self.env.kubernetes, self.env_name,
                Holder(self.operator.user, self.operator.host, self.wizard.id, self.log.id),
                duration=self.env.kubernetes.lease_seconds)
        lease = self.lease
        if lease.lost:
            reason = (f"{self.env_name}'s lease was {lease.lost}; this session may change "
                      "nothing more (start a new run, or take it back with --take-over)")
            self._log("lease", {"event": "lost", "detail": lease.lost}, sync=True)
            return reason
        if lease.held:
            return None
        try:
            result = await lease.acquire(take_over=self.take_over)
        except LeaseHeld as exc:
            self.held_by = exc.state
            return str(exc)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self._log("lease", {"event": "unavailable", "detail": describe_error(exc)},
                      sync=True)
            warning = (f"warning: no operator lease for {self.env_name} "
                       f"({describe_error(exc)}); make sure nobody else is changing it")
            if self.sink is not None:
                self.sink(OutputEvent(self.wizard.steps.index(step), warning, "stderr"))
            return None
        self.held_by = None
        self._log("lease", {"event": result.split(" ")[0], "detail": result,
                            "lease": lease.name, "namespace": self.env.kubernetes.namespace},
                  sync=True)
        return None

    async def _read_only_credentials(self) -> str | None:
        """Probe the credentials once, at the first change step (:mod:`.probe`); the refusal
        when all of them are read-only (logged as the step's refusal, naming each system)."""
        if self.credentials is None:
            self.credentials = await probe_environment(
                self.env, timeout=self.config.ui.source_timeout_seconds + 2)
        return self.credentials.refusal()

    @classmethod
    async def resume(cls, path: Path, *, config: Any, wizard: Wizard, env_name: str | None,
                     answers: Mapping[str, str], **kw: Any) -> tuple[WizardRun, list[InputProblem]]:
        check = await asyncio.to_thread(verify, path)  # a long log: not on the caller's loop
        if not check.ok:
            raise ResumeError(f"session {path.stem} does not verify: {check.describe()}")
        records = check.records
        start = next((r for r in records if r["event"] == "session_start"), None)
        if start is None or start["data"].get("wizard") != wizard.id:
            raise ResumeError(f"session {path.stem} is not a run of {wizard.id!r}")
        if check.ended and records[-1]["data"].get("status") in ("completed", "dry-run"):
            raise ResumeError(f"session {path.stem} finished ({records[-1]['data']['status']}); "
                              "nothing to resume")
        if start["data"].get("dry_run"):  # also one whose dry run found a plan missing
            raise ResumeError(f"session {path.stem} was a dry run; nothing ran to resume")
        if env_name and env_name != start["env"]:
            raise ResumeError(f"session {path.stem} ran on {start['env']!r}, not {env_name!r}")
        run = cls(config=config, env_name=start["env"], wizard=wizard,
                  read_only=kw.pop("read_only", False) or start["data"].get("read_only", False),
                  **kw)
        recorded: dict[str, str] = next((r["data"].get("raw", {}) for r in reversed(records)
                         if r["event"] == "inputs"), {})
        run.completed = set(completed_steps(records))
        run.log = SessionLog.reopen(path, env=run.env_name, operator=run.operator,
                                    redactor=run.redactor, seq=records[-1]["seq"],
                                    last_hash=records[-1]["hash"])
        run.resumed = True
        run._anchor()
        run.log.append("resume", {"after_record": records[-1]["seq"],
                                  "completed_steps": sorted(run.completed),
                                  "recorded_inputs": sorted(recorded)}, sync=True)
        run._executor()
        problems = await run.resolve_inputs({**recorded, **answers})
        return run, problems

    async def finish(self, status: str) -> str | None:
        """Write ``session_end`` (fsynced), close the log and the clients, then archive the
        log to S3 when ``session_log.s3_archive_bucket`` is set. Returns a warning line when
        the archive failed (also kept in ``archive_warning``): the log is closed and stays
        as it is, and the wizard's outcome does not change."""
        ended = False
        await self._last_health()
        await self._release_lease()
        if self.log is not None and not self.log.closed:
            self.log.append("session_end", {"status": status,
                                            "completed_steps": sorted(self.completed)}, sync=True)
            self.log.close()
            ended = True
        if self.anchor is not None:
            await self.anchor.close()
        await self.clients.close()
        if ended and self.log is not None and destination(self.config, self.log.id) is not None:
            await self._archive()
        anchor = self.anchor
        if anchor is not None and anchor.failures and self.archive_warning is None:
            self.archive_warning = self.redactor.text(
                f"warning: {anchor.failures} of the step-boundary uploads of session log "
                f"{self.log.id if self.log else '?'} to S3 failed (the last: {anchor.warning})")
        return self.archive_warning

    async def _release_lease(self) -> None:
        lease, self.lease = self.lease, None
        if lease is None:
            return
        try:
            released = await lease.release()
        except Exception as exc:  # noqa: BLE001 - it expires on its own; say so
            self._log("lease", {"event": "not released", "detail": describe_error(exc)},
                      sync=True)
            return
        if released:
            self._log("lease", {"event": "released", "lease": lease.name}, sync=True)

    async def _archive(self) -> None:
        assert self.log is not None
        try:
            self.archived = await archive_session(self.log.path, config=self.config,
                                                  env_name=self.env_name)
        except ArchiveError as err:
            self.archive_warning = self.redactor.text(
                f"warning: session log {self.log.id} was not archived to S3: {err}")
        except asyncio.CancelledError:  # a second Ctrl+C while uploading: the log is safe
            self.archive_warning = (f"warning: archiving session log {self.log.id} to S3 "
                                    "was interrupted")

    # ---- inputs ---------------------------------------------------------------------
    def inputs(self, index: int | None = None) -> list[Input]:
        if index is None:
            return self.wizard.inputs()
        return list(self.wizard.steps[index].inputs)

    async def default_text(self, item: Input) -> str:
        """The text a form field starts with; "" when a live default cannot be read (the
        answer is then checked, and a problem reported, when it is given)."""
        try:
            return await self._default_text(item)
        except Exception:  # noqa: BLE001 - a platform that does not answer: no default
            return ""

    async def _default_text(self, item: Input) -> str:
        if item.name in self.raw:
            return self.raw[item.name]
        value = await item.default_value(self.ctx)
        return "" if value is None else str(value)

    async def resolve_inputs(self, answers: Mapping[str, str],
                             names: list[str] | None = None) -> list[InputProblem]:
        """Parse and validate answers (defaults for the rest); every problem at once.
        ``names`` limits it to some inputs (one step's form)."""
        items = [i for i in self.wizard.inputs() if names is None or i.name in names]
        known = {i.name for i in self.wizard.inputs()}
        problems = [InputProblem(k, f"no such input (known: {', '.join(sorted(known)) or 'none'})")
                    for k in answers if k not in known]
        values: dict[str, Any] = {}
        for item in items:
            raw = answers.get(item.name, "")
            try:
                if item.name not in answers:
                    raw = await self._default_text(item)
                if item.secret:
                    self.redactor.add(raw)
                values[item.name] = await item.parse(raw, self.ctx)
            except Exception as exc:  # noqa: BLE001 - refused with a message, never a crash
                # a live default or list of choices the platform could not give
                err = exc if isinstance(exc, InputError) else InputError(self.redactor.text(
                    f"could not be checked against the platform: {describe_error(exc)}"))
                problems.append(InputProblem(item.name, str(err)))
                self._log("input_rejected", {"input": item.name,
                                             "value": "***" if item.secret else raw,
                                             "error": str(err)})
                continue
            if not item.secret:
                self.raw[item.name] = raw
        merged = {**self.ctx.values, **values}
        if not problems and self.wizard.check is not None:
            for message in self.wizard.check(merged, self.env):
                problems.append(InputProblem("(inputs)", message))
                self._log("input_rejected", {"input": "(inputs)", "error": message})
        if not problems:
            self.ctx.values = merged
            shown = {i.name: i.show(merged.get(i.name)) for i in self.wizard.inputs()
                     if i.name in merged}
            self._log("inputs", {"values": shown, "raw": dict(self.raw)}, sync=True)
        return problems

    def _log(self, event: str, data: dict[str, Any], sync: bool = False) -> None:
        if self.log is not None and not self.log.closed:
            self.log.append(event, data, sync=sync)

    # ---- steps ----------------------------------------------------------------------
    def applicable(self, index: int) -> bool:
        return self.wizard.steps[index].applicable(self.ctx.values)

    def plan(self, index: int) -> Plan:
        """The step's plan, redacted (by the executor, the one place plans are made), so
        every front end shows the same text and none of them needs to redact it again."""
        assert self.executor is not None
        return self.executor.plan(self.wizard.steps[index])

    def next_index(self, after: int = -1) -> int | None:
        for index in range(after + 1, len(self.wizard.steps)):
            if index not in self.completed:
                return index
        return None

    def confirmation_requests(self) -> list[ConfirmationRequest]:
        """What would have to be confirmed by the steps still to run."""
        requests = []
        for index, step in enumerate(self.wizard.steps):
            if index in self.completed or not self.applicable(index):
                continue
            try:
                reason = step.typed_reason(self.ctx)
            except Exception as exc:  # noqa: BLE001 - the step itself fails on it, logged
                reason = f"no confirmation reason: {exc}"
            if step.risk == Risk.READ and not reason:
                continue
            try:
                plan = self.plan(index)
            except Exception as exc:  # noqa: BLE001 - the step itself fails on it, logged
                plan = Plan(self.redactor.text(f"no plan: {exc}"), ())
            requests.append(ConfirmationRequest(index, step.title, step.risk, self.env_name,
                                                bool(self.env.protected), plan,
                                                self.redactor.text(reason) if reason else None))
        return requests

    def skip(self, index: int, reason: str) -> StepOutcome:
        step = self.wizard.steps[index]
        self._log("step_end", {"step": index, "id": step.id, "status": SKIPPED,
                               "duration": 0.0, "error": reason}, sync=True)
        self.completed.add(index)
        return StepOutcome(SKIPPED, 0.0, reason)

    async def run_step(self, index: int) -> StepOutcome:
        assert self.executor is not None, "start() the run first"
        if not self.applicable(index):
            return self.skip(index, "not applicable with these inputs")
        self._observe(index)
        outcome = await self.executor.run_step(index, self.wizard.steps[index])
        if outcome.ok:
            self.completed.add(index)
        return outcome

    # ---- what the operator saw ---------------------------------------------------------
    def _observe(self, index: int) -> None:
        """Check the environment's health alongside step ``index`` (one check at a time, in
        the background: a step never waits for it); the report is logged as ``health``."""
        if not self.config.session_log.health_at_steps:
            return
        if self._health is None or self._health.done():
            self._health = asyncio.create_task(self._record_health(index),
                                               name=f"health at step {index}")

    async def _record_health(self, index: int) -> None:
        from console.health.check import check_environment

        try:
            report = await check_environment(self.env_name, self.env,
                                             timeout=self.config.ui.source_timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - the record says what happened
            self._log("health", {"step": index, "error": describe_error(exc)})
            return
        self._log("health", {
            "step": index, "status": report.status.label,
            "components": {c.name: {"status": c.status.label, "reasons": list(c.reasons[:3])}
                           for c in report.components}})

    async def _last_health(self) -> None:
        """Let the check under way finish into the log (bounded), before the log closes."""
        task, self._health = self._health, None
        if task is None:
            return
        try:
            await asyncio.wait_for(task, self.config.ui.source_timeout_seconds + 2)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()

    def note(self, text: str) -> None:
        self._log("note", {"text": text}, sync=True)
