"""What every drill-down screen shares: it subscribes to its component on the
environment's hub (so that source keeps polling while the dashboard behind it is paused),
keeps the last good snapshot, shows a stale line when polls fail, and, under its title,
the environment's Grafana dashboard for the component (``grafana:`` in the config) as a
terminal hyperlink — the URL is written out too, for terminals over SSH that cannot open
links."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from .panels.base import ago
from .polling import LiveData, PollUpdated, live_data
from .widgets import set_text


class DrillDown(Screen):
    COMPONENT = ""
    GRAFANA = ""  # which of the environment's grafana dashboards belongs to this screen
    BINDINGS = [
        Binding("escape", "back", "Back", id="drilldown.back"),
        Binding("r", "refresh", "Refresh", id="drilldown.refresh"),
    ]
    DEFAULT_CSS = """
    DrillDown .stale-line { height: auto; color: $warning; }
    DrillDown .title-line { height: 1; text-style: bold; background: $panel; }
    DrillDown .grafana-line { height: auto; color: $text-muted; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.hub: LiveData | None = None
        self.snapshot: Any = None

    def on_mount(self) -> None:
        url = self.grafana_url()
        titles = self.query(".title-line")
        if url and titles:
            line = Text("Grafana ", style="bold")
            line.append(url, style=f"link {url}")
            self.mount(Static(line, classes="grafana-line"), after=titles.first())
        self.hub = live_data(self)
        if self.hub is not None:
            self.hub.subscribe(self, self.COMPONENT)

    async def on_unmount(self) -> None:
        if self.hub is not None:
            await self.hub.unsubscribe(self)

    def on_poll_updated(self, message: PollUpdated) -> None:
        state = message.state
        if state.name != self.COMPONENT:
            return
        stale = self.query(".stale-line")
        if stale:
            text = ""
            if state.stale:
                text = f"stale {ago(state.stale_age())}: {state.error}" if state.last_good \
                    else f"unreachable: {state.error}"
            set_text(stale.first(Static), text)
        if state.last_good is not None and state.last_good is not self.snapshot:
            self.snapshot = state.last_good
            self.show(state.last_good)

    def grafana_url(self) -> str | None:
        environment = getattr(self.app, "environment", None)
        grafana = getattr(environment, "grafana", None)
        return getattr(grafana, self.GRAFANA, None) if self.GRAFANA and grafana else None

    def show(self, snapshot: Any) -> None:
        """Render a new good snapshot."""

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_refresh(self) -> None:
        if self.hub is not None:
            self.hub.refresh(self.COMPONENT)
