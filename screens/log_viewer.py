"""Log viewer: a pod's log streamed live, with the runbook's grep lines as filter presets
(1 all, 2 errors, 3 auth, 4 slow/timeout, 5 ERROR|WARN|Exception), follow (`f`) and pause
(`space`), in a bounded buffer (``ui.output_line_cap`` lines). Long lines wrap to the
screen's width (:class:`.wrap_log.WrapLog`), so the end of a line is never cut off.

`a` switches between the one pod and **every pod of the app selector** (the log-review
wizard's view, live): each line prefixed with its pod's name, the presets matching the
line itself (not the name), the same bounded buffer. Switching starts a new stream and an
empty buffer; `a` again goes back to the one pod.

Pausing stops the screen from moving, not the stream: lines keep arriving into the buffer
and appear when the viewer resumes. Changing the filter re-reads the buffer.

The viewer only consumes streams handed to it by ``open_stream`` (default:
:func:`console.logstream.open_pod_log`) and ``open_all`` (default:
:func:`console.logstream.open_selector_log`), whose lines are already redacted: it builds
no client and sees no secret.
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

from console.logstream import (
    PRESETS,
    LogBuffer,
    LogPreset,
    PodLine,
    PodLogStream,
    SelectorLogStream,
    open_pod_log,
    open_selector_log,
)

from .literal import printable, printable_text
from .worker_errors import ForwardWorkerErrors
from .wrap_log import WrapLog

# (app, pod, container, tail) -> the stream to show
FLUSH_SECONDS = 1 / 30  # lines received are put on the screen at most this often
StreamOpener = Callable[..., PodLogStream]
# (app, tail) -> every pod of the environment's app selector, merged
AllPodsOpener = Callable[..., SelectorLogStream]


def _default_opener(app, pod: str, container: str | None, tail: int) -> PodLogStream:
    return open_pod_log(app.config, app.environment, pod, container=container, tail=tail)


def _default_all_opener(app, tail: int) -> SelectorLogStream:
    return open_selector_log(app.config, app.environment, tail=tail)


class LogViewer(ForwardWorkerErrors, Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="logs.back"),
        # q leaves the viewer, as it leaves less(1); hidden: the footer's 80 columns go to
        # the viewer's own keys (the app's "q Quit" was cut off there)
        Binding("q", "app.pop_screen", "Back", show=False, id="logs.quit"),
        Binding("a", "all_pods", "All pods", id="logs.all-pods"),
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
                 open_stream: StreamOpener | None = None,
                 open_all: AllPodsOpener | None = None) -> None:
        super().__init__()
        self.pod = pod
        self.open_stream = open_stream or _default_opener
        self.open_all = open_all or _default_all_opener
        self.all_pods = False
        self.selector = ""  # the all-pods stream's selector, once opened
        self.source: PodLogStream | SelectorLogStream | None = None
        self.container = container
        self.tail = tail
        self.preset: LogPreset = PRESETS[0]
        self.paused = False
        self.follow = True
        self.ended: str | None = None
        self.cap = 5000
        self.buffer = LogBuffer(self.cap)
        self.pending = 0  # lines received while paused
        self._queued: list[str] = []  # lines received for the screen since the last frame
        self._flush_armed = False

    def compose(self) -> ComposeResult:
        yield Static(printable(self._title()), classes="title-line", id="log-title",
                     markup=False)
        yield Static("", id="log-status")
        yield WrapLog(id="log", auto_scroll=True)  # long lines wrap: nothing is cut off
        # compact, without the palette hint (ctrl+p still works): every key of the viewer
        # fits in 80 columns, the all-pods switch and the five presets included
        yield Footer(compact=True, show_command_palette=False)

    def _title(self) -> str:
        if not self.all_pods:
            return f"Logs of pod {self.pod}"
        return f"Logs of every pod of {self.selector or 'the app selector'}"

    def on_mount(self) -> None:
        app = self.app
        self.cap = app.config.ui.output_line_cap if hasattr(app, "config") else 5000
        self.buffer = LogBuffer(self.cap)
        self.query_one(WrapLog).max_lines = self.cap
        self._status()
        self.stream()

    @work(exclusive=True, group="log-stream", exit_on_error=False)
    async def stream(self) -> None:
        """Failures of the stream are shown in the status line; one that escapes (the
        stream cannot even be opened) goes to the App's handler, never quits the app.
        Exclusive: starting another (the all-pods switch) cancels this one, which closes
        its stream."""
        try:
            stream: PodLogStream | SelectorLogStream = (
                self.open_all(self.app, self.tail) if self.all_pods else
                self.open_stream(self.app, self.pod, self.container, self.tail))
        except Exception:
            self.ended = "stream could not be opened"
            self._status()
            raise
        self.source = stream
        if isinstance(stream, SelectorLogStream):
            self.selector = stream.selector
            self.query_one("#log-title", Static).update(printable(self._title()))
        else:
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

    def _received(self, line: str | PodLine) -> None:
        """A line from the stream (a :class:`PodLine` in the all-pods mode, shown with its
        pod's name in front; the presets match the line itself): kept in the buffer, and
        queued for the screen, which is written once per frame (:meth:`_flush`), not once
        per line — a busy pod's log (100k lines a second) would otherwise spend the loop on
        layout and scrolling."""
        if isinstance(line, PodLine):
            prefix = f"{line.pod} "
            text, line = line.text, prefix + line.text
            self.buffer.add(line, skip=len(prefix))
        else:
            text = line
            self.buffer.add(line)
        if self.preset.matches(text):
            if self.paused:
                self.pending += 1
            else:
                self._queued.append(line)
        if not self._flush_armed:
            self._flush_armed = True
            self.set_timer(FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        """Writes the lines queued since the last frame (only the last ``cap``: more would
        be pruned at once) and the status line."""
        self._flush_armed = False
        if self._queued:
            queued, self._queued = self._queued, []
            self.query_one(WrapLog).write_lines(queued[-self.buffer.lines.maxlen:]
                                                if self.buffer.lines.maxlen else queued)
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
        if isinstance(self.source, SelectorLogStream):
            text.append(f"  {len(self.source.pods)} pods")
            if self.source.unreadable:
                text.append(f", {len(self.source.unreadable)} unreadable", "yellow")
        if self.buffer.dropped:
            text.append(f", oldest {self.buffer.dropped} dropped")
        if self.ended:
            text.append(f"  {self.ended}", "yellow")
        self.query_one("#log-status", Static).update(printable_text(text))

    def _redraw(self) -> None:
        self._queued.clear()  # the buffer holds them too
        log = self.query_one(WrapLog)
        log.clear()
        log.write_lines(self.buffer.view(self.preset))
        self.pending = 0

    # ---- keys ----------------------------------------------------------------------------
    def action_all_pods(self) -> None:
        """Every pod of the app selector, or back to the one pod: a new stream (the
        exclusive worker cancels the old one) into an empty buffer."""
        self.all_pods = not self.all_pods
        self.source = None
        self.ended = None
        self.paused = False
        self.buffer = LogBuffer(self.cap)
        self.query_one("#log-title", Static).update(printable(self._title()))
        self._redraw()
        self._status()
        self.stream()

    def action_preset(self, name: str) -> None:
        self.preset = next(p for p in PRESETS if p.name == name)
        self._redraw()
        self._status()

    def action_pause(self) -> None:
        self._flush()  # what arrived before the pause is shown; after it, held
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
        """What the viewer shows now (for tests and copy), the lines queued for the next
        frame included."""
        if self._queued:
            self._flush()
        return list(self.query_one(WrapLog).lines)
