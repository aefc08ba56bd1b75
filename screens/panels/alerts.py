"""The Alerts panel: active threshold violations, worst first."""

from __future__ import annotations

from .base import Panel


class AlertsPanel(Panel):
    TITLE = "Alerts"
    HINT = "active threshold violations, worst first"
