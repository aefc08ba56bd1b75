"""The frame every dashboard panel shares: a titled border, a body, and a stale marker.

A panel only renders snapshots it is given by the environment's :class:`LiveData` hub; it
never calls a client. On a failed poll it keeps showing its last data, greys itself and
says in its bottom border how old that data is and why it could not be refreshed. Its
border takes the colour of its component's health. ``enter`` opens its drill-down.

A panel with room to spare (a big terminal: at 200x60 a panel is ~66x28, at 80x24 ~40x7)
shows more: children with the class ``panel-more`` appear only once the panel's content is
at least ``ROOMY_HEIGHT`` rows high (the ``-roomy`` class, set on resize) and has data, and
:meth:`Panel.show_more` fills them only then, so a small terminal shows and costs exactly
what it did before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from console.health.status import Status
from console.polling import PollState

from ..polling import HEALTH, HealthUpdated, LiveData, PollUpdated, live_data
from ..widgets import set_text

if TYPE_CHECKING:  # the health rules load after the first frame (screens.polling)
    from console.health.evaluate import HealthReport


def ago(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


class Panel(Vertical, can_focus=True):
    """A bordered, focusable dashboard panel."""

    DEFAULT_CSS = """
    Panel {
        border: round $primary-darken-2;
        border-title-color: $text;
        border-title-style: bold;
        border-subtitle-color: $warning;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
    }
    Panel:focus-within, Panel:focus { border: round $accent; }
    Panel.-warning { border: round $warning; }
    Panel.-critical { border: round $error; }
    Panel.-stale { border: round $warning-darken-3; color: $text-muted; }
    Panel:focus.-warning, Panel:focus-within.-warning { border: double $warning; }
    Panel:focus.-critical, Panel:focus-within.-critical { border: double $error; }
    Panel > .panel-body { height: auto; }
    Panel > .panel-placeholder { height: auto; }
    Panel > DataTable { height: 1fr; scrollbar-size: 0 0; }
    Panel > .panel-more { display: none; height: auto; }
    Panel.-live.-roomy > .panel-more { display: block; }
    Panel .panel-more DataTable { scrollbar-size: 0 0; }
    Panel .more-title { text-style: bold; color: $text-muted; margin-top: 1; }
    """

    TITLE = "Panel"
    HINT = ""  # one line saying what will be shown here
    COMPONENT = ""  # the component this panel shows ("" = none)
    ROOMY_HEIGHT = 14  # content rows from which the ``panel-more`` children are shown
    BINDINGS = [
        Binding("enter", "drill_down", "Details", id="panel.details"),
        Binding("r", "refresh", "Refresh", id="panel.refresh"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = self.TITLE
        self.snapshot: Any = None  # the last good snapshot shown
        self.state: PollState | None = None
        self.hub: LiveData | None = None
        self.status: Status | None = None

    def compose(self) -> ComposeResult:
        yield Static(self.placeholder(), classes="panel-placeholder")

    def placeholder(self) -> str:
        return f"not connected\n[dim]{self.HINT}[/dim]" if self.HINT else "not connected"

    # ---- wiring --------------------------------------------------------------------------
    def on_mount(self) -> None:
        self._reveal(False)
        self.hub = live_data(self)
        if self.hub is not None:
            # set_text shows text literally: the hint's dim is a style, not markup
            hint = Text.assemble("connecting…\n", (self.HINT, "dim")) if self.HINT \
                else Text("connecting…")
            set_text(self.query_one(".panel-placeholder", Static), hint)
            self.hub.subscribe(self, *self.subscriptions())
            self.set_interval(1.0, self._tick_stale)

    async def on_unmount(self) -> None:
        if self.hub is not None:
            await self.hub.unsubscribe(self)

    def subscriptions(self) -> tuple[str, ...]:
        return (self.COMPONENT, HEALTH) if self.COMPONENT else (HEALTH,)

    def on_poll_updated(self, message: PollUpdated) -> None:
        state = message.state
        if state.name != self.COMPONENT:
            return
        self.state = state
        good = state.last_good
        if good is not None and good is not self.snapshot:
            first = self.snapshot is None
            self.snapshot = good
            if first:
                self._reveal(True)
            self.show(good)
            if self.roomy:
                self.show_more(good)
        elif good is None:
            set_text(self.query_one(".panel-placeholder", Static),
                Text.assemble(("unreachable", "bold"), f"\n{state.error}"))
        self._tick_stale()

    def on_health_updated(self, message: HealthUpdated) -> None:
        self.show_health(message.report)
        health = message.report.component(self.COMPONENT) if self.COMPONENT else None
        if health is not None and not (self.state and self.state.stale):
            self._status_class(health.status)

    def _reveal(self, live: bool) -> None:
        """Before the first data only the placeholder shows; after it, only the data (the
        ``panel-more`` children: when there is room, by CSS)."""
        self.set_class(live, "-live")
        for child in self.children:
            if not child.has_class("panel-more"):
                child.display = live != child.has_class("panel-placeholder")

    # ---- room to spare -------------------------------------------------------------------
    @property
    def roomy(self) -> bool:
        return self.has_class("-roomy")

    def on_resize(self) -> None:
        roomy = self.size.height >= self.ROOMY_HEIGHT
        if roomy != self.roomy:
            self.set_class(roomy, "-roomy")
            self.room_changed(roomy)

    def room_changed(self, roomy: bool) -> None:
        """The panel grew past ``ROOMY_HEIGHT`` or shrank below it: fill the extra
        sections from the last snapshot (they are left alone while hidden)."""
        if roomy and self.snapshot is not None:
            self.show_more(self.snapshot)

    def _status_class(self, status: Status | None) -> None:
        self.status = status
        self.set_class(status is Status.WARNING, "-warning")
        self.set_class(status is Status.CRITICAL, "-critical")

    def _tick_stale(self) -> None:
        state = self.state
        stale = bool(state and state.stale)
        self.set_class(stale and self.snapshot is not None, "-stale")
        if stale:
            self._status_class(None)
            age = state.stale_age()
            when = f"stale {ago(age)}" if age is not None else "no data"
            self.border_subtitle = f"{when}: {state.error}"
        else:
            self.border_subtitle = ""

    # ---- for subclasses ------------------------------------------------------------------
    def show(self, snapshot: Any) -> None:
        """Render a good snapshot (called only when a new one arrives)."""

    def show_more(self, snapshot: Any) -> None:
        """Fill the ``panel-more`` sections (called only while the panel is roomy)."""

    def show_health(self, report: HealthReport) -> None:
        """React to the environment's re-judged health (most panels need not)."""

    def action_refresh(self) -> None:
        if self.hub is not None:
            self.hub.refresh(self.COMPONENT) if self.COMPONENT else self.hub.refresh()

    def action_drill_down(self) -> None:
        screen = self.drill_down()
        if screen is not None:
            self.app.push_screen(screen)

    def drill_down(self):
        """The screen ``enter`` opens (None: no drill-down)."""
        return None
