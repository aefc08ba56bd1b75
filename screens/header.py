"""The one-line header: environment, read-only badge, overall status, who else holds the
environment (its operator lease), operator, clock.

Production is drawn on red so nobody mistakes it for staging at 3 a.m.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

STATUS_STYLES = {
    "HEALTHY": "bold black on green",
    "WARNING": "bold black on yellow",
    "CRITICAL": "bold white on red",
    "UNREACHABLE": "bold white on magenta",
    "UNKNOWN": "bold white on grey37",
}


class StatusHeader(Widget):
    """Environment name, badges, operator@host and a clock."""

    DEFAULT_CSS = """
    StatusHeader { height: 1; dock: top; background: $panel; }
    """

    env_name: reactive[str] = reactive("")
    read_only: reactive[bool] = reactive(False)
    credentials_can_write: reactive[bool | None] = reactive(None)
    overall: reactive[str] = reactive("UNKNOWN")
    held_by: reactive[str] = reactive("")  # another operator holding the environment's lease

    def __init__(self, env_name: str, operator: str, *, production: bool, read_only: bool,
                 clock: Callable[[], datetime] | None = None, id: str | None = None) -> None:
        super().__init__(id=id)
        self.operator = operator
        self.production = production
        self._clock = clock or (lambda: datetime.now().astimezone())
        self.set_reactive(StatusHeader.env_name, env_name)
        self.set_reactive(StatusHeader.read_only, read_only)

    def on_mount(self) -> None:
        self.set_interval(1.0, self.refresh)

    def render(self) -> Text:
        env_style = "bold white on red" if self.production else "bold black on cyan"
        left = Text.assemble((f" {self.env_name.upper()} ", env_style), " ")
        if self.read_only:
            left.append(" READ-ONLY ", "bold black on yellow")
            left.append(" ")
        # what the credentials themselves may do (start-up probe); unknown until it answers.
        # Read-only enforced by the console over credentials that can write is worth a
        # warning colour: the protection is the console's alone.
        if self.credentials_can_write is False:
            left.append(" creds:ro ", "black on grey70")
            left.append(" ")
        elif self.credentials_can_write:
            left.append(" creds:rw ", "black on dark_orange" if self.read_only else "grey70")
            left.append(" ")
        left.append(f" {self.overall} ", STATUS_STYLES.get(self.overall, STATUS_STYLES["UNKNOWN"]))
        if self.held_by:
            left.append(" ")
            left.append(f" held:{self.held_by} ", "bold black on dark_orange")
        right = Text(f"{self.operator}  {self._clock():%H:%M:%S} ", style="bold")
        title = Text(" mcp-ops ", style="dim")
        width = self.size.width
        gap = width - left.cell_len - right.cell_len
        if gap >= title.cell_len + 2:  # the product name only where there is room for it
            pad = gap - title.cell_len
            return Text.assemble(left, " " * (pad // 2), title, " " * (pad - pad // 2), right)
        if gap < 1:  # narrow terminal: the operator goes first, the clock stays
            right = Text(f"{self._clock():%H:%M} ", style="bold")
            gap = max(1, width - left.cell_len - right.cell_len)
        return Text.assemble(left, " " * gap, right)
