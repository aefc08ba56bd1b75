"""The dashboard: six panels in a grid that reflows with the terminal's width.

At 80 columns the panels sit two abreast in three rows; from 160 columns they sit three
abreast in two rows, so a 200x60 terminal shows more of every table instead of wider
borders.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Grid

from .panels import (
    AlertsPanel,
    BackupsPanel,
    CachePanel,
    DatabasePanel,
    PodsPanel,
    ServicePanel,
)


class Dashboard(Grid):
    # The wide layout is keyed on the screen's breakpoint class, so it lives in the App's
    # CSS (a widget's DEFAULT_CSS is scoped to the widget and cannot see the screen).
    DEFAULT_CSS = """
    Dashboard { grid-size: 2 3; grid-gutter: 0 0; height: 1fr; }
    """

    def __init__(self, env_name: str, *, id: str | None = "dashboard") -> None:
        super().__init__(id=id)
        self.env_name = env_name

    def compose(self) -> ComposeResult:
        yield ServicePanel(id="panel-service")
        yield PodsPanel(id="panel-pods")
        yield DatabasePanel(id="panel-database")
        yield CachePanel(id="panel-cache")
        yield BackupsPanel(id="panel-backups")
        yield AlertsPanel(id="panel-alerts")
