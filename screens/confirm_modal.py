"""The confirmation modal: yes/no for a change, the environment's name typed for a
destructive step in a protected environment.

The plan and its equivalent command are repeated here, so what is confirmed is exactly
what was shown. For a typed confirmation the Confirm button stays disabled until the text
matches, and Enter on a wrong text says so instead of confirming.

At 80x24 a long plan (the PITR recovery manifest) does not fit: its pane scrolls with
PageUp/PageDown wherever the focus is (the footer offers them only then). Every line
wraps, and the modal has its own footer, so the keys shown are the keys that work here.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from console.execution.confirmation import TYPED, ConfirmationAnswer, ConfirmationRequest


class ConfirmModal(ModalScreen[ConfirmationAnswer]):
    DEFAULT_CSS = """
    ConfirmModal { align: center middle; }
    ConfirmModal > Vertical {
        width: 100%; max-width: 90; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    ConfirmModal .plan { color: $text-muted; height: auto; max-height: 9;
                         scrollbar-size-vertical: 1; }
    ConfirmModal Label { width: 100%; }
    ConfirmModal #why { color: $error; height: auto; }
    ConfirmModal .keys { color: $text-muted; }
    ConfirmModal Horizontal { height: 3; align-horizontal: right; }
    ConfirmModal Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("escape,n", "decline", "Cancel", id="confirm.cancel"),
        Binding("y", "confirm", "Confirm", id="confirm.yes"),
        Binding("pageup", "scroll_plan(-1)", "Plan ↑", id="confirm.plan-up"),
        Binding("pagedown", "scroll_plan(1)", "Plan ↓", id="confirm.plan-down"),
    ]

    def __init__(self, request: ConfirmationRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        req = self.request
        with Vertical():
            yield Label(f"[b]{req.risk.label.upper()}[/b] step {req.step_index + 1}: "
                        f"{req.step_title}", markup=True)
            commands = "\n".join(f"$ {c}" for c in req.plan.commands)
            with VerticalScroll(classes="plan", id="plan", can_focus=False):
                yield Static(f"{req.plan.summary}\n{commands}", markup=False)
            yield Label(req.prompt(), markup=False)
            if req.kind == TYPED:
                yield Input(placeholder=f"type {req.env_name}", id="typed")
                yield Label(f"Type {req.env_name!r} and Enter to confirm · Esc cancels",
                            classes="keys", markup=False)
            else:
                yield Label("y confirms · n or Esc cancels", classes="keys", markup=False)
            yield Static("", id="why", markup=False)
            with Horizontal():
                yield Button("Cancel", id="no")
                yield Button("Confirm", id="yes", variant="error",
                             disabled=req.kind == TYPED)
        yield Footer()

    def on_mount(self) -> None:
        if self.request.kind == TYPED:
            self.query_one("#typed", Input).focus()
        else:
            self.query_one("#no", Button).focus()
        # the footer offers PageUp/PageDown once the plan's pane is laid out and too short
        self.watch(self._plan(), "virtual_size", lambda _: self.refresh_bindings(), init=False)

    def _plan(self) -> VerticalScroll:
        return self.query_one("#plan", VerticalScroll)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "scroll_plan":  # offered only when the plan does not fit
            return self._plan().max_scroll_y > 0
        return True

    def action_scroll_plan(self, direction: int) -> None:
        plan = self._plan()
        if direction < 0:
            plan.scroll_page_up(animate=False)
        else:
            plan.scroll_page_down(animate=False)

    @on(Input.Changed, "#typed")
    def _typed(self, event: Input.Changed) -> None:
        self.query_one("#yes", Button).disabled = event.value != self.request.env_name
        self.query_one("#why", Static).update("")

    @on(Input.Submitted, "#typed")
    def _submit(self, event: Input.Submitted) -> None:
        if event.value == self.request.env_name:
            self.dismiss(ConfirmationAnswer(True, event.value))
        else:
            self.query_one("#why", Static).update(
                f"{event.value!r} is not {self.request.env_name!r}: type the environment's name")

    @on(Button.Pressed, "#yes")
    def _yes(self) -> None:
        typed = self.query_one("#typed", Input).value if self.request.kind == TYPED else None
        self.dismiss(ConfirmationAnswer(True, typed))

    def action_confirm(self) -> None:
        """``y``: only for a yes/no confirmation — a typed one needs the name (and while
        its input has focus the key is typed into it, not taken as a binding)."""
        if self.request.kind != TYPED:
            self.dismiss(ConfirmationAnswer(True, None))

    @on(Button.Pressed, "#no")
    def _no(self) -> None:
        self.action_decline()

    def action_decline(self) -> None:
        typed = self.query_one("#typed", Input).value if self.request.kind == TYPED else None
        self.dismiss(ConfirmationAnswer(False, typed))
