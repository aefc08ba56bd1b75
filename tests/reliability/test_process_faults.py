"""Real process faults: a PostgreSQL and a Redis of the test's own are stopped and started
again, while the dashboard shows them and while a wizard step reads them.

The PostgreSQL is the machine's installed server (initdb + postgres of
/usr/lib/postgresql/N/bin, as the sandbox starts its own: as an unprivileged account when
run as root, 127.0.0.1, its own port, data in a temporary directory); the Redis is
``redis-server --port P``. Restarted, each comes back on the same port with the same data.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from health_support import HealthServer, emulator, live_environment, start_moto
from test_fault_matrix import Bounded, Keys, shows
from waiting import until
from wizard_support import load_config, write_config

from console.collectors.registry import build_collector, collectors_for
from console.config.model import Config
from console.execution.driver import RunDriver, RunState
from console.execution.log_store import read_records, verify
from console.execution.model import Plan, Risk, Step, Wizard
from console.identity import Operator
from sandbox.embedded_postgres import EmbeddedServer, local_bin_dir, start_embedded
from sandbox.local_process import ChildProcess, free_port, start_child
from screens.app import McpOpsApp
from screens.panels import Panel

pytestmark = [
    pytest.mark.timeout(240), pytest.mark.slow,
    pytest.mark.skipif(local_bin_dir() is None or shutil.which("redis-server") is None,
                       reason="needs the installed PostgreSQL server binaries and redis-server"),
]
SHORT = 1.5


class OwnPostgres:
    """An installed PostgreSQL of the test's own, which can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server: EmbeddedServer | None = None

    @property
    def dsn(self) -> str:
        assert self.server is not None
        return f"postgresql://postgres@127.0.0.1:{self.server.port}/postgres"

    async def start(self) -> OwnPostgres:
        self.server = await start_embedded(self.workdir, max_connections=30)
        return self

    async def stop(self) -> None:
        assert self.server is not None
        await self.server.process.stop(grace=15)  # SIGINT: a "fast" shutdown

    async def restart(self) -> None:
        s = self.server
        assert s is not None and s.base is not None
        s.process = await start_child(
            "postgres", [str(s.bin_dir / "postgres"), "-D", str(s.base / "data"),
                         "-h", "127.0.0.1", "-p", str(s.port), "-k", str(s.base),
                         "-c", "max_connections=30", "-c", "fsync=off"],
            log_path=self.workdir / "postgres.log", user=s.user, stop_signal=signal.SIGINT)
        await until(self._accepts, interval=0.2, what="PostgreSQL accepting again")

    async def _accepts(self) -> bool:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True

    async def close(self) -> None:
        if self.server is not None:
            await self.server.process.stop(grace=15)
            if self.server.own_dir is not None:
                shutil.rmtree(self.server.own_dir, ignore_errors=True)


