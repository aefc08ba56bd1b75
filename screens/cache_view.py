"""Cache drill-down: Redis INFO figures and the slow log (SLOWLOG GET 10)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from console.collectors.redis import RedisSnapshot

from .cache_rows import info_figures, slowlog_note, slowlog_row
from .drilldown import DrillDown
from .tables import add_columns, pick, sync_rows
from .widgets import set_text

SLOWLOG = [("id", "id"), ("when", "when"), ("ms", "ms"), ("client", "client"),
           ("command", "command")]


class CacheView(DrillDown):
    COMPONENT = "cache"
    FILTERS = True
    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/", id="cache.filter"),
        Binding("x", "act('slowlog')", "Reset slow log", id="cache.slowlog-reset"),
        Binding("D", "act('keys')", "Delete keys", id="cache.delete-keys"),
    ]
    GRAFANA = "overview"
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
        add_columns(self.query_one("#cache-slowlog", DataTable), SLOWLOG)
        super().on_mount()

    def show(self, snap: RedisSnapshot) -> None:
        pct = f"{snap.memory_pct:.0f}% of maxmemory" if snap.memory_pct is not None else "no maxmemory"
        hit = snap.recent_hit_rate_pct if snap.recent_hit_rate_pct is not None else snap.hit_rate_pct
        set_text(self.query_one("#cache-title", Static),
            f"Cache — Redis {snap.version} {snap.role}, {pct}, hit rate "
            f"{f'{hit:.1f}%' if hit is not None else '–'} (total "
            f"{f'{snap.hit_rate_pct:.1f}%' if snap.hit_rate_pct is not None else '–'})")
        sync_rows(self.query_one("#cache-info", DataTable),
                  [(k, [k, v]) for k, v in info_figures(snap) if self.matches(k, v)])
        set_text(self.query_one("#cache-slowlog-note", Static), slowlog_note(snap))
        sync_rows(self.query_one("#cache-slowlog", DataTable),
                  [(str(e.id), pick(row, SLOWLOG)) for e in snap.slowlog
                   if self.matches(*(row := slowlog_row(e)).values())])

    def action_act(self, what: str) -> None:
        from actions import panel_actions as act

        self.app.start_action(act.reset_slowlog() if what == "slowlog" else act.delete_keys())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("act", "filter") and isinstance(self.focused, Input):
            return False  # typing into the filter: the letters are the filter's
        return True
