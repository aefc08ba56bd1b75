"""Row builders shared by the Database panel and its drill-down.

Each builder returns the cells of one row keyed by column key; a table takes the columns
it has room for with :func:`screens.tables.pick`, so the panel's narrow tables and the
drill-down's wide ones show the same figures in the same words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.postgres_model import BlockingEdge, PostgresSnapshot, Session



def secs(v: float | None) -> str:
    return f"{v:.1f}" if v is not None else "–"


def one_line(text: str, limit: int = 300) -> str:
    """A query on one line (whitespace folded), cut at ``limit`` characters."""
    return " ".join(text.split())[:limit]


def session_seconds(s: Session) -> float | None:
    """How long the session has been in its state: idle ones since the state change, the
    others since their query started."""
    return s.state_seconds if s.state.startswith("idle") else s.query_seconds


def lock_state(s: Session, heads: set[int]) -> Text:
    """The state, or who blocks it, or that it heads a blocking chain."""
    if s.blocked_by:
        return Text(f"blocked by {','.join(map(str, s.blocked_by))}", "bold red")
    if s.pid in heads:
        return Text(f"BLOCKING ({s.state})", "bold red")
    return Text(s.state or "?")


def session_row(s: Session, heads: set[int] = frozenset()) -> dict[str, Any]:
    """Keys: pid user app client state lock secs wait query."""
    return {"pid": str(s.pid), "user": s.user, "app": s.application, "client": s.client,
            "state": s.state, "lock": lock_state(s, heads), "secs": secs(session_seconds(s)),
            "wait": s.wait_event, "query": one_line(s.query)}


BUSIEST = ("lock", "secs")  # the columns busiest_first sorts on


def busiest_first(cells: tuple) -> tuple:
    """Sort key on the ("lock", "secs") cells: sessions doing something (active, blocked,
    idle in transaction...) longest first, then the idle ones, longest idle first."""
    state, seconds = cells
    idle = getattr(state, "plain", str(state)) == "idle"
    try:
        return idle, -float(seconds)
    except ValueError:  # "–": no figure
        return idle, 0.0


def blocking_key(e: BlockingEdge) -> str:
    return f"{e.blocked_pid}-{e.blocking_pid}"


def blocking_row(e: BlockingEdge) -> dict[str, Any]:
    """Keys: blocked waited bq blocker bstate held hq."""
    return {"blocked": str(e.blocked_pid), "waited": secs(e.blocked_seconds),
            "bq": one_line(e.blocked_query), "blocker": str(e.blocking_pid),
            "bstate": e.blocking_state, "held": secs(e.blocking_seconds),
            "hq": one_line(e.blocking_query)}


def blocking_note(snap: PostgresSnapshot) -> Text:
    if snap.blocking:
        return Text(f"{len(snap.blocking)} waiting on locks; chain heads: "
                    f"{', '.join(map(str, snap.blocking_pids)) or '-'}", "bold red")
    return Text("no session is waiting for a lock held by another", "green")


def groups_line(snap: PostgresSnapshot) -> str:
    groups = ", ".join(f"{g.count} {g.state} {g.application}" for g in snap.groups)
    return f"by state and application: {groups or 'none'}"
