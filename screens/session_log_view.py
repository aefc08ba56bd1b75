"""The session-log viewer (`L`): sessions newest first, one session's records, its
verification, export to Markdown, and resume of an interrupted wizard.

Reading only: listing verifies each log's chain, so a tampered one shows as TAMPERED in
the list before anybody opens it. Listing, reading, verifying and exporting read whole
files and hash every record, so they run in threads (``asyncio.to_thread``) and the rows
are filled when ready; the keys work meanwhile (escape closes at once). Records wrap to
the screen's width (:class:`.wrap_log.WrapLog`): a long plan or error is read whole.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from console.execution.log_export import describe_event, export_markdown
from console.execution.log_store import SessionSummary, list_sessions, read_records, verify
from console.execution.redaction import Redactor

from .literal import cell
from .worker_errors import ForwardWorkerErrors
from .wrap_log import WrapLog


class SessionLogView(ForwardWorkerErrors, Screen[SessionSummary | None]):
    """Dismisses with a session's summary when the operator asks to resume it."""

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
        self.listed = False  # the listing has finished (sessions may still be empty)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f" Session logs · {self.directory}", markup=False)
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
            yield Static(" reading and verifying the session logs…", id="verdict",
                         markup=False)
            yield WrapLog(id="records", max_lines=5000)  # long records wrap, never cut
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#sessions", DataTable)
        # at 80 columns the id (which names the wizard) and the status fit: status first
        table.add_columns("session", "status", "env", "records", "wizard")
        table.focus()
        self.load()

    def _verdict(self, text: str) -> None:
        self.query_one("#verdict", Static).update(text)

    @work(exclusive=True, group="session-list", exit_on_error=False)
    async def load(self) -> None:
        sessions = await asyncio.to_thread(list_sessions, self.directory)
        table = self.query_one("#sessions", DataTable)
        with self.app.batch_update():
            for s in sessions:
                status = s.status + (" ↻" if s.resumable else "")
                table.add_row(*map(cell, (s.id, status, s.env, str(s.records), s.wizard or "-")),
                              key=s.id)
        self.sessions, self.listed = sessions, True
        if not sessions:
            self._verdict(f" no sessions in {self.directory}")
        elif table.cursor_row is not None:
            self._show(sessions[table.cursor_row])

    def _selected(self) -> SessionSummary | None:
        table = self.query_one("#sessions", DataTable)
        if not self.sessions or table.cursor_row is None:
            return None
        return self.sessions[table.cursor_row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        summary = self._selected()
        if summary is not None:
            self._show(summary)

    def _show(self, summary: SessionSummary) -> None:
        self._verdict(f" {summary.operator} · {summary.status}"
                      + (" · r resumes it" if summary.resumable else ""))
        self._records(summary)

    @work(exclusive=True, group="session-records", exit_on_error=False)
    async def _records(self, summary: SessionSummary) -> None:
        records = await asyncio.to_thread(read_records, summary.path)
        lines = [self.redactor.text(f"{r.get('seq', '?'):>4} {str(r.get('ts', '?'))[11:19]} "
                                    f"{describe_event(r)}") for r in records]
        log = self.query_one("#records", WrapLog)
        log.clear()
        log.write_lines(lines)

    def action_verify(self) -> None:
        summary = self._selected()
        if summary is not None:
            self._verdict(f" {summary.id}: verifying…")
            self._verify(summary)

    @work(exclusive=True, group="session-verify", exit_on_error=False)
    async def _verify(self, summary: SessionSummary) -> None:
        result = await asyncio.to_thread(verify, summary.path)
        self._verdict(f" {summary.id}: {result.describe()}")

    def action_export(self) -> None:
        summary = self._selected()
        if summary is not None:
            self._export(summary)

    @work(exclusive=True, group="session-export", exit_on_error=False)
    async def _export(self, summary: SessionSummary) -> None:
        target = summary.path.with_suffix(".md")

        def write() -> None:
            target.write_text(export_markdown(summary.path, self.redactor), encoding="utf-8")

        await asyncio.to_thread(write)
        self.notify(f"exported to {target}", markup=False)

    def action_resume(self) -> None:
        summary = self._selected()
        if summary is None:
            return
        if not summary.resumable:
            self.notify(f"{summary.id} is {summary.status}: nothing to resume", markup=False,
                        severity="warning")
            return
        self.dismiss(summary)

    def action_close(self) -> None:
        self.dismiss(None)
