"""Log viewer: a pod's log streamed live, with the runbook's grep lines as filter presets
(1 all, 2 errors, 3 auth, 4 slow/timeout, 5 ERROR|WARN|Exception), follow (`f`) and pause
(`space`), in a bounded buffer (``ui.output_line_cap`` lines). Long lines wrap to the
screen's width (:class:`.wrap_log.WrapLog`), so the end of a line is never cut off.

Pausing stops the screen from moving, not the stream: lines keep arriving into the buffer
and appear when the viewer resumes. Changing the filter re-reads the buffer.

The viewer only consumes a stream handed to it by ``open_stream`` (default:
:func:`console.logstream.open_pod_log`), whose lines are already redacted: it builds no
client and sees no secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.logstream import PRESETS, LogBuffer, LogPreset, PodLogStream, open_pod_log

from .literal import printable, printable_text
from .worker_errors import ForwardWorkerErrors
from .wrap_log import WrapLog

# (app, pod, container, tail) -> the stream to show
StreamOpener = Callable[..., PodLogStream]


def _default_opener(app, pod: str, container: str | None, tail: int) -> PodLogStream:
    return open_pod_log(app.config, app.environment, pod, container=container, tail=tail)


class LogViewer(ForwardWorkerErrors, Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="logs.back"),
        Binding("space", "pause", "Pause", id="logs.pause"),
        Binding("f", "follow", "Follow", id="logs.follow"),
        *[Binding(p.key, f"preset('{p.name}')", p.name, id=f"logs.preset.{p.name}")
          for p in PRESETS],
    ]
    DEFAULT_CSS = """
    LogViewer .title-line { height: 1; text-style: bold; background: $panel; }
    LogViewer #log-status { height: auto; max-height: 3; }
    LogViewer WrapLog { height: 1fr; }
    """

    def __init__(self, pod: str, *, container: str | None = None, tail: int = 200,
                 open_stream: StreamOpener | None = None) -> None:
        super().__init__()
        self.pod = pod
        self.open_stream = open_stream or _default_opener
        self.container = container
        self.tail = tail
        self.preset: LogPreset = PRESETS[0]
        self.paused = False
        self.follow = True
        self.ended: str | None = None
        self.buffer = LogBuffer()
        self.pending = 0  # lines received while paused

    def compose(self) -> ComposeResult:
        yield Static(printable(f"Logs of pod {self.pod}"), classes="title-line", id="log-title",
                     markup=False)
        yield Static("", id="log-status")
        yield WrapLog(id="log", auto_scroll=True)  # long lines wrap: nothing is cut off
        yield Footer()

    def on_mount(self) -> None:
        app = self.app
        cap = app.config.ui.output_line_cap if hasattr(app, "config") else 5000
        self.buffer = LogBuffer(cap)
        self.query_one(WrapLog).max_lines = cap
        self._status()
        self.stream()

    @work(exclusive=True, group="log-stream", exit_on_error=False)
    async def stream(self) -> None:
        """Failures of the stream are shown in the status line; one that escapes (the
        stream cannot even be opened) goes to the App's handler, never quits the app."""
        try:
            stream = self.open_stream(self.app, self.pod, self.container, self.tail)
        except Exception:
            self.ended = "stream could not be opened"
            self._status()
            raise
        self.container = stream.container
        try:
            async for line in stream:
                self._received(line)
            self.ended = "stream ended"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown, not raised
            self.ended = f"stream failed: {exc}"
        finally:
            await stream.aclose()
        self._status()

    def _received(self, line: str) -> None:
        self.buffer.add(line)
        if not self.preset.matches(line):
            return
        if self.paused:
            self.pending += 1
        else:
            self.query_one(WrapLog).write_line(line)
        if self.buffer.received % 50 == 1 or self.paused:
            self._status()

    def _status(self) -> None:
        text = Text()
        text.append(f" {self.preset.name} ", "bold black on cyan")
        text.append(f" {self.preset.grep}  ", "dim")
        text.append("PAUSED" if self.paused else "live", "bold yellow" if self.paused else "green")
        if self.paused and self.pending:
            text.append(f" (+{self.pending} new)", "yellow")
        text.append("  follow on" if self.follow else "  follow off")
        text.append(f"  {self.buffer.received} lines")
        if self.buffer.dropped:
            text.append(f", oldest {self.buffer.dropped} dropped")
        if self.ended:
            text.append(f"  {self.ended}", "yellow")
        self.query_one("#log-status", Static).update(printable_text(text))

    def _redraw(self) -> None:
        log = self.query_one(WrapLog)
        log.clear()
        log.write_lines(self.buffer.view(self.preset))
        self.pending = 0

    # ---- keys ----------------------------------------------------------------------------
    def action_preset(self, name: str) -> None:
        self.preset = next(p for p in PRESETS if p.name == name)
        self._redraw()
        self._status()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._redraw()
        self._status()

    def action_follow(self) -> None:
        self.follow = not self.follow
        log = self.query_one(WrapLog)
        log.auto_scroll = self.follow
        if self.follow:
            log.scroll_end(animate=False)
        self._status()

    def visible_lines(self) -> list[str]:
        """What the viewer shows now (for tests and copy)."""
        return list(self.query_one(WrapLog).lines)
