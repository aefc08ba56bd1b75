"""A real Prometheus for the sandbox: Debian's ``prometheus`` binary, when it is installed,
scraping the MCP-server simulators every second, on 127.0.0.1 and a free port, its data in
the sandbox's directory. Its URL goes into the sandbox config as
``service.prometheus_url``, so the ``performance-review`` wizard's range queries (request
rate over a day, peak hours) ask a real PromQL API.

Without the binary the sandbox runs as before and the PromQL steps say Prometheus is not
configured. The scrape interval is 1 s so that a chart has points within seconds.
"""

from __future__ import annotations

import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from .local_process import LOCALHOST, ChildProcess, free_port, start_child, wait_until

SCRAPE_INTERVAL = "1s"


def binary() -> str | None:
    """The ``prometheus`` program, or None when it is not installed."""
    return shutil.which("prometheus")


@dataclass
class SandboxPrometheus:
    url: str
    port: int
    process: ChildProcess

    async def stop(self) -> None:
        await self.process.stop(grace=10)


def config_text(targets: dict[str, str]) -> str:
    """A scrape config: one job per ``{job: base URL}``, each its ``/metrics``."""
    jobs = [{"job_name": job, "scrape_interval": SCRAPE_INTERVAL, "metrics_path": "/metrics",
             "static_configs": [{"targets": [url.split("://", 1)[-1].rstrip("/")]}]}
            for job, url in targets.items()]
    return yaml.safe_dump({"global": {"scrape_interval": SCRAPE_INTERVAL,
                                      "evaluation_interval": SCRAPE_INTERVAL},
                           "scrape_configs": jobs}, sort_keys=False)


async def start_prometheus(workdir: Path, targets: dict[str, str]) -> SandboxPrometheus:
    """Start Prometheus scraping ``targets``; ready (``/-/ready``) when it returns."""
    program = binary()
    if program is None:
        raise RuntimeError("prometheus is not installed (apt-get install prometheus)")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(config_text(targets))
    last = ""
    for _attempt in range(3):
        port = free_port()
        child = await start_child(
            "prometheus", [program, f"--config.file={config}",
                           f"--storage.tsdb.path={workdir / 'data'}",
                           f"--web.listen-address={LOCALHOST}:{port}",
                           "--storage.tsdb.retention.time=1d", "--log.level=warn"],
            log_path=workdir / "prometheus.log", stop_signal=signal.SIGTERM)
        url = f"http://{LOCALHOST}:{port}"

        async def ready(url: str = url, child: ChildProcess = child) -> bool:
            if not child.running:
                raise TimeoutError("prometheus exited")
            try:
                async with httpx.AsyncClient(timeout=1) as client:
                    return (await client.get(f"{url}/-/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            await wait_until(ready, timeout=30, interval=0.2, what="prometheus ready")
        except TimeoutError:
            last = child.log_tail()
            await child.stop(grace=2)
            continue  # most likely the port was taken between our probe and its bind
        return SandboxPrometheus(url, port, child)
    raise RuntimeError(f"prometheus did not start:\n{last}")
