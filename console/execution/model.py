"""What a wizard is: data the executor runs, the console draws and the headless runner prints.

A :class:`Wizard` is one procedure of the operations guide as an ordered list of
:class:`Step` objects. A step says what it will do before doing it (``plan`` — a sentence
plus the equivalent shell command from the guide, so an operator can check one against the
other), how dangerous it is (``risk``), which answers it needs (``inputs``) and how it is
done (``run`` — an async generator of output lines and :class:`Progress`). Steps never hold
clients: they get a :class:`~console.execution.context.StepContext` from the executor, and
only the executor can hand a step the means to change anything (``ctx.mutations``), after
the read-only check and the confirmation. No Textual here: the same objects drive the
console and ``mcp-ops run``.
"""

from __future__ import annotations

import shlex
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from console.config.model import Environment

    from .context import StepContext
    from .inputs import Input


class Risk(IntEnum):
    """How much a step can hurt. The order matters: the highest risk of a wizard is shown."""

    READ = 0  # looks only; runs in read-only mode, no confirmation
    CHANGE = 1  # changes something reversible; yes/no confirmation
    DESTRUCTIVE = 2  # loses data or availability; protected environments need the name typed

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Plan:
    """What a step will do, in words, and the guide's equivalent command(s) for checking."""

    summary: str
    commands: tuple[str, ...] = ()

    @staticmethod
    def command(*argv: Any) -> str:
        """Render an argument list as a shell command line, for display only."""
        return shlex.join(str(a) for a in argv)


@dataclass(frozen=True)
class Progress:
    """Long work reports how far it is (rollout replicas, restored items, drained pods)."""

    done: float
    total: float | None = None
    label: str = ""


@dataclass(frozen=True)
class Line:
    """An output line from a step; ``stream`` is stdout, stderr or info."""

    text: str
    stream: str = "info"


StepOutput = str | Line | Progress


class StepFailed(Exception):
    """Raised by a step (or its verify) to fail with a message for the operator."""


class StepSkipped(Exception):
    """Raised by a running step that finds nothing it can do (no Prometheus configured to
    ask, a healthy rollout to undo): the step ends *skipped* with the message, not ok —
    a check that was not made must not read as passed. The wizard goes on."""


PlanFn = Callable[["StepContext"], Plan]
RunFn = Callable[["StepContext"], AsyncIterator[StepOutput]]
VerifyFn = Callable[["StepContext"], Awaitable[str | None]]
CheckFn = Callable[[Mapping[str, Any], "Environment"], Sequence[str]]


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    explanation: str  # the guide's words for why and when
    risk: Risk
    plan: PlanFn
    run: RunFn
    inputs: tuple[Input, ...] = ()
    verify: VerifyFn | None = None  # returns a short "verified: ..." line, raises StepFailed
    applies: Callable[[Mapping[str, Any]], bool] | None = None  # None = always
    timeout: float = 300.0
    typed_confirmation: Callable[[StepContext], str | None] | None = None
    """Why this step needs the environment's name typed whatever its risk and environment
    (a maintenance started outside its window), or None: the policy by risk alone."""

    def typed_reason(self, ctx: StepContext) -> str | None:
        return self.typed_confirmation(ctx) if self.typed_confirmation is not None else None

    def applicable(self, values: Mapping[str, Any]) -> bool:
        return self.applies is None or bool(self.applies(values))


@dataclass(frozen=True)
class Wizard:
    id: str
    title: str
    section: str  # where it is in the operations guide
    when: str  # when to use it, one sentence
    steps: tuple[Step, ...] = ()
    planned_risk: Risk | None = None  # for catalogue entries not built yet
    issue: str = ""  # for planned entries: which issue builds it
    check: CheckFn | None = field(default=None)
    """Cross-input validation: (values, env) -> problems, e.g. HPA min above max."""

    @property
    def built(self) -> bool:
        return bool(self.steps)

    @property
    def highest_risk(self) -> Risk:
        if not self.steps:
            return self.planned_risk or Risk.READ
        return max(step.risk for step in self.steps)

    def inputs(self) -> list[Input]:
        """Every input of every step, once each, in step order."""
        seen: dict[str, Input] = {}
        for step in self.steps:
            for item in step.inputs:
                seen.setdefault(item.name, item)
        return list(seen.values())

    def not_built_message(self) -> str:
        return (f"wizard {self.id!r} ({self.title}) is planned but not built yet"
                + (f" — {self.issue}" if self.issue else "")
                + f"; until then follow the guide's section \"{self.section}\" by hand")
