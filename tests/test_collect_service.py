"""The service collector and its rules against a real aiohttp server over a socket:
healthy, slow (600 ms), HTTP 500 and down, and request figures from a real /metrics."""

from __future__ import annotations

import pytest
from health_support import HealthServer, refused_port

from console.collectors.service import ServiceCollector
from console.collectors.service_metrics import Counters, ScrapeWindow, figures_between, quantile
from console.config.model import ServiceSettings, Thresholds
from console.health import Status
from console.health.evaluate import evaluate_component
from console.sources.prometheus import parse_text

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def server():
    s = await HealthServer().start()
    yield s
    await s.stop()


async def judge(url: str, timeout: float = 3.0):
    c = ServiceCollector(ServiceSettings(base_url=url, timeout=timeout))
    try:
        snap = await c.collect()
    finally:
        await c.close()
    return snap, evaluate_component("service", snap, Thresholds())


async def test_healthy_service(server):
    snap, health = await judge(server.url)
    assert [e.status_code for e in snap.endpoints] == [200, 200, 200]
    assert all(e.latency_ms < 500 for e in snap.endpoints)
    assert health.status is Status.HEALTHY
    assert any(r.startswith("GET /health 200 in") for r in health.reasons)


async def test_slow_health_endpoint_is_a_warning(server):
    server.mode = "slow"
    snap, health = await judge(server.url)
    assert all(e.latency_ms >= 600 for e in snap.endpoints)
    assert health.status is Status.WARNING
    assert any("GET /health took 6" in r and "≥ 500 ms" in r for r in health.reasons)


async def test_http_500_is_critical(server):
    server.mode = "error"
    _, health = await judge(server.url)
    assert health.status is Status.CRITICAL
    assert "GET /health answered HTTP 500 (unhealthy)" in health.reasons


async def test_timeout_is_critical(server):
    server.mode, server.delay = "slow", 1.0
    snap, health = await judge(server.url, timeout=0.3)
    assert health.status is Status.CRITICAL
    assert "GET /health: timed out after 0.3 s" in health.reasons


async def test_down_service_is_critical_service_down():
    with refused_port() as port:
        url = f"http://127.0.0.1:{port}"
        snap, health = await judge(url)
    assert snap.down
    assert health.status is Status.CRITICAL
    assert health.reasons[0] == f"service down: no health endpoint answers at {url}"


async def test_request_figures_between_two_scrapes(server):
    server.record(80, seconds=0.02)
    server.record(20, status=500, seconds=0.3)
    c = ServiceCollector(ServiceSettings(base_url=server.url), min_requests=100)
    try:
        first = await c.collect()
        assert first.requests.window == "since start"
        assert first.requests.request_rate is None
        assert first.requests.error_rate_pct == pytest.approx(20.0)
        server.record(90, seconds=0.04)
        server.record(10, status=503, seconds=3.0)
        second = await c.collect()
    finally:
        await c.close()
    r = second.requests
    assert r.source == "scrape" and r.requests == 100
    assert r.error_rate_pct == pytest.approx(10.0)
    assert r.request_rate > 0
    # 90 under 50 ms, 10 at 3 s: the 95th of 100 falls in the (2.5, 5] bucket
    assert 2500 < r.p95_ms <= 5000
    health = evaluate_component("service", second, Thresholds())
    assert health.status is Status.CRITICAL
    assert any(x.startswith("error rate 10% > 5%") for x in health.reasons)
    assert any(x.startswith("P95 response time") and "≥ 2000 ms" in x for x in health.reasons)


def test_quantile_interpolates_like_promql():
    buckets = {0.1: 50.0, 0.5: 100.0, float("inf"): 100.0}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.75, buckets) == pytest.approx(0.3)
    assert quantile(0.95, {1.0: 0.0, float("inf"): 10.0}) == 1.0  # only +Inf: highest bound
    assert quantile(0.95, {}) is None


