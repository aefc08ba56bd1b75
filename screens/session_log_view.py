"""The session-log viewer (`L`): sessions newest first, one session's records, its
verification, export to Markdown, and resume of an interrupted wizard.

Reading only: listing verifies each log's chain, so a tampered one shows as TAMPERED in
the list before anybody opens it.
"""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Static

from console.execution.log_export import describe_event, export_markdown
from console.execution.log_store import SessionSummary, list_sessions, read_records, verify
from console.execution.redaction import Redactor


class SessionLogView(Screen[Path | None]):
    """Dismisses with a session's path when the operator asks to resume it."""

    DEFAULT_CSS = """
    SessionLogView #sessions { height: 40%; }
    SessionLogView #records { height: 1fr; border-top: solid $panel-lighten-2; }
    SessionLogView #verdict { height: 1; background: $boost; }
    """
    BINDINGS = [
        Binding("v", "verify", "Verify", id="logs.verify"),
        Binding("x", "export", "Export md", id="logs.export"),
        Binding("r", "resume", "Resume", id="logs.resume"),
        Binding("escape", "close", "Close", id="logs.close"),
    ]

    def __init__(self, directory: Path, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.directory = directory
        self.redactor = redactor or Redactor()
        self.sessions: list[SessionSummary] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f" Session logs · {self.directory}", markup=False)
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
            yield Static("", id="verdict", markup=False)
            yield Log(id="records", max_lines=5000)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#sessions", DataTable)
        table.add_columns("session", "env", "wizard", "status", "records")
        self.sessions = list_sessions(self.directory)
        for s in self.sessions:
            status = s.status + (" ↻" if s.resumable else "")
            table.add_row(s.id, s.env, s.wizard or "-", status, str(s.records), key=s.id)
        if not self.sessions:
            self.query_one("#verdict", Static).update(f" no sessions in {self.directory}")
        table.focus()

    def _selected(self) -> SessionSummary | None:
        table = self.query_one("#sessions", DataTable)
        if not self.sessions or table.cursor_row is None:
            return None
        return self.sessions[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        summary = self._selected()
        if summary is None:
            return
        log = self.query_one("#records", Log)
        log.clear()
        for record in read_records(summary.path):
            ts = str(record.get("ts", "?"))[11:19]
            log.write_line(self.redactor.text(f"{record.get('seq', '?'):>4} {ts} "
                                              f"{describe_event(record)}"))
        self.query_one("#verdict", Static).update(
            f" {summary.operator} · {summary.status}"
            + (" · r resumes it" if summary.resumable else ""))

    def action_verify(self) -> None:
        summary = self._selected()
        if summary is not None:
            result = verify(summary.path)
            self.query_one("#verdict", Static).update(f" {summary.id}: {result.describe()}")

    def action_export(self) -> None:
        summary = self._selected()
        if summary is None:
            return
        target = summary.path.with_suffix(".md")
        target.write_text(export_markdown(summary.path, self.redactor), encoding="utf-8")
        self.notify(f"exported to {target}", markup=False)

    def action_resume(self) -> None:
        summary = self._selected()
        if summary is None:
            return
        if not summary.resumable:
            self.notify(f"{summary.id} is {summary.status}: nothing to resume", markup=False,
                        severity="warning")
            return
        self.dismiss(summary.path)

    def action_close(self) -> None:
        self.dismiss(None)
