"""Small widgets of the wizard runner: the step list, the plan view and the input form.

They only draw what the runner hands them (step states, a Plan, input definitions and
problems); none of them talks to the executor or a client.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from console.execution.inputs import Input as WizardInput
from console.execution.model import Plan, Risk, Step

STATE_MARK = {
    "pending": ("·", "dim"), "running": ("▶", "bold cyan"), "confirming": ("?", "bold yellow"),
    "verifying": ("▶", "cyan"), "ok": ("✓", "green"), "skipped": ("↷", "dim"),
    "failed": ("✗", "bold red"), "timed-out": ("✗", "bold red"), "refused": ("⊘", "yellow"),
    "declined": ("⊘", "yellow"), "aborted": ("■", "red"), "planned": ("·", "bold"),
}
RISK_MARK = {Risk.READ: ("r", "green"), Risk.CHANGE: ("c", "yellow"),
             Risk.DESTRUCTIVE: ("D", "bold red")}


class StepList(Static):
    """Steps with their state; the current one is highlighted."""

    DEFAULT_CSS = "StepList { width: 24; height: 1fr; border-right: solid $panel-lighten-2; }"

    def __init__(self, steps: tuple[Step, ...], **kw) -> None:
        super().__init__(**kw)
        self.steps = steps
        self.states = ["pending"] * len(steps)
        self.current = 0

    def set_state(self, index: int, state: str) -> None:
        self.states[index] = state
        self.refresh_list()

    def set_current(self, index: int) -> None:
        self.current = index
        self.refresh_list()

    def on_mount(self) -> None:
        self.refresh_list()

    def refresh_list(self) -> None:
        text = Text()
        for i, step in enumerate(self.steps):
            mark, style = STATE_MARK.get(self.states[i], ("·", "dim"))
            risk, risk_style = RISK_MARK[step.risk]
            line = Text.assemble((f"{mark} ", style), (risk, risk_style), f" {i + 1}. {step.title}")
            line.truncate(22, overflow="ellipsis")
            if i == self.current:
                line.stylize("reverse")
            text.append_text(line)
            text.append("\n")
        self.update(text)


def render_plan(index: int, step: Step, plan: Plan | None, note: str = "") -> Text:
    text = Text.assemble((f"{index + 1}. {step.title}", "bold"), "  ",
                         (f"[{step.risk.label}]", RISK_MARK[step.risk][1]), "\n")
    text.append(step.explanation + "\n", "dim")
    if plan is not None:
        text.append(plan.summary + "\n")
        for command in plan.commands:
            text.append(f"$ {command}\n", "cyan")
    if note:
        text.append(note, "yellow")
    return text


class InputForm(Vertical):
    """One labelled field per input, with its error underneath (inline validation)."""

    DEFAULT_CSS = """
    InputForm { height: auto; max-height: 12; }
    InputForm Label { height: 1; }
    InputForm Input, InputForm Input:focus { height: 1; border: none; padding: 0 1;
                                             background: $boost; }
    InputForm Input:focus { background: $accent 30%; }
    InputForm Input.-invalid { background: $error 30%; }
    InputForm .error { color: $error; height: auto; }
    """

    def __init__(self, inputs: list[WizardInput], values: dict[str, str], **kw) -> None:
        super().__init__(**kw)
        self.inputs = inputs
        self.values = values

    def compose(self) -> ComposeResult:
        for item in self.inputs:
            hint = f" ({item.kind})" + ("" if item.required else ", optional")
            yield Label(f"{item.label}{hint}", markup=False)
            yield Input(value=self.values.get(item.name, ""), password=item.secret,
                        id=f"input-{item.name}", tooltip=item.help or None)
            yield Static("", classes="error", id=f"error-{item.name}", markup=False)

    def answers(self) -> dict[str, str]:
        return {i.name: self.query_one(f"#input-{i.name}", Input).value for i in self.inputs}

    def show_problems(self, problems: dict[str, str]) -> None:
        for item in self.inputs:
            message = problems.get(item.name, "")
            self.query_one(f"#error-{item.name}", Static).update(message)
            self.query_one(f"#input-{item.name}", Input).set_class(bool(message), "-invalid")
        first = next((i for i in self.inputs if i.name in problems), None)
        if first is not None:
            self.query_one(f"#input-{first.name}", Input).focus()

    def focus_first(self) -> None:
        if self.inputs:
            self.query_one(f"#input-{self.inputs[0].name}", Input).focus()


class Placeholder(Widget):
    DEFAULT_CSS = "Placeholder { height: 0; }"