def test_exposition_parser_reads_labels_escapes_and_specials():
    text = ('# HELP x y\nhttp_requests_total{method="GET",path="/a\\"b",status="200"} 3\n'
            'up 1 1700000000\nlat_bucket{le="+Inf"} 7\nbad line here\nnan_metric NaN\n')
    samples = {s.name: s for s in parse_text(text)}
    assert samples["http_requests_total"].label("path") == '/a"b'
    assert samples["http_requests_total"].value == 3
    assert samples["up"].value == 1
    assert samples["lat_bucket"].label("le") == "+Inf"
    assert "bad" not in samples


async def _error_rate_verdicts(server, **window) -> tuple[list[Status], list[str]]:
    """16 polls of a service at 80 requests a poll with 0.3 % of 5xx (1 error every 4th
    poll, after 2006 earlier requests): the error-rate verdict and window of each."""
    server.record(2000, seconds=0.02)
    server.record(6, status=500, seconds=0.02)
    c = ServiceCollector(ServiceSettings(base_url=server.url), **window)
    statuses, windows = [], []
    try:
        for poll in range(16):
            server.record(79 if poll % 4 == 0 else 80, seconds=0.02)
            if poll % 4 == 0:
                server.record(1, status=502, seconds=0.02)
            snap = await c.collect()
            health = evaluate_component("service", snap, Thresholds())
            statuses.append(next(f.status for f in health.findings if f.check == "error_rate"))
            windows.append(snap.requests.window)
    finally:
        await c.close()
    return statuses, windows


async def test_a_healthy_service_never_flaps_into_a_warning_over_short_polls(server):
    statuses, windows = await _error_rate_verdicts(server)
    assert set(statuses) == {Status.HEALTHY}, statuses
    assert windows[0] == "since start" and windows[-1].endswith("s")


async def test_judged_over_one_poll_the_same_service_flaps(server):
    """The same traffic judged poll by poll (the old way): 1 error in 80 is 1.25 %."""
    statuses, windows = await _error_rate_verdicts(server, window_seconds=0, min_requests=0)
    assert Status.WARNING in statuses and Status.HEALTHY in statuses


def _counters(at: float, requests: float, errors: float) -> Counters:
    return Counters(at, requests, errors, {0.05: requests - errors, float("inf"): requests})


def test_scrape_window_slides_and_needs_enough_requests():
    window = ScrapeWindow(seconds=300, min_requests=1000)
    assert window.add(_counters(0, 5000, 500)).window == "since start"  # one scrape: 10 %
    few = window.add(_counters(2, 5080, 501))  # 80 requests in the window: too few
    assert few.window == "since start" and few.error_rate_pct == pytest.approx(100 * 501 / 5080)
    assert few.request_rate == pytest.approx(40) and few.rate_window == "2s"
    t, requests, errors = 2, 5080, 501
    while t < 30:  # errors stop: 40 requests/s, none failing
        t, requests = t + 2, requests + 80
        figures = window.add(_counters(t, requests, errors))
    # measured from the first scrape: 1200 requests, 1 of them failed
    assert figures.window == "30s" and figures.error_rate_pct == pytest.approx(100 / 1200)
    while t < 400:
        t, requests = t + 2, requests + 80
        figures = window.add(_counters(t, requests, errors))
    assert figures.window == "5m" and figures.error_rate_pct == 0.0  # the burst slid out
    assert figures.requests == pytest.approx(300 / 2 * 80)
    restarted = window.add(_counters(t + 2, 100, 50))  # a counter went down: a restart
    assert restarted.window == "since start" and restarted.error_rate_pct == 50.0


def test_figures_between_two_scrapes_without_a_minimum_is_the_poll():
    figures = figures_between(_counters(0, 100, 0), _counters(2, 180, 1))
    assert figures.window == "2s" and figures.error_rate_pct == pytest.approx(1.25)
