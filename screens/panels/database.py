"""The Database panel: connections against max_connections (sparkline), slow queries,
blocking chains, idle-in-transaction, cache hit ratio, size, replication, and the sessions
worth looking at."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from console.collectors.postgres_model import PostgresSnapshot, Session

from ..tables import add_columns, sync_rows
from ..widgets import Trend, set_text
from .base import Panel

COLUMNS = [("pid", "pid"), ("state", "state"), ("secs", "secs"), ("query", "query")]


def notable(snap: PostgresSnapshot) -> list[Session]:
    """Blocked, blocking, slow and idle-in-transaction sessions, longest first."""
    heads = set(snap.blocking_pids)
    keep = [s for s in snap.sessions
            if s.blocked_by or s.pid in heads or s in snap.slow or s in snap.idle_in_transaction]
    return sorted(keep, key=lambda s: -(s.query_seconds or 0))


def session_cells(s: Session, heads: set[int]) -> list:
    state = Text(s.state or "?")
    if s.blocked_by:
        state = Text(f"blocked by {','.join(map(str, s.blocked_by))}", "bold red")
    elif s.pid in heads:
        state = Text(f"BLOCKING ({s.state})", "bold red")
    secs = s.state_seconds if s.state.startswith("idle") else s.query_seconds
    return [str(s.pid), state, f"{secs:.1f}" if secs is not None else "–",
            " ".join(s.query.split())[:200]]


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

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Trend("conn", id="trend-connections")
        yield Static("", id="database-summary", classes="panel-body")
        yield DataTable(id="database-sessions", cursor_type="row")

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), COLUMNS)
        super().on_mount()

    def show(self, snap: PostgresSnapshot) -> None:
        pct = snap.connections_pct
        self.query_one("#trend-connections", Trend).push(
            pct, f"{snap.connections}/{snap.max_connections} {pct:.0f}%" if pct is not None else "–")
        line = Text()
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
        table = self.query_one(DataTable)
        sync_rows(table, rows)
        table.display = bool(rows)  # an empty header says nothing

    def drill_down(self):
        from ..database_view import DatabaseView

        return DatabaseView()
