"""Respond to an alert: the active alerts that a wizard answers, each with its wizard.

Enter on the Alerts panel opens this list (the worst alert first, preselected); Enter on a
line opens its wizard with what the finding already tells filled in (the blocking pid...),
through :func:`actions.alerts.routing.wizard_for`. Alerts no wizard answers (a backup, a
certificate) are listed as such and cannot be chosen.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from actions.alerts.routing import Route, wizard_for
from console.health.status import Finding


def routes(alerts: tuple[Finding, ...]) -> list[tuple[Finding, Route | None]]:
    return [(a, wizard_for(a)) for a in alerts]


class RespondModal(ModalScreen[Route | None]):
    DEFAULT_CSS = """
    RespondModal { align: center middle; }
    RespondModal > Vertical { width: 100%; max-width: 90; height: auto; max-height: 90%;
                              border: thick $warning; background: $surface; padding: 0 1; }
    RespondModal OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "dismiss_none", "Close", id="respond.close")]

    def __init__(self, alerts: tuple[Finding, ...]) -> None:
        super().__init__()
        self.routed = routes(alerts)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Respond to which alert?[/b] Enter opens its wizard", markup=True)
            options = []
            for i, (finding, route) in enumerate(self.routed):
                target = f"→ {route.wizard_id}" if route else "(no wizard answers it)"
                options.append(Option(f"{finding.status.label[:4]} {finding.component}: "
                                      f"{finding.reason}  {target}", id=str(i),
                                      disabled=route is None))
            yield OptionList(*options, id="alerts-to-answer")
        yield Footer()

    def on_mount(self) -> None:
        listing = self.query_one(OptionList)
        first = next((i for i, (_, r) in enumerate(self.routed) if r), None)
        if first is not None:
            listing.highlighted = first
        listing.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.routed[int(event.option.id or 0)][1])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
