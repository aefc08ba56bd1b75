"""The MCP-server simulator: the health and metrics endpoints of the real server, with
answers that come from real work.

``/health/database`` runs a query on the sandbox PostgreSQL and reports the pool;
``/health/dependencies`` also pings the sandbox Redis and asks the S3 (moto) bucket; both
fail with 503 when those really fail. ``/metrics`` is a prometheus-client exposition from
the simulator's own registry: ``http_requests_total{method,path,status}`` and the
``http_request_duration_seconds`` histogram, driven by synthetic MCP traffic whose error
rate and latency are :class:`Knobs` that the scenarios turn. The health endpoints take
their time by the same latency knobs (capped at :data:`MAX_HEALTH_DELAY`), so a slow
server is slow to ``curl`` too, also from inside its pods (``service_exec.py``).

When a scenario changes the knobs, the metrics start again from zero (as after a
redeploy, which is what changes a server's behaviour in real life), and a backlog of
traffic at the new settings is generated at once, so even a single scrape — which is all
``mcp-ops check`` makes — reflects the new behaviour rather than the average of the past.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from .local_process import LOCALHOST

if TYPE_CHECKING:
    from .scenario_perf import QueryLoop

VERSION = "2.4.1"
TICK = 0.25  # seconds of synthetic traffic per step
BACKLOG_SECONDS = 60.0  # traffic generated at once after a reset
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
MAX_HEALTH_DELAY = 2.0  # seconds; under mcp-ops check's 3 s source timeout
ROUTES = (("POST", "/mcp", 0.82), ("GET", "/mcp/tools", 0.12), ("GET", "/api/v1/status", 0.06))


@dataclass(frozen=True)
class Knobs:
    """How the simulated server behaves. ``error_rate`` is the share of 5xx answers,
    latency is log-normal around ``latency_median`` seconds (for the synthetic traffic and,
    capped at MAX_HEALTH_DELAY, for the health endpoints' answers)."""

    requests_per_second: float = 40.0
    error_rate: float = 0.003
    client_error_rate: float = 0.02  # 401/404: not the server's fault, not counted as errors
    latency_median: float = 0.045
    latency_sigma: float = 0.5
    health_failure: str | None = None  # /health answers 503 with this reason


class Metrics:
    """One generation of the server's metrics (a new one after every reset)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests_total", "Total HTTP requests handled.",
                                ("method", "path", "status"), registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds",
                                  "HTTP request latency in seconds.", ("method", "path"),
                                  buckets=BUCKETS, registry=self.registry)

    def simulate(self, knobs: Knobs, seconds: float, rng: random.Random) -> None:
        expected = knobs.requests_per_second * seconds
        count = int(expected) + (1 if rng.random() < expected % 1 else 0)
        mu = math.log(knobs.latency_median)
        for _ in range(count):
            method, path = _route(rng)
            roll = rng.random()
            if roll < knobs.error_rate:
                status = rng.choice(("500", "502", "503"))
            elif roll < knobs.error_rate + knobs.client_error_rate:
                status = rng.choice(("401", "404"))
            else:
                status = "200"
            self.requests.labels(method, path, status).inc()
            self.duration.labels(method, path).observe(rng.lognormvariate(mu, knobs.latency_sigma))


def _route(rng: random.Random) -> tuple[str, str]:
    roll = rng.random()
    for method, path, share in ROUTES:
        if roll < share:
            return method, path
        roll -= share
    return ROUTES[0][0], ROUTES[0][1]


class Simulator:
    """The aiohttp server plus its synthetic traffic. Start with :meth:`start`."""

    def __init__(self, *, database_dsn: str, redis_url: str, s3_url: str | None = None,
                 seed: int = 1) -> None:
        self.database_dsn = database_dsn
        self.redis_url = redis_url
        self.s3_url = s3_url
        self.knobs = Knobs()
        self.metrics = Metrics()
        self.port = 0
        self.down = False
        self.started_at = time.time()
        self._rng = random.Random(seed)
        self._delay_rng = random.Random(seed + 1000)  # health delays: metrics stay seeded
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._redis = None
        self._http: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._traffic: asyncio.Task | None = None
        self.query_loop: QueryLoop | None = None  # a query the server runs again and again

    @property
    def base_url(self) -> str:
        return f"http://{LOCALHOST}:{self.port}"

    # ---- lifecycle ---------------------------------------------------------------------
    async def start(self, port: int = 0) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=2,
                                              socket_connect_timeout=2, client_name="mcp-server")
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2))
        app = web.Application()
        app.add_routes([web.get("/health", self.health),
                        web.get("/health/database", self.health_database),
                        web.get("/health/dependencies", self.health_dependencies),
                        web.get("/metrics", self.metrics_page)])
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, LOCALHOST, port)
        await self._site.start()
        self.port = self._runner.addresses[0][1]
        self.reset_metrics()
        self._traffic = asyncio.create_task(self._traffic_loop(), name="simulator-traffic")

    def start_query_loop(self, query: str) -> None:
        """Run ``query`` on the database again and again on a connection of its own, as
        the server's dashboard endpoint would (the missing-index scenario's slow query)."""
        from .scenario_perf import QueryLoop

        if self.query_loop is None:
            self.query_loop = QueryLoop(self.database_dsn, query)
            self.query_loop.start()

    async def stop_query_loop(self) -> None:
        loop, self.query_loop = self.query_loop, None
        if loop is not None:
            await loop.stop()

    async def stop(self) -> None:
        await self.stop_query_loop()
        if self._traffic is not None:
            self._traffic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._traffic
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._pool.close(), 5)

    async def set_down(self, down: bool) -> None:
        """Stop (or resume) answering at all: the listening socket is closed, so clients
        get "connection refused", as from a region that is gone."""
        if down == self.down or self._runner is None:
            return
        self.down = down
        if down:
            await self._site.stop()
        else:
            self._site = web.TCPSite(self._runner, LOCALHOST, self.port)
            await self._site.start()

    def set_knobs(self, **changes: Any) -> None:
        """Apply a scenario's behaviour and start the metrics again from zero."""
        self.knobs = replace(Knobs(), **changes)
        self.reset_metrics()

    def reset_metrics(self) -> None:
        metrics = Metrics()
        metrics.simulate(self.knobs, BACKLOG_SECONDS, self._rng)
        self.metrics = metrics

    async def _traffic_loop(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            self.metrics.simulate(self.knobs, TICK, self._rng)

    # ---- endpoints ---------------------------------------------------------------------
    def health_delay(self) -> float:
        """How long a health endpoint takes before answering, by the latency knobs."""
        k = self.knobs
        return min(self._delay_rng.lognormvariate(math.log(k.latency_median), k.latency_sigma),
                   MAX_HEALTH_DELAY)

    async def health(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.health_delay())
        failure = self.knobs.health_failure
        body = {"status": "unhealthy" if failure else "healthy", "version": VERSION,
                "uptime_seconds": round(time.time() - self.started_at, 1),
                "timestamp": time.time()}
        if failure:
            body["error"] = failure
        return web.json_response(body, status=503 if failure else 200)

    async def health_database(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.health_delay())
        entry = await self._check_database()
        return web.json_response({"status": entry["status"], "database": entry,
                                  "timestamp": time.time()},
                                 status=200 if entry["status"] == "healthy" else 503)

    async def health_dependencies(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.health_delay())
        database, cache, storage = await asyncio.gather(
            self._check_database(), self._check_redis(), self._check_storage())
        deps = {"database": database, "redis": cache, "storage": storage}
        healthy = all(d["status"] == "healthy" for d in deps.values())
        return web.json_response({"status": "healthy" if healthy else "unhealthy",
                                  "dependencies": deps, "timestamp": time.time()},
                                 status=200 if healthy else 503)

    async def metrics_page(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    # ---- dependency checks -------------------------------------------------------------
    async def _timed(self, probe) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            extra = await asyncio.wait_for(probe(), 2.5)
        except Exception as exc:  # noqa: BLE001 - any failure is an unhealthy dependency
            return {"status": "unhealthy", "error": f"{type(exc).__name__}: {exc}"[:300]}
        entry = {"status": "healthy",
                 "latency_ms": round((time.perf_counter() - started) * 1000, 1)}
        entry.update(extra or {})
        return entry

    async def _database_pool(self) -> asyncpg.Pool:
        """The connection pool, made on first use (and again after it failed), so the
        simulator starts and reports "unhealthy" even while the database is down."""
        async with self._pool_lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self.database_dsn, min_size=2, max_size=2, timeout=2, command_timeout=2,
                    server_settings={"application_name": "mcp-server"})
            return self._pool

    async def _check_database(self) -> dict[str, Any]:
        async def probe():
            pool = await self._database_pool()
            await pool.fetchval("SELECT 1")
            size, idle = pool.get_size(), pool.get_idle_size()
            return {"pool": {"size": pool.get_max_size(), "in_use": size - idle,
                             "available": pool.get_max_size() - (size - idle)}}
        return await self._timed(probe)

    async def _check_redis(self) -> dict[str, Any]:
        async def probe():
            await self._redis.ping()
        return await self._timed(probe)

    async def _check_storage(self) -> dict[str, Any]:
        if not self.s3_url:
            return {"status": "healthy", "note": "no object storage configured"}

        async def probe():
            async with self._http.head(self.s3_url) as response:
                if response.status >= 400:
                    raise RuntimeError(f"HeadBucket answered HTTP {response.status}")
        return await self._timed(probe)
