"""Small widgets of the wizard runner: the step list, the plan view and the input form.

They only draw what the runner hands them (step states, a Plan, input definitions and
problems); none of them talks to the executor or a client.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from console.execution.inputs import Input as WizardInput
from console.execution.model import Plan, Risk, Step

from .wrap_log import wrap_text

STATE_MARK = {
    "pending": ("·", "dim"), "running": ("▶", "bold cyan"), "confirming": ("?", "bold yellow"),
    "verifying": ("▶", "cyan"), "ok": ("✓", "green"), "skipped": ("↷", "dim"),
    "failed": ("✗", "bold red"), "timed-out": ("✗", "bold red"), "refused": ("⊘", "yellow"),
    "declined": ("⊘", "yellow"), "aborted": ("■", "red"), "planned": ("·", "bold"),
}
RISK_MARK = {Risk.READ: ("r", "green"), Risk.CHANGE: ("c", "yellow"),
             Risk.DESTRUCTIVE: ("D", "bold red")}


class StepList(Widget):
    """Steps with their state; the current one is highlighted.

    As wide as its longest title needs, up to 40% of the screen (32 columns at 80); a
    longer title wraps under itself. When the rows do not fit the height, the rows around
    the current step are shown, with how many more are above and below.
    """

    DEFAULT_CSS = """
    StepList { width: auto; min-width: 24; max-width: 40%; height: 1fr;
               border-right: solid $panel-lighten-2; }
    """

    def __init__(self, steps: tuple[Step, ...], **kw) -> None:
        super().__init__(**kw)
        self.steps = steps
        self.states = ["pending"] * len(steps)
        self.current = 0

    def set_state(self, index: int, state: str) -> None:
        self.states[index] = state
        self.refresh()

    def set_current(self, index: int) -> None:
        self.current = index
        self.refresh()

    def refresh_list(self) -> None:
        self.refresh()

    @staticmethod
    def _prefix(index: int) -> str:
        return f"· r {index + 1}. "  # the mark and the risk letter are one cell each

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return max((cell_len(self._prefix(i) + s.title) for i, s in enumerate(self.steps)),
                   default=1)

    def step_rows(self, width: int) -> list[tuple[int, Text]]:
        """Every step's rows at ``width`` columns, with the step's index."""
        rows: list[tuple[int, Text]] = []
        for i, step in enumerate(self.steps):
            mark, style = STATE_MARK.get(self.states[i], ("·", "dim"))
            risk, risk_style = RISK_MARK[step.risk]
            prefix = self._prefix(i)
            pieces = wrap_text(prefix + step.title, width, hang=len(prefix))
            for n, piece in enumerate(pieces):
                row = (Text.assemble((mark, style), " ", (risk, risk_style), piece[3:],
                                     no_wrap=True) if n == 0 else Text(piece, no_wrap=True))
                if i == self.current:
                    row.stylize("reverse")
                rows.append((i, row))
        return rows

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        rows = self.step_rows(width)
        if height and len(rows) > height:
            rows = self._window(rows, height)
        return Text("\n").join(row for _, row in rows)

    def _window(self, rows: list[tuple[int, Text]], height: int) -> list[tuple[int, Text]]:
        """``height`` rows showing the whole current step, with a row that says how many
        are left out above and one for below (where there are)."""
        total = len(rows)
        mine = [n for n, (i, _) in enumerate(rows) if i == self.current] or [0]
        first, last = mine[0], mine[-1] + 1
        if last <= height - 1:  # from the top
            start, end = 0, height - 1
        elif first >= total - (height - 1):  # to the bottom
            start, end = total - (height - 1), total
        else:
            room = max(height - 2, 1)
            start = max(1, first - 1, last - room)
            end = start + room
        out = [(-1, Text(f"  ↑ {start} more", "dim"))] if start else []
        out += rows[start:end]
        if end < total:
            out.append((-1, Text(f"  ↓ {total - end} more", "dim")))
        return out


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
    text.rstrip()  # no blank row under the plan: at 80x24 every row counts
    return text


class InputForm(Vertical):
    """One labelled field per input, with its error underneath (inline validation).

    Labels and errors wrap; the runner's plan pane scrolls when the form is taller than it.
    Escape in a field leaves the form (the runner's keys work again)."""

    DEFAULT_CSS = """
    InputForm { height: auto; }
    InputForm Label { width: 100%; height: auto; }
    InputForm Input, InputForm Input:focus { height: 1; border: none; padding: 0 1;
                                             background: $boost; }
    InputForm Input:focus { background: $accent 30%; }
    InputForm Input.-invalid { background: $error 30%; }
    InputForm .error { color: $error; height: auto; display: none; }
    InputForm .error.-shown { display: block; }
    """
    BINDINGS = [Binding("escape", "screen.leave_field", "Leave field", id="wizard.form.leave")]

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
            error = self.query_one(f"#error-{item.name}", Static)
            error.update(message)
            error.set_class(bool(message), "-shown")  # no empty row under a good answer
            self.query_one(f"#input-{item.name}", Input).set_class(bool(message), "-invalid")
        first = next((i for i in self.inputs if i.name in problems), None)
        focused = self.screen.focused
        if first is not None and focused is not None and self in focused.ancestors:
            # only within the form: focus never jumps into it on its own (r would be typed)
            self.query_one(f"#input-{first.name}", Input).focus()

    def focus_first(self) -> None:
        if self.inputs:
            self.query_one(f"#input-{self.inputs[0].name}", Input).focus()


class Placeholder(Widget):
    DEFAULT_CSS = "Placeholder { height: 0; }"
