"""Request figures from two scrapes of a ``/metrics`` page.

Counters only grow (until the process restarts), so the difference between two scrapes
divided by the seconds between them is a rate. P95 is read from the histogram's bucket
counts the way PromQL's ``histogram_quantile`` does: find the bucket holding the 95th
percentile and interpolate linearly inside it. A restart (a counter going down) makes the
previous scrape useless, so the figures fall back to "since start".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from console.sources.prometheus import Sample

from .service_model import RequestFigures

REQUESTS = "http_requests_total"
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


def figures_between(previous: Counters | None, current: Counters) -> RequestFigures:
    restarted = previous is not None and current.requests < previous.requests
    if previous is None or restarted or current.at <= previous.at:
        return RequestFigures(
            source="scrape", window="since start", request_rate=None,
            error_rate_pct=_pct(current.errors, current.requests),
            p95_ms=_ms(quantile(0.95, current.buckets)), requests=current.requests,
        )
    seconds = current.at - previous.at
    requests = current.requests - previous.requests
    delta = {le: n - previous.buckets.get(le, 0.0) for le, n in current.buckets.items()}
    return RequestFigures(
        source="scrape", window=f"{seconds:.0f}s", request_rate=requests / seconds,
        error_rate_pct=_pct(current.errors - previous.errors, requests),
        p95_ms=_ms(quantile(0.95, delta)), requests=requests,
    )


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
