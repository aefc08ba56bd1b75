"""Small widgets the panels share: a labelled sparkline with its current figure."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline, Static

from .literal import printable_text

HISTORY = 60  # points kept per sparkline (2 minutes at the default 2 s refresh)


class Trend(Horizontal):
    """``label  value  ▁▂▃▅▇`` on one line. :meth:`push` adds a point; None (no figure this
    poll) shows "–" and leaves the history alone."""

    DEFAULT_CSS = """
    Trend { height: 1; width: 1fr; }
    Trend > .trend-label { width: 18; }
    Trend > Sparkline { width: 1fr; min-width: 4; }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.history: deque[float] = deque(maxlen=HISTORY)

    def compose(self) -> ComposeResult:
        yield Label(f"{self.label} –", classes="trend-label", markup=False)
        yield Sparkline([], summary_function=max)

    def push(self, value: float | None, text: str) -> None:
        set_text(self.query_one(".trend-label", Label), f"{self.label} {text}")
        if value is not None:
            self.history.append(value)
            if len(self.history) > 1:  # one point is no trend (and draws as a full bar)
                self.query_one(Sparkline).data = list(self.history)


def set_text(widget: Static | Label, content: Text | str) -> None:
    """Update a Static only when its content changed, and without a layout pass when the
    number of lines is the same: most refreshes change a figure, not the shape, and a
    layout pass of the whole screen is the most expensive thing a poll can cause."""
    text = printable_text(content if isinstance(content, Text) else Text(content))
    previous = getattr(widget, "_mcp_text", None)
    if previous is not None and previous == text:
        return
    same_shape = previous is not None and previous.plain.count("\n") == text.plain.count("\n") \
        and len(previous.plain) == len(text.plain)
    widget._mcp_text = text
    widget.update(text, layout=not same_shape)
