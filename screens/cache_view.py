"""Cache drill-down: Redis INFO figures and the slow log (SLOWLOG GET 10)."""

from __future__ import annotations

from datetime import datetime

from textual.app import ComposeResult
from textual.widgets import DataTable, Footer, Static, TabbedContent, TabPane

from console.collectors.redis import RedisSnapshot

from .drilldown import DrillDown
from .tables import add_columns, sync_rows
from .widgets import set_text


class CacheView(DrillDown):
    COMPONENT = "cache"
    DEFAULT_CSS = """
    CacheView DataTable { height: 1fr; }
    CacheView TabbedContent { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("Cache", classes="title-line", id="cache-title")
        yield Static("", classes="stale-line")
        with TabbedContent(id="cache-tabs"):
            with TabPane("Info", id="tab-info"):
                yield DataTable(id="cache-info", cursor_type="row")
            with TabPane("Slow log", id="tab-slowlog"):
                yield Static("", id="cache-slowlog-note")
                yield DataTable(id="cache-slowlog", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        add_columns(self.query_one("#cache-info", DataTable), [("field", "field"), ("value", "value")])
        add_columns(self.query_one("#cache-slowlog", DataTable),
                    [("id", "id"), ("when", "when"), ("ms", "ms"), ("client", "client"),
                     ("command", "command")])
        super().on_mount()

    def show(self, snap: RedisSnapshot) -> None:
        pct = f"{snap.memory_pct:.0f}% of maxmemory" if snap.memory_pct is not None else "no maxmemory"
        hit = snap.recent_hit_rate_pct if snap.recent_hit_rate_pct is not None else snap.hit_rate_pct
        set_text(self.query_one("#cache-title", Static),
            f"Cache — Redis {snap.version} {snap.role}, {pct}, hit rate "
            f"{f'{hit:.1f}%' if hit is not None else '–'} (total "
            f"{f'{snap.hit_rate_pct:.1f}%' if snap.hit_rate_pct is not None else '–'})")
        figures = list(snap.info) + [
            ("hit rate since last poll %", f"{snap.recent_hit_rate_pct:.2f}"
             if snap.recent_hit_rate_pct is not None else "–"),
            ("evictions per second", f"{snap.evictions_per_sec:.2f}"
             if snap.evictions_per_sec is not None else "–"),
            ("ops per second", f"{snap.ops_per_sec:.0f}" if snap.ops_per_sec is not None else "–"),
        ]
        sync_rows(self.query_one("#cache-info", DataTable), [(k, [k, v]) for k, v in figures])
        set_text(self.query_one("#cache-slowlog-note", Static),
            f"{snap.slowlog_len} entries in the slow log; the latest {len(snap.slowlog)}:")
        sync_rows(self.query_one("#cache-slowlog", DataTable), [
            (str(e.id), [str(e.id), datetime.fromtimestamp(e.started).strftime("%H:%M:%S"),
                         f"{e.duration_us / 1000:.1f}", e.client, e.command[:150]])
            for e in snap.slowlog
        ])
