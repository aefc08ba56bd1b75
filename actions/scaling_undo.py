"""The scaling wizard's way back: what it changed is kept in the log, and can be put back.

Before the HPA step patches anything it writes the HPA's previous minimum, maximum and CPU
target, and the deployment's replica count, into the session log (a ``note`` record,
hash-chained and fsynced like every record) — the count before the HPA's new bounds move
it; the scale step records the count too when the HPA step did not run. The first value
recorded for each is the one an undo restores. Undoing is running the
wizard again with one answer: ``undo`` — the id of that earlier session
(``mcp-ops run scaling --set undo=SESSION``; in the console, the undo field offers the
recent scaling sessions of this environment). The log is verified first (an edited log is
refused), and the recorded values replace the inputs: the plan shows them, and each step
that has nothing recorded is skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.log_store import verify
from console.execution.session_log import default_directory

PREVIOUS = "scaling_previous"  # key of the note's data holding the previous values
KEEP = 20  # sessions offered for an undo
SESSION_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[A-Za-z0-9-]+")


@dataclass(frozen=True)
class Previous:
    """The values a scaling session found before changing them (None: not recorded)."""

    session: str
    replicas: int | None = None
    hpa_min: int | None = None
    hpa_max: int | None = None
    cpu_target: int | None = None

    def __str__(self) -> str:
        return self.session

    @property
    def hpa(self) -> bool:
        return None not in (self.hpa_min, self.hpa_max, self.cpu_target)

    def describe(self) -> str:
        parts = []
        if self.hpa:
            parts.append(f"HPA min {self.hpa_min}, max {self.hpa_max}, cpu {self.cpu_target}%")
        if self.replicas is not None:
            parts.append(f"{self.replicas} replicas")
        return f"session {self.session}: " + ("; ".join(parts) or "nothing recorded")


def record(ctx: StepContext, text: str, **values: int | None) -> None:
    """Keep previous values in the session log (a note), for an undo."""
    ctx.note(text, **{PREVIOUS: values})


def _directory(ctx: StepContext) -> Path:
    return default_directory(ctx.config.session_log.directory)


def load(path: Path, env_name: str) -> Previous:
    """The previous values recorded in one session log; InputError if the log does not
    verify, is of another environment, or recorded nothing."""
    check = verify(path)
    if not check.ok:
        raise InputError(f"session {path.stem} does not verify ({check.describe()}): its "
                         "values cannot be trusted for an undo")
    records = check.records
    if records and records[0].get("env") != env_name:
        raise InputError(f"session {path.stem} ran on {records[0].get('env')!r}, "
                         f"not {env_name!r}")
    found: dict[str, Any] = {}
    for r in records:  # the first value recorded is the one from before the run
        if r["event"] == "note" and isinstance(r["data"].get(PREVIOUS), dict):
            for key, value in r["data"][PREVIOUS].items():
                found.setdefault(key, value)
    if not found:
        raise InputError(f"session {path.stem} recorded no previous values (it changed "
                         "nothing)")
    return Previous(path.stem, **{k: found.get(k) for k in
                                  ("replicas", "hpa_min", "hpa_max", "cpu_target")})


async def undoable_sessions(ctx: StepContext) -> list[str]:
    """The recent scaling sessions of this environment that recorded previous values,
    newest first."""
    directory = _directory(ctx)
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*-scaling-*.jsonl"), reverse=True)[:KEEP * 3]:
        try:
            load(path, ctx.env_name)
        except (InputError, OSError, ValueError):
            continue
        found.append(path.stem)
        if len(found) == KEEP:
            break
    return found


@dataclass(frozen=True)
class UndoInput(Input):
    """An earlier scaling session whose previous values to restore; empty: no undo. The
    value is the recorded values (:class:`Previous`); the log keeps the session id."""

    kind: str = field(default="session to undo", init=False)

    async def options(self, ctx: StepContext) -> list[str]:
        return await undoable_sessions(ctx)

    async def convert(self, text: str, ctx: StepContext) -> Previous:
        path = _directory(ctx) / f"{text}.jsonl"
        if not SESSION_ID.fullmatch(text) or not path.is_file():
            offered = await self.options(ctx)
            raise InputError(f"no scaling session {text!r} to undo; recent ones: "
                             f"{', '.join(offered[:5]) or '(none)'}")
        return load(path, ctx.env_name)


UNDO = UndoInput("undo", "Undo an earlier scaling session (empty: no)", required=False,
                 default=None,
                 help="Its previous HPA settings and replica count, read from its session "
                      "log, replace the answers above.")


def undo_of(ctx: StepContext) -> Previous | None:
    value = ctx.values.get("undo")
    return value if isinstance(value, Previous) else None
