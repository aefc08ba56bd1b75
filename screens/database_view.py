"""Database drill-down: activity (every session and connections by state and
application), blocking chains with both queries, and slow statements (queries running now
and pg_stat_statements' slowest by mean time, or why it is not available)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

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
    FILTERS = True
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", id="db.filter"),
        Binding("c", "signal('cancel')", "Cancel query", id="db.cancel"),
        Binding("K", "signal('terminate')", "Terminate", id="db.terminate"),
    ]
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
            (str(s.pid), pick(row, ACTIVITY))
            for s in sorted(snap.sessions, key=lambda s: -(s.query_seconds or 0))
            if self.matches(*(row := session_row(s)).values())
        ])
        set_text(self.query_one("#db-blocking-note", Static), blocking_note(snap))
        sync_rows(self.query_one("#db-blocking", DataTable),
                  [(blocking_key(e), pick(row, BLOCKING)) for e in snap.blocking
                   if self.matches(*(row := blocking_row(e)).values())])
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
            for i, st in enumerate(snap.statements) if self.matches(st.query)
        ])

    # ---- cancel / terminate the backend under the cursor (the blocker on Blocking) ---------
    def target(self) -> tuple[int, str, float | None] | None:
        """The backend the keys act on: the Activity row's session, or on the Blocking tab
        the chain's blocker (what ends the chain), with its query and age."""
        snap = self.snapshot
        if snap is None:
            return None
        tab = self.query_one("#db-tabs", TabbedContent).active
        table = self.query_one("#db-blocking" if tab == "tab-blocking" else "#db-activity",
                               DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
        if tab == "tab-blocking":
            edge = next((e for e in snap.blocking if blocking_key(e) == key), None)
            return (edge.blocking_pid, edge.blocking_query, edge.blocking_seconds) if edge \
                else None
        session = next((s for s in snap.sessions if str(s.pid) == key), None)
        return (session.pid, session.query, session.xact_seconds or session.query_seconds) \
            if session else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("signal", "filter") and isinstance(self.focused, Input):
            return False  # typing into the filter: the letters are the filter's
        if action == "signal":
            return self.snapshot is not None and self.query_one(
                "#db-tabs", TabbedContent).active in ("tab-activity", "tab-blocking")
        return True

    def action_signal(self, how: str) -> None:
        from actions import panel_actions as act

        target = self.target()
        if target is None:
            self.notify("no backend under the cursor", severity="warning")
            return
        pid, query, seconds = target
        age = f"{secs(seconds)} s" if seconds is not None else "an unknown time"
        make = act.terminate_backend if how == "terminate" else act.cancel_backend
        self.app.start_action(make(pid, query, age))

    def on_tabbed_content_tab_activated(self) -> None:
        self.refresh_bindings()
