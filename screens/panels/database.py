"""The Database panel: connections against max_connections (sparkline), slow queries,
blocking chains, idle-in-transaction, cache hit ratio, size, replication, and the sessions
worth looking at.

With room to spare it shows, instead of the short list of sessions worth looking at,
connections by state and application, the blocking chains (both sides) and every session
busiest first — the drill-down's rows, narrower."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..database_rows import (
    BUSIEST,
    blocking_key,
    blocking_note,
    blocking_row,
    busiest_first,
    groups_line,
    session_row,
)
from ..tables import add_columns, display_table, pick, sync_rows
from ..widgets import Trend, set_text
from .base import Panel

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.postgres_model import PostgresSnapshot, Session

COLUMNS = [("pid", "pid"), ("state", "lock"), ("secs", "secs"), ("query", "query")]
ACTIVITY = [("pid", "pid"), ("state", "lock"), ("secs", "secs"), ("application", "app"),
            ("query", "query")]
# the blocker's query before its state: the state is in the sessions table too
BLOCKING = [("blocked", "blocked"), ("waits s", "waited"), ("blocker", "blocker"),
            ("tx s", "held"), ("blocker query", "hq"), ("blocker state", "bstate")]


def notable(snap: PostgresSnapshot) -> list[Session]:
    """Blocked, blocking, slow and idle-in-transaction sessions, longest first."""
    heads = set(snap.blocking_pids)
    keep = [s for s in snap.sessions
            if s.blocked_by or s.pid in heads or s in snap.slow or s in snap.idle_in_transaction]
    return sorted(keep, key=lambda s: -(s.query_seconds or 0))


def session_cells(s: Session, heads: set[int]) -> list:
    return pick(session_row(s, heads), COLUMNS)


def size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"


class DatabasePanel(Panel):
    TITLE = "Database"
    HINT = "connections, blocking chains, slow queries, replication lag"
    COMPONENT = "database"
    DEFAULT_CSS = """
    DatabasePanel > #database-more { height: 1fr; }
    #database-more > #database-activity { height: 1fr; }
    #database-more > #database-blocking { height: auto; max-height: 8; }
    """

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Trend("conn", id="trend-connections")
        yield Static("", id="database-summary", classes="panel-body")
        yield DataTable(id="database-sessions", cursor_type="row")
        with Vertical(id="database-more", classes="panel-more"):
            yield Static("", id="database-groups")
            yield Static("", id="database-blocking-note", classes="more-title")
            yield display_table("database-blocking")
            yield Static("", id="database-activity-title", classes="more-title")
            yield display_table("database-activity")

    def on_mount(self) -> None:
        add_columns(self.query_one("#database-sessions", DataTable), COLUMNS)
        add_columns(self.query_one("#database-activity", DataTable), ACTIVITY)
        add_columns(self.query_one("#database-blocking", DataTable), BLOCKING)
        super().on_mount()

    def show(self, snap: PostgresSnapshot) -> None:
        pct = snap.connections_pct
        self.query_one("#trend-connections", Trend).push(
            pct, f"{snap.connections}/{snap.max_connections} {pct:.0f}%" if pct is not None else "–")
        line = Text()
        if snap.switched_to:  # db-pitr switched the application: whose figures these are
            line.append(f"following {snap.switched_to}\n" if snap.following else
                        f"OLD PRIMARY: app switched to {snap.switched_to}\n",
                        "bold" if snap.following else "bold black on yellow")
        line.append(f"slow {len(snap.slow)}", "yellow" if snap.slow else "")
        line.append(" · ")
        line.append(f"blocking {len(snap.blocking)}", "bold red" if snap.blocking else "")
        line.append(f" · idle-tx {len(snap.idle_in_transaction)}")
        hit = snap.cache_hit_ratio_pct
        line.append(f" · hit {hit:.1f}%" if hit is not None else " · hit –")
        line.append(f"\nsize {size(snap.database_size_bytes)}")
        if snap.replication:
            lags = [f"{r.name} {r.lag_seconds:.0f}s" if r.lag_seconds is not None
                    else f"{r.name} {r.error or r.state}" for r in snap.replication]
            line.append(" · lag " + ", ".join(lags))
        else:
            line.append(" · no replicas", "dim")
        set_text(self.query_one("#database-summary", Static), line)
        heads = set(snap.blocking_pids)
        rows = [(str(s.pid), session_cells(s, heads)) for s in notable(snap)]
        table = self.query_one("#database-sessions", DataTable)
        sync_rows(table, rows)
        table.display = bool(rows) and not self.roomy  # an empty header says nothing

    def room_changed(self, roomy: bool) -> None:
        table = self.query_one("#database-sessions", DataTable)
        table.display = bool(table.row_count) and not roomy  # roomy: the fuller tables below
        super().room_changed(roomy)

    def show_more(self, snap: PostgresSnapshot) -> None:
        set_text(self.query_one("#database-groups", Static), groups_line(snap))
        set_text(self.query_one("#database-blocking-note", Static), blocking_note(snap))
        blocking = self.query_one("#database-blocking", DataTable)
        sync_rows(blocking, [(blocking_key(e), pick(blocking_row(e), BLOCKING))
                             for e in snap.blocking])
        blocking.display = bool(snap.blocking)
        heads = set(snap.blocking_pids)
        activity = self.query_one("#database-activity", DataTable)
        sync_rows(activity,
                  [(str(s.pid), pick(session_row(s, heads), ACTIVITY)) for s in snap.sessions],
                  sort_column=BUSIEST, sort_key=busiest_first)
        activity.display = bool(snap.sessions)
        set_text(self.query_one("#database-activity-title", Static),
                 f"{len(snap.sessions)} sessions, busiest first" if snap.sessions
                 else "no client session besides the console's own")

    def drill_down(self):
        from ..database_view import DatabaseView

        return DatabaseView()
