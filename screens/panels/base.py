"""The frame every dashboard panel shares: a titled border, a body, and a stale marker.

A panel only renders what it is given (a snapshot, or "not connected"); it never calls a
client. Subclasses override :meth:`render_body`.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static


class Panel(Vertical, can_focus=True):
    """A bordered, focusable dashboard panel."""

    DEFAULT_CSS = """
    Panel {
        border: round $primary-darken-2;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1;
        height: 1fr;
        width: 1fr;
    }
    Panel:focus-within, Panel:focus { border: round $accent; }
    Panel.-stale { border: round $warning-darken-2; color: $text-muted; }
    Panel.-critical { border: round $error; }
    Panel.-warning { border: round $warning; }
    Panel > .panel-body { height: 1fr; }
    """

    TITLE = "Panel"
    HINT = ""  # one line saying what will be shown here

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = self.TITLE
        self.snapshot: Any = None

    def compose(self) -> ComposeResult:
        yield Static(self.placeholder(), classes="panel-body")

    def placeholder(self) -> str:
        return f"not connected\n[dim]{self.HINT}[/dim]" if self.HINT else "not connected"
