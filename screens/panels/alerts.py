"""The Alerts panel: every active threshold violation, worst first, each with its reason
in words and figures. Rows are keyed by check, so an alert that stays keeps its row."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.health.evaluate import HealthReport
from console.health.status import Status

from ..tables import add_columns, sync_rows
from .base import Panel

STYLE = {Status.UNKNOWN: "bold white on magenta", Status.CRITICAL: "bold white on red",
         Status.WARNING: "bold black on yellow"}
RANK = {s.label[:4]: -int(s) for s in Status}  # keyed by the 4-letter badge
COLUMNS = [("status", "status"), ("what", "component"), ("reason", "reason")]


class AlertsPanel(Panel):
    TITLE = "Alerts"
    HINT = "active threshold violations, worst first"

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="alerts-summary", classes="panel-body")
        yield DataTable(id="alerts-table", cursor_type="row", show_header=False)

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), COLUMNS)
        super().on_mount()

    def show_health(self, report: HealthReport) -> None:
        for placeholder in self.query(".panel-placeholder"):
            placeholder.display = False
        alerts = report.alerts
        counts = {s: sum(1 for a in alerts if a.status is s) for s in Status}
        summary = Text()
        if not alerts:
            summary.append(f"no active alerts ({len(report.components)} components checked)", "green")
        else:
            parts = [f"{counts[s]} {s.label.lower()}" for s in reversed(Status) if counts[s]]
            summary.append(", ".join(parts))
        self.query_one("#alerts-summary", Static).update(summary)
        rows = [(a.key, [Text(f" {a.status.label[:4]} ", STYLE.get(a.status, "")), a.component,
                         a.reason]) for a in alerts]
        sync_rows(self.query_one(DataTable), rows, sort_column="status",
                  sort_key=lambda cell: RANK.get(cell.plain.strip(), 0) if isinstance(cell, Text) else 0)
        self._status_class(report.status if alerts else Status.HEALTHY)
