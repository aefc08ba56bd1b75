"""Shapes of the service snapshot: endpoint probes and request figures."""

from __future__ import annotations

from dataclasses import dataclass

from console.sources.alertmanager import FiringAlert

from .base import Snapshot


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """One health endpoint: HTTP status and latency, or why there is none."""

    name: str  # health / database / dependencies
    path: str
    status_code: int | None = None
    latency_ms: float | None = None
    error: str | None = None  # connection refused, timed out...
    detail: str = ""  # the body's "status" field when it is JSON

    @property
    def ok(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, kw_only=True)
class RequestFigures:
    """Error rate and P95 over ``window`` ("5m", "12s", "since start"); the request rate
    over ``rate_window`` (the last poll; empty: the same as ``window``)."""

    source: str = ""  # prometheus / scrape
    window: str = ""
    request_rate: float | None = None  # requests per second
    rate_window: str = ""
    error_rate_pct: float | None = None
    p95_ms: float | None = None
    requests: float | None = None  # requests counted in the window
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServiceSnapshot(Snapshot):
    base_url: str = ""
    endpoints: tuple[Endpoint, ...] = ()
    requests: RequestFigures = RequestFigures()
    # Alertmanager's firing alerts; None: not configured
    firing: tuple[FiringAlert, ...] | None = None
    alertmanager_error: str | None = None

    @property
    def down(self) -> bool:
        """Every endpoint failed to answer at all."""
        return bool(self.endpoints) and all(e.status_code is None for e in self.endpoints)