class OwnRedis:
    """``redis-server --port P`` of the test's own, stopped and started on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: ChildProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> OwnRedis:
        self.process = await start_child(
            "redis-server", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", str(self.workdir)],
            log_path=self.workdir / "redis.log")
        await until(self._answers, interval=0.1, what="redis-server answering")
        return self

    restart = start

    async def _answers(self) -> bool:
        client = aioredis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        except (OSError, aioredis.RedisError):
            return False
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.process is not None:
            await self.process.stop(grace=10)


@pytest.fixture
async def own_servers(tmp_path):
    pg_dir, redis_dir = tmp_path / "pg", tmp_path / "redis"
    pg_dir.mkdir()
    redis_dir.mkdir()
    pg = await OwnPostgres(pg_dir).start()
    rd = await OwnRedis(redis_dir).start()
    try:
        yield pg, rd
    finally:
        await rd.stop()
        await pg.close()


def short_bounds(env, *, timeout: float, watch: bool):
    made = collectors_for(env, timeout=timeout, watch=watch)
    for name in ("database", "cache"):
        made[name] = Bounded(name, build_collector(env, name, timeout=SHORT), SHORT * 2)
    return made


async def test_postgres_and_redis_restarted_under_the_dashboard(own_servers, tmp_path,
                                                                monkeypatch, tally):
    pg, rd = own_servers
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    moto, moto_url = start_moto()
    service = await HealthServer().start()
    rows = []
    try:
        async with emulator(tmp_path / "kubeconfig", speed=10):
            config = Config.model_validate({
                "ui": {"refresh_seconds": 0.3, "source_timeout_seconds": 10,
                       "max_backoff_seconds": 1},
                "environments": {"live": live_environment(
                    service.url, moto_url, tmp_path / "kubeconfig",
                    postgres={"dsn": pg.dsn, "statement_timeout_ms": 1000},
                    redis={"url": rd.url})},
            })
            app = McpOpsApp(config, "live", operator=Operator("oncall", "ops-1"))
            app.collector_factory = short_bounds
            async with app.run_test(size=(80, 24)) as pilot:
                keys = Keys(app, pilot)
                panels = {p.COMPONENT: p for p in app.query(Panel) if p.COMPONENT}
                for name, server, component in (("PostgreSQL", pg, "database"),
                                                ("Redis", rd, "cache")):
                    panel = panels[component]
                    await keys.until(lambda p=panel: p.snapshot is not None
                                     and not p.has_class("-stale"), f"{name}: live data")
                    began = time.monotonic()
                    await server.stop()
                    stopped = time.monotonic()
                    shown = await keys.until(lambda p=panel, c=component: shows(p, c),
                                             f"{name} stopped: stale panel")
                    to_show = time.monotonic() - stopped
                    restart_began = time.monotonic()
                    await server.restart()
                    up, up_wall = time.monotonic(), time.time()
                    await keys.until(lambda p=panel, t=up_wall: not p.has_class("-stale")
                                     and p.snapshot.collected_at.timestamp() > t,
                                     f"{name} restarted: fresh panel")
                    rows.append(f"  {name}: stop took {stopped - began:.1f} s, stale "
                                f"{to_show:.1f} s after ({shown}); restart took "
                                f"{up - restart_began:.1f} s, fresh {time.monotonic() - up:.1f}"
                                f" s after")
                    tally.fault(f"{name} process", "stop+start", True)
                hub = app._live_data["live"]
                assert all(p.update_errors == 0 for p in hub.pollers.values())
    finally:
        await service.stop()
        moto.stop()
    lat = sorted(keys.latencies)
    print(f"\n{len(lat)} keys handled, median {lat[len(lat) // 2] * 1000:.0f} ms, max "
          f"{lat[-1] * 1000:.0f} ms\n" + "\n".join(rows))


def reading_wizard() -> Wizard:
    """One read step that asks both servers something through the step context."""
    async def run(ctx):
        db = await ctx.postgres()
        yield f"PostgreSQL says {await db.fetchval('SELECT 40 + 2')}"
        yield f"Redis says {await ctx.redis().ping()}"

    step = Step("read", "Read both", "the servers answer", Risk.READ,
                lambda ctx: Plan("ask both servers", (Plan.command("psql", "-c", "SELECT 42"),)),
                run)
    return Wizard("read-both", "Read both", "test", "reads PostgreSQL and Redis", steps=(step,))


async def yes(request):
    from console.execution.confirmation import ConfirmationAnswer
    return ConfirmationAnswer(True, request.env_name)


@pytest.mark.parametrize("which", ["PostgreSQL", "Redis"])
async def test_a_wizard_step_fails_on_a_stopped_server_and_resumes_after_restart(
        which, own_servers, tmp_path, tally):
    pg, rd = own_servers
    config = load_config(write_config(tmp_path, pg_dsn=pg.dsn, redis_url=rd.url))
    wizard = reading_wizard()
    server = pg if which == "PostgreSQL" else rd
    await server.stop()
    driver = RunDriver.start(config=config, env_name="sandbox", wizard=wizard, read_only=False,
                             confirmer=yes)
    started = time.monotonic()
    assert await driver.advance() is RunState.FAILED
    failed_in = time.monotonic() - started
    error = driver.last.error or ""
    named = any(w in error.lower() for w in ("refused", "connect", "closed", "error"))
    assert named, error
    await driver.finish()
    [end] = [r["data"] for r in read_records(driver.log.path) if r["event"] == "step_end"]
    assert end["status"] == "failed" and end["error"] == error
    await server.restart()
    again, problems = await RunDriver.resume(driver.log.id, config=config, wizard=wizard,
                                             env_name="sandbox", confirmer=yes)
    assert problems == []
    assert await again.advance() is RunState.COMPLETED
    await again.finish()
    result = verify(driver.log.path)
    assert result.ok and result.records[-1]["data"]["status"] == "completed"
    tally.fault(f"{which} process", "wizard step", True)
    print(f"\n{which} stopped: the step failed in {failed_in:.1f} s with {error!r}; "
          "resumed and completed after the restart")
