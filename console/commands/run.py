"""``mcp-ops run WIZARD --env ENV [--set k=v …] [--dry-run] [--confirm ENV] [--read-only]
[--resume SESSION]``: a wizard without the console.

Output streams to stdout (redacted) and the session log records it exactly as the console
would. Before anything runs, every input is validated (all problems listed at once) and,
unless read-only or a dry run, every step that needs confirming is checked against
``--confirm`` (all listed at once). Exit status: 0 success, 1 a step failed, 2 refused
(read-only, missing confirmation, invalid input, planned wizard), 130 interrupted
(Ctrl+C, SIGTERM, SIGHUP — the session stays resumable).
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from actions.catalogue import runnable
from console.config import load
from console.errors import McpOpsError
from console.execution.confirmation import CommandLineConfirmer
from console.execution.driver import InputsRejected, RunDriver, RunState, StepEnded, StepStarting
from console.execution.executor import (
    OutputEvent,
    ProgressEvent,
    StateEvent,
    StepPhase,
    StepStatus,
)

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


def _err(message: str) -> None:
    print(f"mcp-ops run: {message}", file=sys.stderr)


async def _finish(driver: RunDriver, state: RunState | None = None) -> None:
    """End the session; an S3 archive that failed is a warning on stderr, never a changed
    exit status (the local log is complete and closed either way)."""
    warning = await driver.finish(state)
    if warning:
        print(f"mcp-ops run: {warning}", file=sys.stderr, flush=True)
    elif driver.run.archived is not None:
        print(driver.run.archived.describe(), flush=True)


def parse_sets(pairs: list[str]) -> tuple[dict[str, str], list[str]]:
    values, problems = {}, []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            problems.append(f"--set {pair!r}: expected KEY=VALUE")
        else:
            values[key.strip()] = value
    return values, problems


class Printer:
    """Turns the driver's and the executor's events into stdout lines; progress only when
    it changes."""

    def __init__(self, total: int):
        self.total = total
        self.last_progress: dict[int, tuple] = {}

    def __call__(self, event: Any) -> None:
        if isinstance(event, StepStarting):
            print(f"[{event.step + 1}/{self.total}] {event.title} ({event.risk.label})",
                  flush=True)
        elif isinstance(event, StepEnded):
            outcome = event.outcome
            shown = outcome.error and outcome.status != StepStatus.SKIPPED
            print(f"    -> {outcome.status}" + (f": {outcome.error}" if shown else ""),
                  flush=True)
        elif isinstance(event, OutputEvent):
            print(f"    {event.text}", flush=True)
        elif isinstance(event, ProgressEvent):
            p = event.progress
            key = (p.done, p.total, p.label)
            if self.last_progress.get(event.step) != key:
                self.last_progress[event.step] = key
                total = f"/{p.total:g}" if p.total else ""
                print(f"    [{p.done:g}{total}] {p.label}", flush=True)
        elif isinstance(event, StateEvent) and event.state in (StepStatus.REFUSED,
                                                               StepPhase.CONFIRMING):
            print(f"    {event.state}: {event.detail}", flush=True)


def main(args) -> int:
    try:
        _, config = load(getattr(args, "config", None))
    except McpOpsError as err:  # ConfigError: every problem, with its line
        print(err, file=sys.stderr)
        return EXIT_REFUSED
    try:
        wizard = runnable(args.wizard)
    except McpOpsError as err:  # unknown id, or planned and not built yet
        _err(str(err))
        return EXIT_REFUSED
    answers, problems = parse_sets(args.values)
    if problems:
        for p in problems:
            _err(p)
        return EXIT_REFUSED
    try:
        env_name = getattr(args, "env", None)
        if not args.resume:
            env_name, _ = config.environment(env_name)
    except KeyError as err:
        _err(err.args[0])
        return EXIT_REFUSED
    return asyncio.run(_run(args, config, wizard, env_name, answers))


async def _run(args, config, wizard, env_name, answers) -> int:
    confirmer = CommandLineConfirmer(args.confirm)
    kw = dict(config=config, wizard=wizard, read_only=bool(getattr(args, "read_only", False)),
              confirmer=confirmer, sink=Printer(len(wizard.steps)))
    if args.resume:
        try:
            driver, problems = await RunDriver.resume(args.resume, env_name=env_name,
                                                      answers=answers, **kw)
        except McpOpsError as err:  # not found, does not verify, finished, busy…
            _err(str(err))
            return EXIT_REFUSED
        done = sorted(i + 1 for i in driver.completed) or "none"
        print(f"resuming {driver.log.id}: steps done {done}")
    else:
        driver = RunDriver.start(env_name=env_name, dry_run=args.dry_run, **kw)
        problems = await driver.set_inputs(answers)
    driver.run.take_over = getattr(args, "take_over", None)
    mode = " (read-only)" if driver.read_only else ""
    try:
        print(f"{wizard.id} on {driver.env_name}{mode} — session {driver.log.id}", flush=True)
        if problems:
            raise InputsRejected(problems)
        if args.dry_run:
            return await _dry_run(driver)
        driver.require_confirmations(confirmer.problem)
    except BrokenPipeError:  # the reader went away (`| head`) before any step ran: a dry run
        if args.dry_run:  # is ended all the same, never left resumable (that would run it)
            await driver.finish(RunState.DRY_RUN if driver.state.open else None)
        raise
    except McpOpsError as err:
        _err(str(err))
        await _finish(driver, RunState.REFUSED)
        return EXIT_REFUSED
    return await _steps(driver)


async def _dry_run(driver: RunDriver) -> int:
    """Every plan, nothing run. A plan that cannot be made is reported the way the executor
    reports it when a step runs (``no plan: ...``, a failed step in the log), the other
    plans are still shown, and the session record is ended either way."""
    total = len(driver.wizard.steps)
    entries = driver.dry_run()
    for entry in entries:
        step = entry.step
        if not entry.applicable:
            print(f"[{entry.index + 1}/{total}] {step.title}: skipped (not applicable)")
            continue
        print(f"[{entry.index + 1}/{total}] {step.title} ({step.risk.label})")
        if entry.plan is None:
            print(f"    -> {StepStatus.FAILED}: {entry.error}")
            continue
        print(f"    {entry.plan.summary}")  # plans are redacted already
        for command in entry.plan.commands:
            print(f"    $ {command}")
    if driver.state is RunState.DRY_RUN_FAILED:
        failed = ", ".join(str(e.index + 1) for e in entries if e.error)
        _err(f"dry run: no plan for step(s) {failed}")
        await _finish(driver)
        return EXIT_FAILED
    await _finish(driver)
    return EXIT_OK


async def _steps(driver: RunDriver) -> int:
    task = asyncio.current_task()
    assert task is not None  # called from a coroutine of asyncio.run
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    try:
        state = await driver.advance(stop_for_operator=False)
    except asyncio.CancelledError:
        print("interrupted: the session can be resumed with --resume " + driver.log.id,
              file=sys.stderr)
        await _finish(driver, RunState.ABORTED)
        return EXIT_INTERRUPTED
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    await _finish(driver, state)
    if state is RunState.COMPLETED:
        print(f"completed: session {driver.log.id}")
        return EXIT_OK
    return EXIT_REFUSED if state is RunState.REFUSED else EXIT_FAILED
