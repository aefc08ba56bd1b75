"""The Service panel: health endpoints, request rate, error rate, P95."""

from __future__ import annotations

from .base import Panel


class ServicePanel(Panel):
    TITLE = "Service"
    HINT = "health endpoints, request rate, error rate, P95"
