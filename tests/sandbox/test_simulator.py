"""The MCP-server simulator: real dependency checks, and metrics the console can read.

It runs in the test's loop against the real PostgreSQL (database ``test``) and Redis of the
machine; it only reads from them (SELECT 1, PING). Its /metrics page is parsed with the
console's own Prometheus parser and turned into figures by the service collector's code,
so what is asserted is what the Service panel and ``mcp-ops check`` will show.
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import servers
from sandbox_support import closed_port

from console.collectors.service_metrics import counters_from, figures_between
from console.sources.prometheus import parse_text
from sandbox.simulator import Simulator

pytestmark = pytest.mark.timeout(60)

PG = f"postgresql://postgres@{servers.PG_HOSTPORT}/test"
REDIS = f"redis://{servers.REDIS_HOSTPORT}/0"


@pytest.fixture
async def simulator():
    sim = Simulator(database_dsn=PG, redis_url=REDIS)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def scrape(client: httpx.AsyncClient):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return counters_from(parse_text(response.text), time.monotonic())


async def test_health_endpoints_answer_from_real_dependencies(simulator):
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=5) as client:
        health = await client.get("/health")
        database = await client.get("/health/database")
        deps = await client.get("/health/dependencies")
    assert health.status_code == 200 and health.json()["status"] == "healthy"
    assert database.status_code == 200
    assert database.json()["database"]["pool"]["size"] == 2
    assert deps.status_code == 200
    body = deps.json()["dependencies"]
    assert body["database"]["status"] == body["redis"]["status"] == "healthy"
    assert body["database"]["latency_ms"] >= 0


async def test_a_dead_database_is_reported_unhealthy_not_hidden():
    sim = Simulator(database_dsn=f"postgresql://postgres@127.0.0.1:{closed_port()}/x",
                    redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    await sim.start()
    try:
        async with httpx.AsyncClient(base_url=sim.base_url, timeout=10) as client:
            health = await client.get("/health")
            database = await client.get("/health/database")
            deps = await client.get("/health/dependencies")
    finally:
        await sim.stop()
    assert health.status_code == 200  # the process itself is up
    assert database.status_code == 503
    assert database.json()["database"]["status"] == "unhealthy"
    assert "error" in database.json()["database"]
    assert deps.status_code == 503
    assert deps.json()["dependencies"]["redis"]["status"] == "unhealthy"


async def test_metrics_follow_the_error_rate_and_latency_knobs(simulator):
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=5) as client:
        healthy = figures_between(None, await scrape(client))
        simulator.set_knobs(error_rate=0.3, latency_median=1.5)
        broken = figures_between(None, await scrape(client))
    assert healthy.requests >= 1000  # the backlog makes even one scrape meaningful
    assert healthy.error_rate_pct < 1
    assert healthy.p95_ms < 500
    assert 25 <= broken.error_rate_pct <= 35
    assert broken.p95_ms >= 2000


async def test_traffic_keeps_flowing_between_scrapes(simulator):
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=5) as client:
        first = await scrape(client)
        await asyncio.sleep(1.2)
        second = await scrape(client)
    figures = figures_between(first, second)
    assert figures.request_rate is not None
    assert 15 <= figures.request_rate <= 80  # ~40/s configured


async def test_going_down_refuses_connections_and_coming_back_answers(simulator):
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=3) as client:
        await simulator.set_down(True)
        with pytest.raises(httpx.ConnectError):
            await client.get("/health")
        await simulator.set_down(False)
        assert (await client.get("/health")).status_code == 200


async def test_health_failure_knob_answers_503(simulator):
    simulator.set_knobs(health_failure="readiness check failing")
    async with httpx.AsyncClient(base_url=simulator.base_url, timeout=3) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["error"] == "readiness check failing"

