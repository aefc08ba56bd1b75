"""The Textual side of polling: one hub per open environment, shared by every widget.

:class:`LiveData` owns the environment's collectors and one :class:`console.polling.Poller`
per component. Widgets subscribe to the components they show; a poller runs only while at
least one of its subscribers is on the active screen (the ``gate``), so a dashboard hidden
behind a drill-down stops asking the database, while the drill-down keeps its own source
going. Results reach widgets as :class:`PollUpdated` messages; the hub also re-judges the
environment's health after every poll, sets the header's overall status and posts
:class:`HealthUpdated` to the subscribers of ``"health"`` (the Alerts panel).

Everything a poll does runs in the pollers' own tasks with a timeout; the UI only ever
receives finished snapshots, so a hung source never delays a keypress.

The collectors, their clients and the health rules are not needed to paint the first
frame: the hub imports them once the screen has been painted (:meth:`LiveData.connect`,
:mod:`screens.deferred`) and only then builds its pollers.

Tests can give the app a ``collector_factory`` attribute (same signature as
:func:`console.collectors.registry.collectors_for`), or set ``app.live = False`` to show
panels unconnected (the shell's layout tests).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from textual.app import App
from textual.message import Message
from textual.widget import Widget

from console.config.model import Environment, UiSettings
from console.polling import Poller, PollState

from .deferred import keep_out_of_collections, load_after_first_frame

if TYPE_CHECKING:
    from console.collectors.base import Snapshot
    from console.collectors.registry import Collector
    from console.health.evaluate import HealthReport

HEALTH = "health"  # pseudo-component: the evaluated HealthReport


class PollUpdated(Message):
    """A component's poll finished (well or not)."""

    def __init__(self, state: PollState) -> None:
        super().__init__()
        self.state = state


class HealthUpdated(Message):
    def __init__(self, report: HealthReport) -> None:
        super().__init__()
        self.report = report


class LiveData:
    def __init__(self, app: App, env_name: str, env: Environment, ui: UiSettings) -> None:
        self.app = app
        self.env_name = env_name
        self.env = env
        self.ui = ui
        # both filled by connect(), once the first frame is painted
        self.collectors: dict[str, Collector] = {}
        self.pollers: dict[str, Poller] = {}
        self.states: dict[str, PollState] = {}
        self.report: HealthReport | None = None
        self._settled = False  # start-up objects kept out of the collector (deferred.py)
        self.subscribers: dict[str, list[Widget]] = {}
        self._closing: asyncio.Task | None = None
        self._connecting: asyncio.Task | None = None
        app.call_after_refresh(self._connect_soon)
        # a screen pushed before that refresh would hold the callback back: connect anyway
        app.set_timer(0.5, self._connect_soon)

    # ---- connecting ----------------------------------------------------------------------
    def _connect_soon(self) -> None:
        if self._closing is None and self._connecting is None:
            self._connecting = asyncio.ensure_future(self.connect())

    async def connect(self) -> None:
        """Import the collectors and health rules, build the collectors and pollers, and
        start the pollers that have subscribers."""
        await load_after_first_frame()
        if self._closing is not None or self.pollers:
            return
        from console.collectors.registry import SNAPSHOT_TYPES, collectors_for

        ui = self.ui
        factory = getattr(self.app, "collector_factory", collectors_for)
        self.collectors = factory(self.env, timeout=ui.source_timeout_seconds, watch=True)
        self.pollers = {
            name: Poller(
                name, collector.collect, SNAPSHOT_TYPES[name].failed, self._updated,
                interval=ui.refresh_seconds, timeout=ui.source_timeout_seconds,
                max_backoff=ui.max_backoff_seconds, gate=self._gate(name),
            )
            for name, collector in self.collectors.items()
        }
        for name, subs in self.subscribers.items():
            if not subs:
                continue
            if name == HEALTH:
                for poller in self.pollers.values():
                    poller.start()
            elif name in self.pollers:
                self.pollers[name].start()

    # ---- subscriptions -------------------------------------------------------------------
    def subscribe(self, widget: Widget, *components: str) -> None:
        for name in components:
            self.subscribers.setdefault(name, [])
            if widget not in self.subscribers[name]:
                self.subscribers[name].append(widget)
            if name == HEALTH:
                for poller in self.pollers.values():
                    poller.start()
                if self.report is not None:
                    widget.post_message(HealthUpdated(self.report))
            elif name in self.pollers:
                self.pollers[name].start()
                if name in self.states:
                    widget.post_message(PollUpdated(self.states[name]))

    async def unsubscribe(self, widget: Widget) -> None:
        """Forget ``widget``; the last one out stops the pollers and closes the collectors
        (awaited, so an app that exits leaves no connection open)."""
        for subs in self.subscribers.values():
            if widget in subs:
                subs.remove(widget)
        if not any(self.subscribers.values()):
            self.close()
            await self._closing

    def refresh(self, *components: str) -> None:
        """Poll now (the `r` key)."""
        for name in components or tuple(self.pollers):
            if name in self.pollers:
                self.pollers[name].poll_now()

    def close(self) -> None:
        """Stop every poller and close the collectors, in the background."""
        hubs = getattr(self.app, "_live_data", {})
        if hubs.get(self.env_name) is self:
            del hubs[self.env_name]
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())

    async def _close(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._connecting
        await asyncio.gather(*(p.stop() for p in self.pollers.values()))
        if self.collectors:
            from console.collectors.registry import close_all

            await close_all(self.collectors)

    # ---- polling -------------------------------------------------------------------------
    def _gate(self, name: str):
        def on_screen() -> bool:
            active = self.app.screen if self.app.is_running else None
            watchers = self.subscribers.get(name, []) + self.subscribers.get(HEALTH, [])
            return any(w.is_attached and w.screen is active for w in watchers)
        return on_screen

    def _updated(self, state: PollState) -> None:
        from console.health.evaluate import evaluate  # imported by connect()

        self.states[state.name] = state
        for widget in list(self.subscribers.get(state.name, [])):
            widget.post_message(PollUpdated(state))
        snapshots: dict[str, Snapshot | None] = {n: s.latest for n, s in self.states.items()}
        self.report = evaluate(snapshots, self.env.thresholds)
        self._show_overall(self.report)
        for widget in list(self.subscribers.get(HEALTH, [])):
            widget.post_message(HealthUpdated(self.report))

    def _show_overall(self, report: HealthReport) -> None:
        from .header import StatusHeader

        if len(report.components) < len(self.pollers):
            return  # not every component has answered yet: keep "UNKNOWN"
        if not self._settled:  # the clients and their models are made: long-lived now
            self._settled = True
            keep_out_of_collections()
        for header in self.app.query(StatusHeader):
            header.overall = report.status.label


def live_data(widget: Widget) -> LiveData | None:
    """The hub of the environment open in ``widget``'s app (created on first use), or None
    when the app shows no live data."""
    app: Any = widget.app
    if not getattr(app, "live", True) or not hasattr(app, "environment"):
        return None
    hubs: dict[str, LiveData] | None = getattr(app, "_live_data", None)
    if hubs is None:
        hubs = {}
        app._live_data = hubs
    hub = hubs.get(app.env_name)
    if hub is None:
        hub = hubs[app.env_name] = LiveData(app, app.env_name, app.environment, app.config.ui)
    return hub
