"""Database drill-down: activity (every session and connections by state and
application), blocking chains with both queries, and slow statements (queries running now
and pg_stat_statements' slowest by mean time, or why it is not available)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from console.collectors.postgres_model import PostgresSnapshot

from .database_rows import (
    blocking_key,
    blocking_note,
    blocking_row,
    groups_line,
    one_line,
    secs,
    session_row,
)
from .drilldown import DrillDown
from .tables import add_columns, pick, sync_rows
from .widgets import set_text

ACTIVITY = [("pid", "pid"), ("user", "user"), ("application", "app"), ("client", "client"),
            ("state", "state"), ("secs", "secs"), ("wait", "wait"), ("query", "query")]
BLOCKING = [("blocked", "blocked"), ("waits s", "waited"), ("blocked query", "bq"),
            ("blocker", "blocker"), ("blocker state", "bstate"), ("tx s", "held"),
            ("blocker query", "hq")]
STATEMENTS = [("mean ms", "mean"), ("calls", "calls"), ("total ms", "total"), ("rows", "rows"),
              ("query", "query")]


class DatabaseView(DrillDown):
    COMPONENT = "database"
    GRAFANA = "database"
    DEFAULT_CSS = """
    DatabaseView DataTable { height: 1fr; }
    DatabaseView TabbedContent { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Database", classes="title-line", id="db-title")
        yield Static("", classes="stale-line")
        with TabbedContent(id="db-tabs"):
            with TabPane("Activity", id="tab-activity"):
                yield Static("", id="db-groups")
                yield DataTable(id="db-activity", cursor_type="row")
            with TabPane("Blocking", id="tab-blocking"):
                yield Static("", id="db-blocking-note")
                yield DataTable(id="db-blocking", cursor_type="row")
            with TabPane("Slow statements", id="tab-slow"):
                yield Static("", id="db-slow-now")
                yield Static("", id="db-statements-note")
                yield DataTable(id="db-statements", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        add_columns(self.query_one("#db-activity", DataTable), ACTIVITY)
        add_columns(self.query_one("#db-blocking", DataTable), BLOCKING)
        add_columns(self.query_one("#db-statements", DataTable), STATEMENTS)
        super().on_mount()

    def show(self, snap: PostgresSnapshot) -> None:
        pct = snap.connections_pct or 0
        set_text(self.query_one("#db-title", Static),
            f"Database {snap.database} (PostgreSQL {snap.server_version}"
            f"{', replica' if snap.is_replica else ''}) — {snap.connections}/"
            f"{snap.max_connections} connections ({pct:.0f}%)")
        set_text(self.query_one("#db-groups", Static), groups_line(snap))
        sync_rows(self.query_one("#db-activity", DataTable), [
            (str(s.pid), pick(session_row(s), ACTIVITY))
            for s in sorted(snap.sessions, key=lambda s: -(s.query_seconds or 0))
        ])
        set_text(self.query_one("#db-blocking-note", Static), blocking_note(snap))
        sync_rows(self.query_one("#db-blocking", DataTable),
                  [(blocking_key(e), pick(blocking_row(e), BLOCKING)) for e in snap.blocking])
        slow = Text(f"running > {snap.slow_after_seconds:g} s now: ", "bold")
        if snap.slow:
            for s in snap.slow:
                slow.append(f"\n  pid {s.pid} {secs(s.query_seconds)} s  {one_line(s.query, 150)}")
        else:
            slow.append("none", "green")
        set_text(self.query_one("#db-slow-now", Static), slow)
        set_text(self.query_one("#db-statements-note", Static),
            Text(snap.statements_note, "yellow") if snap.statements_note
            else Text("pg_stat_statements, slowest by mean time:", "bold"))
        sync_rows(self.query_one("#db-statements", DataTable), [
            (str(i), [f"{st.mean_ms:.1f}", str(st.calls), f"{st.total_ms:.0f}", str(st.rows),
                      one_line(st.query)])
            for i, st in enumerate(snap.statements)
        ])
