"""The service collector and its rules against a real aiohttp server over a socket:
healthy, slow (600 ms), HTTP 500 and down, and request figures from a real /metrics."""

from __future__ import annotations

import pytest
from health_support import HealthServer, refused_port

from console.collectors.service import ServiceCollector
from console.collectors.service_metrics import quantile
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
    c = ServiceCollector(ServiceSettings(base_url=server.url))
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
