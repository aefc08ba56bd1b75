"""The Service panel: health endpoints with status and latency, and request rate, error
rate and P95 as sparklines."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.collectors.service_model import ServiceSnapshot

from ..widgets import Trend, set_text
from .base import Panel


def _fmt(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


class ServicePanel(Panel):
    TITLE = "Service"
    HINT = "health endpoints, request rate, error rate, P95"
    COMPONENT = "service"

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="service-endpoints", classes="panel-body panel-live")
        yield Trend("req/s", id="trend-rate")
        yield Trend("errors", id="trend-errors")
        yield Trend("P95", id="trend-p95")

    def show(self, snap: ServiceSnapshot) -> None:
        line = Text()
        for e in snap.endpoints:
            if line:
                line.append("  ")
            name = {"dependencies": "deps", "database": "db"}.get(e.name, e.name)
            if e.status_code is None:
                line.append(f"{name} ", "bold").append("down" if "connect" in (e.error or "")
                                                        else "timeout", "bold red")
            elif not e.ok:
                line.append(f"{name} ", "bold").append(f"HTTP {e.status_code}", "bold red")
            else:
                style = "green" if (e.latency_ms or 0) < 500 else "yellow"
                line.append(f"{name} ", "bold").append(f"{e.latency_ms:.0f}ms", style)
        set_text(self.query_one("#service-endpoints", Static), line)
        r = snap.requests
        self.query_one("#trend-rate", Trend).push(r.request_rate, _fmt(r.request_rate, "{:.1f}"))
        self.query_one("#trend-errors", Trend).push(r.error_rate_pct, _fmt(r.error_rate_pct, "{:.2f}%"))
        self.query_one("#trend-p95", Trend).push(r.p95_ms, _fmt(r.p95_ms, "{:.0f}ms"))
