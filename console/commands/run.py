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

from actions.catalogue import CATALOGUE_IDS, get
from console.config import ConfigError, load
from console.execution.confirmation import CommandLineConfirmer
from console.execution.executor import (
    ABORTED,
    DECLINED,
    FAILED,
    OK,
    REFUSED,
    SKIPPED,
    OutputEvent,
    ProgressEvent,
    StateEvent,
)
from console.execution.log_store import resolve
from console.execution.session import ResumeError, WizardRun
from console.execution.session_log import default_directory

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_INTERRUPTED = 0, 1, 2, 130


def _err(message: str) -> None:
    print(f"mcp-ops run: {message}", file=sys.stderr)


async def _finish(run: WizardRun, status: str) -> None:
    """End the session; an S3 archive that failed is a warning on stderr, never a changed
    exit status (the local log is complete and closed either way)."""
    warning = await run.finish(status)
    if warning:
        print(f"mcp-ops run: {warning}", file=sys.stderr, flush=True)
    elif run.archived is not None:
        print(run.archived.describe(), flush=True)


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
    """Turns executor events into stdout lines; progress only when it changes."""

    def __init__(self, total: int):
        self.total = total
        self.last_progress: dict[int, tuple] = {}

    def __call__(self, event: Any) -> None:
        if isinstance(event, OutputEvent):
            print(f"    {event.text}", flush=True)
        elif isinstance(event, ProgressEvent):
            p = event.progress
            key = (p.done, p.total, p.label)
            if self.last_progress.get(event.step) != key:
                self.last_progress[event.step] = key
                total = f"/{p.total:g}" if p.total else ""
                print(f"    [{p.done:g}{total}] {p.label}", flush=True)
        elif isinstance(event, StateEvent) and event.state in (REFUSED, "confirming"):
            print(f"    {event.state}: {event.detail}", flush=True)


def main(args) -> int:
    try:
        _, config = load(getattr(args, "config", None))
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return EXIT_REFUSED
    try:
        wizard = get(args.wizard)
    except KeyError:
        _err(f"no wizard {args.wizard!r}; known: {', '.join(CATALOGUE_IDS)}")
        return EXIT_REFUSED
    if not wizard.built:
        _err(wizard.not_built_message())
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
    printer = Printer(len(wizard.steps))
    confirmer = CommandLineConfirmer(args.confirm)
    read_only = bool(getattr(args, "read_only", False))
    if args.resume:
        try:
            path = resolve(args.resume, default_directory(config.session_log.directory))
            run, problems = await WizardRun.resume(
                path, config=config, wizard=wizard, env_name=env_name, answers=answers,
                read_only=read_only, confirmer=confirmer, sink=printer)
        except (FileNotFoundError, ResumeError) as err:
            _err(str(err))
            return EXIT_REFUSED
        print(f"resuming {path.stem}: steps done {sorted(i + 1 for i in run.completed) or 'none'}")
    else:
        run = WizardRun(config=config, env_name=env_name, wizard=wizard, read_only=read_only,
                        confirmer=confirmer, sink=printer)
        run.start(dry_run=args.dry_run)
        problems = await run.resolve_inputs(answers)
    mode = " (read-only)" if run.read_only else ""
    print(f"{wizard.id} on {run.env_name}{mode} — session {run.log.id}", flush=True)
    if problems:
        _err(f"{len(problems)} invalid input(s):")
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        await _finish(run, "refused")
        return EXIT_REFUSED
    if args.dry_run:
        return await _dry_run(run)
    if not run.read_only:
        missing = [(r, confirmer.problem(r)) for r in run.confirmation_requests()]
        missing = [(r, why) for r, why in missing if why]
        if missing:
            _err(f"{len(missing)} step(s) need confirmation:")
            for request, why in missing:
                print(f"  step {request.step_index + 1} {request.step_title}: {why}",
                      file=sys.stderr)
            run.note("refused: missing confirmation for steps "
                     + ", ".join(str(r.step_index + 1) for r, _ in missing))
            await _finish(run, "refused")
            return EXIT_REFUSED
    return await _steps(run)


async def _dry_run(run: WizardRun) -> int:
    """Every plan, nothing run. A plan that cannot be made is reported the way the executor
    reports it when a step runs (``no plan: ...``, a failed step in the log), the other
    plans are still shown, and the session record is ended either way."""
    total = len(run.wizard.steps)
    failed = []
    for index, step in enumerate(run.wizard.steps):
        if not run.applicable(index):
            print(f"[{index + 1}/{total}] {step.title}: skipped (not applicable)")
            continue
        print(f"[{index + 1}/{total}] {step.title} ({step.risk.label})")
        try:
            plan = run.plan(index)
        except Exception as exc:  # noqa: BLE001 - as Executor.run_step: a failed step
            error = run.redactor.text(f"no plan: {exc}")
            run._log("step_end", {"step": index, "id": step.id, "status": FAILED,
                                  "duration": 0.0, "error": error, "dry_run": True}, sync=True)
            print(f"    -> {FAILED}: {error}")
            failed.append(index)
            continue
        run._log("step_plan", {"step": index, "id": step.id, "title": step.title,
                               "risk": step.risk.label, "summary": plan.summary,
                               "commands": list(plan.commands), "dry_run": True})
        print(f"    {plan.summary}")  # run.plan() is redacted already
        for command in plan.commands:
            print(f"    $ {command}")
    if failed:
        _err(f"dry run: no plan for step(s) {', '.join(str(i + 1) for i in failed)}")
        await _finish(run, "dry-run failed")
        return EXIT_FAILED
    await _finish(run, "dry-run")
    return EXIT_OK


async def _steps(run: WizardRun) -> int:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, task.cancel)
    total = len(run.wizard.steps)
    index = run.next_index()
    try:
        while index is not None:
            step = run.wizard.steps[index]
            print(f"[{index + 1}/{total}] {step.title} ({step.risk.label})", flush=True)
            outcome = await run.run_step(index)
            print(f"    -> {outcome.status}" + (f": {outcome.error}" if outcome.error
                                                 and outcome.status != SKIPPED else ""),
                  flush=True)
            if outcome.status in (REFUSED, DECLINED):
                await _finish(run, "refused")
                return EXIT_REFUSED
            if outcome.status not in (OK, SKIPPED):
                await _finish(run, "failed")
                return EXIT_FAILED
            index = run.next_index(index)
    except asyncio.CancelledError:
        print("interrupted: the session can be resumed with --resume " + run.log.id,
              file=sys.stderr)
        await _finish(run, ABORTED)
        return EXIT_INTERRUPTED
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
    await _finish(run, "completed")
    print(f"completed: session {run.log.id}")
    return EXIT_OK
