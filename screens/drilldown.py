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
from textual.widgets import Input, Static

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
    DrillDown #drill-filter { display: none; height: 3; }
    DrillDown #drill-filter.-visible { display: block; }
    """

    FILTERS = False  # True: "/" filters the screen's tables (k9s's convention), Esc clears

    def __init__(self) -> None:
        super().__init__()
        self.hub: LiveData | None = None
        self.snapshot: Any = None
        self.filter_text = ""

    def on_mount(self) -> None:
        url = self.grafana_url()
        titles = self.query(".title-line")
        # (on_mount runs once per class that defines it: mount what is not there yet)
        if url and titles and not self.query(".grafana-line"):
            line = Text("Grafana ", style="bold")
            line.append(url, style=f"link {url}")
            self.mount(Static(line, classes="grafana-line"), after=titles.first())
        if self.FILTERS and titles and not self.query("#drill-filter"):
            self.mount(Input(placeholder="filter rows (any column); enter keeps it, escape "
                                         "clears", id="drill-filter"), after=titles.first())
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
        boxes = self.query("#drill-filter")
        if boxes and (boxes.first().has_focus or self.filter_text):
            box = boxes.first(Input)
            box.value = ""
            box.remove_class("-visible")
            self.set_focus(None)
            return
        self.app.pop_screen()

    # ---- "/" filter --------------------------------------------------------------------
    def action_filter(self) -> None:
        boxes = self.query("#drill-filter")
        if boxes:
            boxes.first().add_class("-visible")
            boxes.first().focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "drill-filter":
            self.filter_text = event.value.strip().lower()
            if self.snapshot is not None:
                self.show(self.snapshot)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "drill-filter":
            self.set_focus(None)  # the filter stays; the keys are the screen's again

    def matches(self, *cells: Any) -> bool:
        """A row is shown when the filter is empty or in any of its cells' text."""
        needle = self.filter_text
        return not needle or any(needle in str(c).lower() for c in cells)

    def action_refresh(self) -> None:
        if self.hub is not None:
            self.hub.refresh(self.COMPONENT)
