"""The Alerts panel: every active threshold violation, worst first, each with its reason
in words and figures.

Alerts are sentences, and at 80 columns a sentence does not fit in a table cell, so this
panel wraps them as lines of text instead of a table; it is re-rendered only when the set
of alerts or their words change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from console.health.status import Status

from ..widgets import set_text
from .base import Panel

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.health.evaluate import HealthReport

BADGE = {Status.UNKNOWN: ("UNRE", "bold white on magenta"),
         Status.CRITICAL: ("CRIT", "bold white on red"),
         Status.WARNING: ("WARN", "bold black on yellow")}


def render_alerts(report: HealthReport) -> Text:
    alerts = report.alerts
    text = Text()
    if not alerts:
        text.append(f"no active alerts ({len(report.components)} components checked)", "green")
        return text
    counts = [f"{sum(1 for a in alerts if a.status is s)} {s.label.lower()}"
              for s in sorted(Status, reverse=True) if any(a.status is s for a in alerts)]
    text.append(", ".join(counts) + "\n", "bold")
    for a in alerts:
        label, style = BADGE.get(a.status, ("", ""))
        text.append(f" {label} ", style)
        text.append(f" {a.component}: ", "bold")
        text.append(f"{a.reason}\n")
    text.rstrip()
    return text


class AlertsPanel(Panel):
    TITLE = "Alerts"
    HINT = "active threshold violations, worst first"
    BINDINGS = [Binding("enter", "drill_down", "Respond", id="alerts.respond")]
    DEFAULT_CSS = """
    AlertsPanel > VerticalScroll { height: 1fr; scrollbar-size: 0 0; }
    """

    def compose(self) -> ComposeResult:
        yield from super().compose()
        with VerticalScroll():
            yield Static("", id="alerts-list")

    def show_health(self, report: HealthReport) -> None:
        self.report = report
        self._reveal(True)
        text = render_alerts(report)
        if getattr(self, "_shown", None) != text.plain:
            self._shown = text.plain
            set_text(self.query_one("#alerts-list", Static), text)
        self._status_class(report.status if report.alerts else Status.HEALTHY)

    def action_drill_down(self) -> None:
        """Enter: choose an alert to respond to; its wizard opens with what it knows."""
        from ..respond_modal import RespondModal

        report = getattr(self, "report", None)
        if report is None or not report.alerts:
            self.notify("no active alerts", markup=False)
            return
        self.app.push_screen(RespondModal(report.alerts), self._respond)

    def _respond(self, route) -> None:
        if route is not None:
            self.app.start_wizard(route.wizard_id, answers=dict(route.answers))
