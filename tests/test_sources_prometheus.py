"""Request figures through PromQL from a real Prometheus (Debian's ``prometheus``) that
scrapes a real service; compared with what the service counted. Skipped where the binary is
not installed (CI installs it)."""

from __future__ import annotations

import asyncio
import shutil
import time

import httpx
import pytest
from health_support import HealthServer, listening_ports
from waiting import until

from console.collectors.service import ServiceCollector
from console.config.model import ServiceSettings
from console.sources import prometheus

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow,
              pytest.mark.skipif(shutil.which("prometheus") is None,
                                 reason="prometheus binary not installed (apt-get install prometheus)")]
JOB = "mcp-server-production"


@pytest.fixture
async def server():
    s = await HealthServer().start()
    yield s
    await s.stop()


@pytest.fixture
async def prom(tmp_path, server):
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{server.port}']\n")
    proc = await asyncio.create_subprocess_exec(
        "prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
        "--web.listen-address=127.0.0.1:0", "--log.level=warn",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        # port 0: the kernel picks a free port as Prometheus binds it; read which from /proc
        (port,) = await until(lambda: proc.returncode is None and listening_ports(proc.pid),
                              what="prometheus listening")
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient() as client:
            async def ready() -> bool:
                try:
                    return (await client.get(f"{url}/-/ready")).status_code == 200
                except httpx.HTTPError:
                    return False

            await until(ready, interval=0.2, what="prometheus ready")
        yield url
    finally:
        proc.terminate()
        await proc.wait()


async def traffic(server: HealthServer, seconds: float) -> None:
    """Nine fast successes and one slow failure, every 0.1 s."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        server.record(9, seconds=0.02)
        server.record(1, status=500, seconds=0.3)
        await asyncio.sleep(0.1)


async def test_promql_figures_match_the_traffic(server, prom):
    feeding = asyncio.create_task(traffic(server, 60))
    c = ServiceCollector(ServiceSettings(base_url=server.url, prometheus_url=prom))
    try:
        deadline = time.monotonic() + 40
        while True:
            snap = await c.collect()
            r = snap.requests
            if r.request_rate and r.p95_ms:
                break
            assert time.monotonic() < deadline, f"no PromQL figures: {r}"
            await asyncio.sleep(1)
    finally:
        feeding.cancel()
        await c.close()
    assert r.source == "prometheus" and r.window == "5m" and r.error is None
    assert r.error_rate_pct == pytest.approx(10.0, abs=1.0)
    # 90% in (0, 0.05], 10% in (0.25, 0.5]: the 95th is half-way through the slow bucket
    assert r.p95_ms == pytest.approx(375, abs=30)
    # rate() divides by the whole 5m range: a few seconds of history give a small rate
    assert r.request_rate > 0


async def test_no_5xx_ever_is_a_zero_error_rate_not_unknown(server, prom):
    """Without a single 5xx the errors query has no series at all."""
    async def successes() -> None:
        while True:
            server.record(10, seconds=0.02)
            await asyncio.sleep(0.1)

    feeding = asyncio.create_task(successes())
    c = ServiceCollector(ServiceSettings(base_url=server.url, prometheus_url=prom))
    try:
        async def figures():
            r = (await c.collect()).requests
            return r if r.request_rate else None

        r = await until(figures, interval=0.5, what="a PromQL request rate")
    finally:
        feeding.cancel()
        await c.close()
    assert r.error is None and r.request_rate > 0
    assert r.error_rate_pct == 0.0


async def test_bad_promql_is_an_error_with_prometheus_message(prom):
    async with httpx.AsyncClient() as client:
        with pytest.raises(prometheus.PrometheusError) as err:
            await prometheus.query(client, prom, "sum(rate(")
    assert "parse error" in str(err.value)
