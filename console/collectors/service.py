"""Service collector: the MCP server's health endpoints and its request figures.

Health: ``/health``, ``/health/database`` and ``/health/dependencies`` are asked
concurrently, each with its status code and latency. Request figures come from
Prometheus when ``service.prometheus_url`` is set (PromQL over ``[5m]``) and
``service.request_figures`` is ``auto``, otherwise from the service's own ``/metrics``: the
last two scrapes give the request rate, and the error rate and P95 are judged over a window
of scrapes (see :mod:`.service_metrics`). On the very first scrape there is nothing to
subtract, so error rate and P95 are computed over the counters' whole life ("since start")
and the request rate is left empty rather than guessed.

Metric names expected from the service (the MCP-server simulator exposes the same):
``http_requests_total{method,path,status}`` (counter) and
``http_request_duration_seconds`` (histogram: ``_bucket{le}``, ``_count``, ``_sum``).
"""

from __future__ import annotations

import asyncio
import ssl
import time

import httpx

from console.config.model import ServiceSettings
from console.sources import alertmanager, http, prometheus

from .base import Stopwatch, describe_error, utcnow
from .service_metrics import MIN_REQUESTS, WINDOW_SECONDS, ScrapeWindow, counters_from
from .service_model import Endpoint, RequestFigures, ServiceSnapshot

PROMQL = {
    "rate": 'sum(rate(http_requests_total{{job="{job}"}}[5m]))',
    "errors": 'sum(rate(http_requests_total{{job="{job}",status=~"5.."}}[5m]))',
    "p95": 'histogram_quantile(0.95, sum by (le) '
           '(rate(http_request_duration_seconds_bucket{{job="{job}"}}[5m])))',
}


class ServiceCollector:
    def __init__(self, settings: ServiceSettings, *, timeout: float | None = None,
                 window_seconds: float = WINDOW_SECONDS,
                 min_requests: float = MIN_REQUESTS) -> None:
        self.settings = settings
        self.timeout = timeout or settings.timeout
        self._client: httpx.AsyncClient | None = None
        self._window = ScrapeWindow(window_seconds, min_requests)

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def _http(self, tls: ssl.SSLContext | None = None) -> httpx.AsyncClient:
        if self._client is None:
            self._client = http.client(self.settings, timeout=self.timeout, tls=tls)
        return self._client

    async def collect(self) -> ServiceSnapshot:
        if self._client is None:  # its TLS context is made in a thread (http.tls_context)
            self._http(await asyncio.to_thread(http.tls_context))
        s = self.settings
        paths = (("health", s.health_path), ("database", s.database_health_path),
                 ("dependencies", s.dependencies_health_path))
        endpoints, figures, (firing, am_error) = await asyncio.gather(
            asyncio.gather(*(self._probe(name, path) for name, path in paths)), self._figures(),
            self._alertmanager())
        return ServiceSnapshot(collected_at=utcnow(), base_url=s.base_url,
                               endpoints=tuple(endpoints), requests=figures,
                               firing=firing, alertmanager_error=am_error)

    async def _alertmanager(self) -> tuple[tuple[alertmanager.FiringAlert, ...] | None,
                                           str | None]:
        url = self.settings.alertmanager_url
        if not url:
            return None, None
        try:
            alerts = await alertmanager.firing(self._http(), url, self.settings.alertmanager_filter)
        except Exception as exc:  # noqa: BLE001 - an unanswered Alertmanager is a note only
            return None, describe_error(exc)
        return tuple(alerts), None

    async def _probe(self, name: str, path: str) -> Endpoint:
        watch = Stopwatch()
        try:
            response = await self._http().get(path)
        except httpx.TimeoutException:
            return Endpoint(name=name, path=path, latency_ms=watch.ms,
                            error=f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as exc:
            return Endpoint(name=name, path=path, error=_http_error(exc))
        return Endpoint(name=name, path=path, status_code=response.status_code,
                        latency_ms=watch.ms, detail=_detail(response))

    async def _figures(self) -> RequestFigures:
        try:
            if self.settings.prometheus_url and self.settings.request_figures == "auto":
                return await self._from_prometheus()
            return await self._from_scrape()
        except Exception as exc:  # noqa: BLE001 - figures missing must not hide health
            return RequestFigures(source="prometheus" if self.settings.prometheus_url
                                  and self.settings.request_figures == "auto" else "scrape",
                                  error=describe_error(exc))

    async def _from_prometheus(self) -> RequestFigures:
        job, url = self.settings.prometheus_job, self.settings.prometheus_url
        assert url is not None  # only called when it is set
        rate, errors, p95 = await asyncio.gather(*(
            prometheus.query(self._http(), url, q.format(job=job))
            for q in PROMQL.values()
        ))
        rate_v, err_v, p95_v = (prometheus.scalar(x) for x in (rate, errors, p95))
        # a service that never answered 5xx has no 5xx series: no errors, not "unknown";
        # the rate is unknown only when the requests themselves are
        error_rate = None if rate_v is None else (100.0 * (err_v or 0.0) / rate_v if rate_v else 0.0)
        return RequestFigures(
            source="prometheus", window="5m", request_rate=rate_v, error_rate_pct=error_rate,
            p95_ms=p95_v * 1000 if p95_v is not None else None,
        )

    async def _from_scrape(self) -> RequestFigures:
        response = await self._http().get(self.settings.metrics_path)
        response.raise_for_status()
        return self._window.add(counters_from(prometheus.parse_text(response.text),
                                              time.monotonic()))


def _http_error(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect: {text}"
    return text


def _detail(response: httpx.Response) -> str:
    """The ``status`` field of a JSON health answer, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:120].strip()
    if isinstance(body, dict) and "status" in body:
        return str(body["status"])
    return ""
