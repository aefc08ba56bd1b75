"""The Backups panel: the latest Velero backups (phase, age, errors/warnings) and the
latest database dump in S3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from ..tables import add_columns, sync_rows
from ..widgets import set_text
from .base import Panel
from .database import size

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.backups_model import BackupsSnapshot, VeleroBackup

COLUMNS = [("backup", "name"), ("phase", "phase"), ("age", "age"), ("err/warn", "issues")]
PHASE_STYLE = {"Completed": "green", "PartiallyFailed": "yellow", "Failed": "bold red",
               "InProgress": "cyan"}


def hours(h: float | None) -> str:
    if h is None:
        return "?"
    return f"{h * 60:.0f}m" if h < 1 else f"{h:.0f}h" if h < 48 else f"{h / 24:.0f}d"


def backup_cells(b: VeleroBackup) -> list:
    return [b.name, Text(b.phase or "?", PHASE_STYLE.get(b.phase, "")), hours(b.age_hours),
            Text(f"{b.errors}/{b.warnings}", "yellow" if b.errors or b.warnings else "")]


class BackupsPanel(Panel):
    TITLE = "Backups"
    HINT = "latest Velero backups and S3 dumps"
    COMPONENT = "backups"
    BINDINGS = [
        Binding("b", "backup_now", "Backup now", id="backups.now"),
        Binding("v", "restore", "Restore it", id="backups.restore"),
    ]

    def selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value)

    def action_backup_now(self) -> None:
        from actions.panel_actions import backup_now

        namespace = self.app.environment.kubernetes.namespace
        self.app.start_action(backup_now(namespace))

    def action_restore(self) -> None:
        """velero-restore with the backup under the cursor filled in."""
        backup = self.selected()
        if backup is None:
            self.notify("no Velero backup under the cursor", severity="warning")
            return
        self.app.start_wizard("velero-restore", answers={"backup": backup})

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="backups-s3", classes="panel-body")
        yield DataTable(id="backups-velero", cursor_type="row")

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), COLUMNS)
        super().on_mount()

    def show(self, snap: BackupsSnapshot) -> None:
        line = Text("S3 ", "bold")
        if snap.s3_error:
            line.append(f"unreadable: {snap.s3_error}", "yellow")
        elif not snap.s3:
            line.append(f"no dump under {snap.s3_prefix}", "bold red")
        else:
            d = snap.s3[0]
            line.append(f"{d.key.rsplit('/', 1)[-1]} {size(d.size_bytes)} {hours(d.age_hours)} ago")
        if snap.velero_error:
            line.append(f"\nVelero unreadable: {snap.velero_error}", "yellow")
        set_text(self.query_one("#backups-s3", Static), line)
        sync_rows(self.query_one(DataTable), [(b.name, backup_cells(b)) for b in snap.velero])
