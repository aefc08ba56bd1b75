"""The Service panel: health endpoints with status and latency, and request rate, error
rate and P95 as sparklines.

With room to spare it adds a row per health endpoint (path, HTTP status, latency, what the
answer said or why there was none) and the request figures in words: where they come from,
over which window, how many requests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from ..tables import add_columns, display_table, sync_rows
from ..widgets import Trend, set_text
from .base import Panel

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.service_model import Endpoint, RequestFigures, ServiceSnapshot

ENDPOINTS = [("endpoint", "name"), ("path", "path"), ("HTTP", "status"), ("ms", "ms"),
             ("answer", "answer")]


def _fmt(value: float | None, pattern: str) -> str:
    return "–" if value is None else pattern.format(value)


def failure_word(e: Endpoint) -> str:
    """What became of a request that got no HTTP status: it timed out, could not connect
    (down), or got an answer that was no HTTP (bad answer: garbage, cut off)."""
    error = e.error or ""
    if error.startswith("timed out"):
        return "timeout"
    return "down" if error.startswith("cannot connect") else "bad answer"


def endpoint_cells(e: Endpoint) -> list:
    if e.status_code is None:
        status = Text(failure_word(e), "bold red")
    else:
        status = Text(str(e.status_code), "green" if e.ok else "bold red")
    slow = (e.latency_ms or 0) >= 500
    ms = Text(_fmt(e.latency_ms, "{:.0f}"), "yellow" if slow else "")
    answer = Text(e.error, "red") if e.error else Text(e.detail or "–")
    return [e.name, e.path, status, ms, answer]


def figures_line(r: RequestFigures) -> Text:
    """The request figures in words, with where they come from and their window."""
    text = Text("requests ", "bold")
    window = f"over {r.window}" if r.window[:1].isdigit() else r.window  # "5m", "since start"
    where = ", ".join(x for x in (r.source, window) if x)
    if r.requests is not None:
        text.append(f"{r.requests:.0f} counted · ")
    text.append(f"{_fmt(r.request_rate, '{:.1f}')}/s · errors {_fmt(r.error_rate_pct, '{:.2f}%')}"
                f" · P95 {_fmt(r.p95_ms, '{:.0f}ms')}")
    if where:
        text.append(f" ({where})", "dim")
    if r.error:
        text.append(f"\nfigures unavailable: {r.error}", "yellow")
    return text


class ServicePanel(Panel):
    TITLE = "Service"
    HINT = "health endpoints, request rate, error rate, P95"
    COMPONENT = "service"
    DEFAULT_CSS = """
    ServicePanel > #service-more { height: 1fr; }
    #service-more > #service-endpoint-table { height: auto; margin-top: 1; }
    #service-more > #service-figures { margin-top: 1; }
    """

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Static("", id="service-endpoints", classes="panel-body panel-live")
        yield Trend("req/s", id="trend-rate")
        yield Trend("errors", id="trend-errors")
        yield Trend("P95", id="trend-p95")
        with Vertical(id="service-more", classes="panel-more"):
            yield Static("", id="service-figures")
            yield display_table("service-endpoint-table")

    def on_mount(self) -> None:
        add_columns(self.query_one(DataTable), ENDPOINTS)
        super().on_mount()

    def show_more(self, snap: ServiceSnapshot) -> None:
        set_text(self.query_one("#service-figures", Static), figures_line(snap.requests))
        sync_rows(self.query_one(DataTable), [(e.name, endpoint_cells(e)) for e in snap.endpoints])

    def show(self, snap: ServiceSnapshot) -> None:
        line = Text()
        for e in snap.endpoints:
            if line:
                line.append("  ")
            name = {"dependencies": "deps", "database": "db"}.get(e.name, e.name)
            if e.status_code is None:
                line.append(f"{name} ", "bold").append(failure_word(e), "bold red")
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
