"""Taking the environment's operator lease over: the holder's name typed, nothing less.

Shown when a change step was refused because another operator holds the environment
(:mod:`console.execution.kube.lease`). It says who holds it, for which wizard and session,
and since when; Enter with the holder's user name typed takes it over (both sessions' logs
record it), anything else is refused with the reason; Esc leaves it as it is.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from console.execution.kube.lease import LeaseState


class TakeOverModal(ModalScreen[str | None]):
    DEFAULT_CSS = """
    TakeOverModal { align: center middle; }
    TakeOverModal > Vertical {
        width: 100%; max-width: 80; height: auto; border: thick $warning;
        background: $surface; padding: 0 1;
    }
    TakeOverModal Label, TakeOverModal Static { width: 100%; }
    TakeOverModal #why { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Leave it", id="takeover.cancel")]

    def __init__(self, env_name: str, state: LeaseState) -> None:
        super().__init__()
        self.env_name = env_name
        self.state = state
        self.holder = state.holder.operator if state.holder else ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.env_name} is held by another operator[/b]", markup=True)
            yield Static(self.state.describe(), markup=False)
            yield Static("Taking it over lets this session change the environment while "
                         "they may still be at work: talk to them first. Both session logs "
                         "record it.", markup=False)
            yield Input(placeholder=f"type {self.holder}", id="holder")
            yield Label(f"Type {self.holder!r} and Enter to take over · Esc leaves it",
                        markup=False)
            yield Static("", id="why", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#holder", Input).focus()

    @on(Input.Submitted, "#holder")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip() == self.holder:
            self.dismiss(self.holder)
        else:
            self.query_one("#why", Static).update(
                f"{event.value.strip()!r} is not the holder's name ({self.holder!r})")

    def action_cancel(self) -> None:
        self.dismiss(None)
