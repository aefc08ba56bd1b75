"""Small widgets the panels share: a labelled sparkline with its current figure."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label, Sparkline

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
        self.query_one(".trend-label", Label).update(f"{self.label} {text}")
        if value is not None:
            self.history.append(value)
            if len(self.history) > 1:  # one point is no trend (and draws as a full bar)
                self.query_one(Sparkline).data = list(self.history)
