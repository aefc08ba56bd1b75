"""Request figures from scrapes of a ``/metrics`` page.

Counters only grow (until the process restarts), so the difference between two scrapes
divided by the seconds between them is a rate. P95 is read from the histogram's bucket
counts the way PromQL's ``histogram_quantile`` does: find the bucket holding the 95th
percentile and interpolate linearly inside it. A restart (a counter going down) makes the
earlier scrapes useless, so the figures fall back to "since start".

The request rate is the last poll's (what the service does now). The error rate and P95 are
judged over a window like the runbook's ``rate(...[5m])``: :class:`ScrapeWindow` keeps the
scrapes of the last :data:`WINDOW_SECONDS` and measures from the oldest, and only once the
window holds :data:`MIN_REQUESTS` requests — before that, over the counters' whole life
("since start"). Over one 2-second poll a healthy service at 40 requests/s with 0.3 % of
5xx shows 1 error in 80 requests, 1.25 %, a warning that comes and goes; over a window of a
thousand requests or more it stays where it belongs.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from console.sources.prometheus import Sample

from .service_model import RequestFigures

REQUESTS = "http_requests_total"
WINDOW_SECONDS = 300.0
MIN_REQUESTS = 1000
DURATION_BUCKET = "http_request_duration_seconds_bucket"


@dataclass(frozen=True)
class Counters:
    at: float  # monotonic seconds
    requests: float = 0.0
    errors: float = 0.0  # status 5xx
    buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative count


def counters_from(samples: list[Sample], at: float) -> Counters:
    requests = errors = 0.0
    buckets: dict[float, float] = {}
    for s in samples:
        if s.name == REQUESTS:
            requests += s.value
            if s.label("status").startswith("5"):
                errors += s.value
        elif s.name == DURATION_BUCKET:
            le = float(s.label("le", "+Inf").replace("+Inf", "inf"))
            buckets[le] = buckets.get(le, 0.0) + s.value
    return Counters(at, requests, errors, buckets)


def figures_between(previous: Counters | None, current: Counters, *,
                    window_start: Counters | None = None,
                    min_requests: float = 0) -> RequestFigures:
    """Figures for ``current``: the request rate since ``previous``; error rate and P95
    since ``window_start`` (default ``previous``) when that span holds ``min_requests``
    requests, else since start."""
    restarted = previous is not None and current.requests < previous.requests
    if previous is None or restarted or current.at <= previous.at:
        return since_start(current)
    rate = (current.requests - previous.requests) / (current.at - previous.at)
    start = window_start or previous
    requests = current.requests - start.requests
    if requests < min_requests or current.at <= start.at:
        return since_start(current, request_rate=rate,
                           rate_window=_span(current.at - previous.at))
    delta = {le: n - start.buckets.get(le, 0.0) for le, n in current.buckets.items()}
    return RequestFigures(
        source="scrape", window=_span(current.at - start.at), request_rate=rate,
        rate_window=_span(current.at - previous.at),
        error_rate_pct=_pct(current.errors - start.errors, requests),
        p95_ms=_ms(quantile(0.95, delta)), requests=requests,
    )


def since_start(current: Counters, *, request_rate: float | None = None,
                rate_window: str = "") -> RequestFigures:
    return RequestFigures(
        source="scrape", window="since start", request_rate=request_rate,
        rate_window=rate_window, error_rate_pct=_pct(current.errors, current.requests),
        p95_ms=_ms(quantile(0.95, current.buckets)), requests=current.requests,
    )


class ScrapeWindow:
    """The scrapes of the last ``seconds``, for figures judged over a window."""

    def __init__(self, seconds: float = WINDOW_SECONDS, min_requests: float = MIN_REQUESTS):
        self.seconds = seconds
        self.min_requests = min_requests
        self._scrapes: deque[Counters] = deque()

    def add(self, current: Counters) -> RequestFigures:
        if self._scrapes and current.requests < self._scrapes[-1].requests:
            self._scrapes.clear()  # the service restarted: its earlier counters mean nothing
        previous = self._scrapes[-1] if self._scrapes else None
        # keep the newest scrape at least `seconds` old as the window's start
        while len(self._scrapes) > 1 and current.at - self._scrapes[1].at >= self.seconds:
            self._scrapes.popleft()
        start = self._scrapes[0] if self._scrapes else None
        self._scrapes.append(current)
        return figures_between(previous, current, window_start=start,
                               min_requests=self.min_requests)


def _span(seconds: float) -> str:
    return f"{seconds / 60:.0f}m" if seconds >= 119.5 else f"{seconds:.0f}s"


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """The q-quantile of a cumulative histogram ``{upper bound: count}`` (seconds)."""
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower_bound  # as PromQL: the highest finite bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return lower_bound


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole > 0 else None


def _ms(seconds: float | None) -> float | None:
    return seconds * 1000 if seconds is not None else None
