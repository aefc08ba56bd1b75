"""Who has to say yes before a step runs, and how.

The policy follows DESIGN.md: a ``read`` step needs nothing; a ``change`` step needs a
yes/no; a ``destructive`` step in a ``protected`` environment needs the environment's name
typed exactly (a muscle-memory "y" must not drop production's database). A step may also
ask for the name typed for a reason of its own, whatever its risk
(``Step.typed_confirmation``: a maintenance started outside its window). The console asks
in a modal; ``mcp-ops run`` takes the answer from ``--confirm ENV`` up front, and refuses
with every step that would need it listed when it is missing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from console.execution.model import Plan, Risk

NONE, YES_NO, TYPED = "none", "yes/no", "typed"


def confirmation_kind(risk: Risk, protected: bool) -> str:
    if risk == Risk.READ:
        return NONE
    if risk == Risk.DESTRUCTIVE and protected:
        return TYPED
    return YES_NO


@dataclass(frozen=True)
class ConfirmationRequest:
    step_index: int
    step_title: str
    risk: Risk
    env_name: str
    protected: bool
    plan: Plan
    reason: str | None = None  # why the name must be typed whatever the risk (Step.typed_confirmation)

    @property
    def kind(self) -> str:
        return TYPED if self.reason else confirmation_kind(self.risk, self.protected)

    def prompt(self) -> str:
        if self.reason:
            return (f"Step {self.step_index + 1} \"{self.step_title}\": {self.reason}. "
                    f"Type {self.env_name!r} to go on.")
        if self.kind == TYPED:
            return (f"Step {self.step_index + 1} \"{self.step_title}\" is DESTRUCTIVE in the "
                    f"protected environment {self.env_name}. Type {self.env_name!r} to go on.")
        return (f"Step {self.step_index + 1} \"{self.step_title}\" will change "
                f"{self.env_name}. Go on?")


@dataclass(frozen=True)
class ConfirmationAnswer:
    confirmed: bool
    typed: str | None = None  # what was typed, for TYPED confirmations


def accepted(request: ConfirmationRequest, answer: ConfirmationAnswer) -> tuple[bool, str]:
    """Does the answer satisfy the policy? (ok, why not)."""
    if request.kind == NONE:
        return True, ""
    if not answer.confirmed:
        return False, "declined"
    if request.kind == TYPED and answer.typed != request.env_name:
        return False, (f"typed {answer.typed!r}, but the environment's name "
                       f"{request.env_name!r} is required")
    return True, ""


Confirmer = Callable[[ConfirmationRequest], Awaitable[ConfirmationAnswer]]


class CommandLineConfirmer:
    """``--confirm ENV``: confirms every change/destructive step, if ENV names this
    environment. Naming another environment is refused: it is almost always a run pointed
    at the wrong place."""

    def __init__(self, confirm: str | None):
        self.confirm = confirm

    def problem(self, request: ConfirmationRequest) -> str | None:
        if request.kind == NONE:
            return None
        if self.confirm is None:
            return f"needs --confirm {request.env_name} ({request.kind}, {request.risk.label})"
        if self.confirm != request.env_name:
            return (f"--confirm {self.confirm} does not name this environment; "
                    f"needs --confirm {request.env_name}")
        return None

    async def __call__(self, request: ConfirmationRequest) -> ConfirmationAnswer:
        if self.problem(request):
            return ConfirmationAnswer(False, self.confirm)
        return ConfirmationAnswer(True, self.confirm)
