"""The Cache panel: memory against maxmemory and hit rate as sparklines, evictions, ops/s,
clients, role and the slow log.

With room to spare it adds the INFO figures an operator asks next (memory peak, policy and
fragmentation; clients; keyspace hits, misses, expired and evicted keys; server and
replication) and the slow log's latest entries — the drill-down's rows, narrower."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..cache_rows import info_figures, slowlog_note, slowlog_row
from ..tables import add_columns, display_table, pick, sync_rows
from ..widgets import Trend, set_text
from .base import Panel, ago

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.redis import RedisSnapshot

SLOWLOG = [("when", "when"), ("ms", "ms"), ("command", "command"), ("client", "client"),
           ("id", "id")]
# (line label, [(figure label, INFO field)]) for the roomy details
DETAILS = [
    ("memory", [("peak", "used_memory_peak_human"), ("max", "maxmemory_human"),
                ("", "maxmemory_policy"), ("frag", "mem_fragmentation_ratio")]),
    ("clients", [("connected", "connected_clients"), ("blocked", "blocked_clients"),
                 ("rejected", "rejected_connections")]),
    ("keyspace", [("hits", "keyspace_hits"), ("misses", "keyspace_misses"),
                  ("expired", "expired_keys"), ("evicted", "evicted_keys")]),
    ("server", [("redis", "redis_version"), ("commands", "total_commands_processed"),
                ("replicas", "connected_slaves"), ("master", "master_host"),
                ("link", "master_link_status")]),
]


def mb(n: int) -> str:
    return f"{n / 1048576:.1f}MB" if n < 1 << 30 else f"{n / (1 << 30):.2f}GB"


def details(snap: RedisSnapshot) -> Text:
    """The INFO figures the panel has room for, a line per topic (absent fields left out)."""
    info = dict(info_figures(snap))
    text = Text()
    for title, fields in DETAILS:
        figures = [f"{label} {info[key]}".strip() for label, key in fields
                   if info.get(key, "") != ""]
        if title == "server" and "uptime_in_seconds" in info:
            figures.append(f"up {ago(float(info['uptime_in_seconds']))}")
        if figures:
            text.append("\n" if text else "").append(f"{title:<9}", "bold")
            text.append(" · ".join(figures))
    return text


class CachePanel(Panel):
    TITLE = "Cache"
    HINT = "memory, hit rate, evictions, ops/s, clients"
    COMPONENT = "cache"
    DEFAULT_CSS = """
    CachePanel > #cache-more { height: 1fr; }
    #cache-more > #cache-slowlog-table { height: 1fr; }
    #cache-more > #cache-details { margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Trend("mem", id="trend-memory")
        yield Trend("hit", id="trend-hit")
        yield Static("", id="cache-summary", classes="panel-body")
        with Vertical(id="cache-more", classes="panel-more"):
            yield Static("", id="cache-details")
            yield Static("", id="cache-slowlog-title", classes="more-title")
            yield display_table("cache-slowlog-table")

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), SLOWLOG)
        super().on_mount()

    def show(self, snap: RedisSnapshot) -> None:
        pct = snap.memory_pct
        mem = f"{pct:.0f}% {mb(snap.used_memory)}" if pct is not None else f"{mb(snap.used_memory)} no max"
        self.query_one("#trend-memory", Trend).push(pct, mem)
        hit = snap.recent_hit_rate_pct if snap.recent_hit_rate_pct is not None else snap.hit_rate_pct
        self.query_one("#trend-hit", Trend).push(hit, f"{hit:.1f}%" if hit is not None else "–")
        line = Text()
        ops = f"{snap.ops_per_sec:.0f}" if snap.ops_per_sec is not None else "–"
        line.append(f"ops {ops}/s · ")
        ev = snap.evictions_per_sec
        line.append(f"evict {ev:.1f}/s" if ev is not None else "evict –",
                    "bold red" if ev else "")
        line.append(f" · clients {snap.connected_clients}")
        if snap.blocked_clients:
            line.append(f" ({snap.blocked_clients} blocked)", "yellow")
        role = snap.role or "?"
        if snap.role == "slave":
            role = f"replica, link {snap.master_link_status}"
        elif snap.connected_replicas:
            role += f", {snap.connected_replicas} replicas"
        line.append(f"\n{role} · slowlog {snap.slowlog_len}")
        if snap.slowlog:
            line.append(f" (max {snap.slowest_us / 1000:.0f}ms)")
        set_text(self.query_one("#cache-summary", Static), line)

    def show_more(self, snap: RedisSnapshot) -> None:
        set_text(self.query_one("#cache-details", Static), details(snap))
        set_text(self.query_one("#cache-slowlog-title", Static),
                 slowlog_note(snap) if snap.slowlog_len else "the slow log is empty")
        table = self.query_one(DataTable)
        sync_rows(table, [(str(e.id), pick(slowlog_row(e), SLOWLOG)) for e in snap.slowlog],
                  sort_column="id", sort_key=int, reverse=True)
        table.display = bool(snap.slowlog)

    def drill_down(self):
        from ..cache_view import CacheView

        return CacheView()
