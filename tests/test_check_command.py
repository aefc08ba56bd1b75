"""``mcp-ops check``: the same collectors and rules, no Textual, a report or stable JSON,
exit 0/1/2/3. Run as a real subprocess against real services."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis.asyncio as aioredis
import yaml
from health_support import PG_DSN, REDIS_URL, HealthServer, refused_port, start_moto
from waiting import until_sync

from console.config import load_file
from console.health import Status
from console.health.check import exit_code, run_checks

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(60)
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def moto():
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture
async def service():
    s = await HealthServer().start()
    yield s
    await s.stop()


@pytest.fixture
def dead_port():
    """A port that refuses connections for the whole test: every "dead" service is on it."""
    with refused_port() as port:
        yield port


def dead_kubeconfig(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "dead.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "clusters": [{"name": "dead", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "dead", "user": {"token": "x"}}],
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
    }))
    return path


def write_config(tmp_path: Path, service_url: str, moto_url: str, kubeconfig: Path,
                 dead_port: int) -> Path:
    dead = f"127.0.0.1:{dead_port}"
    cfg = {
        "default_environment": "live",
        "ui": {"source_timeout_seconds": 2},
        "environments": {
            "live": {
                "description": "services on this machine",
                "kubernetes": {"kubeconfig": str(kubeconfig)},
                "postgres": {"dsn": PG_DSN},
                "redis": {"url": REDIS_URL},
                "service": {"base_url": service_url},
                "aws": {"endpoint_url": moto_url, "s3_backup_prefix": "live/postgres/"},
                # a loaded CI machine must not turn a local service slow by the book
                "thresholds": {"health_latency_ms": {"warning": 5000, "critical": 10000}},
            },
            "dead": {
                "description": "nothing answers",
                "kubernetes": {"kubeconfig": str(dead_kubeconfig(tmp_path, dead_port))},
                "postgres": {"dsn": f"postgresql://postgres@{dead}/test"},
                "redis": {"url": f"redis://{dead}/0"},
                "service": {"base_url": f"http://{dead}", "timeout": 1},
                "aws": {"endpoint_url": f"http://{dead}"},
            },
        },
    }
    path = tmp_path / "mcp-ops.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


STATUS_ORDER = ["HEALTHY", "WARNING", "CRITICAL", "UNREACHABLE"]


async def redis_stats() -> dict[str, int]:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        info = await client.info("stats")
    finally:
        await client.aclose()
    return {k: int(info[k]) for k in ("keyspace_hits", "keyspace_misses")}


def hit_rate(hits: int, misses: int) -> float:
    return 100 * hits / (hits + misses)


async def run_cli(*args: str) -> tuple[int, str, str]:
    env = os.environ | AWS_ENV
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", *args, cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 45)
    return proc.returncode, out.decode(), err.decode()


async def make_cache_reads() -> None:
    """One hit and one miss of the test's own, so the shared Redis has a hit rate even
    when it was just started or its statistics were reset (CONFIG RESETSTAT)."""
    client = aioredis.Redis.from_url(REDIS_URL)
    key = f"mcp-ops-test:check:{uuid.uuid4().hex}"
    try:
        await client.set(key, "1", ex=60)
        assert await client.get(key) == b"1"
        assert await client.get(key + ":missing") is None
    finally:
        await client.delete(key)
        await client.aclose()


async def test_check_all_json_with_one_dead_and_one_live_environment(tmp_path, service, moto, dead_port):
    cfg = write_config(tmp_path, service.url, moto, dead_kubeconfig(tmp_path, dead_port),
                       dead_port)
    await make_cache_reads()
    before = await redis_stats()
    code, out, err = await run_cli("--config", str(cfg), "check", "all", "--format", "json")
    after = await redis_stats()
    assert code == 3, err
    doc = json.loads(out)
    assert doc["schema"] == "mcp-ops.check/v1" and doc["exit_code"] == 3
    envs = {e["name"]: e for e in doc["environments"]}
    assert list(envs) == ["live", "dead"]
    dead = {c["name"]: c for c in envs["dead"]["components"]}
    assert set(dead) == {"service", "pods", "database", "cache", "backups"}
    assert dead["database"]["status"] == "UNREACHABLE"
    assert dead["database"]["reasons"][0].startswith("database unreachable:")
    assert dead["cache"]["status"] == "UNREACHABLE"
    assert dead["service"]["status"] == "CRITICAL"
    assert dead["service"]["reasons"][0].startswith("service down")
    live = {c["name"]: c for c in envs["live"]["components"]}
    assert live["service"]["status"] == "HEALTHY"
    assert live["database"]["status"] in ("HEALTHY", "WARNING")
    assert any(r.startswith("DB connections") for r in live["database"]["reasons"]
               + [c["reason"] for c in live["database"]["checks"]])
    # the shared Redis's hit rate since it started, as INFO had it just before and just
    # after the check (other engineers' traffic moves it), judged by DESIGN.md's bands
    cache = {c["check"]: c for c in live["cache"]["checks"]}
    rate = cache["hit_rate"]["value"]
    assert hit_rate(before["keyspace_hits"], after["keyspace_misses"]) - 1e-6 <= rate \
        <= hit_rate(after["keyspace_hits"], before["keyspace_misses"]) + 1e-6
    assert cache["hit_rate"]["status"] == (
        "HEALTHY" if rate > 95 else "WARNING" if rate >= 80 else "CRITICAL")
    assert live["cache"]["status"] == max(
        (c["status"] for c in live["cache"]["checks"]), key=STATUS_ORDER.index)
    s3 = next(c for c in live["backups"]["checks"] if c["check"] == "s3")
    assert s3["status"] == "HEALTHY" and "live/postgres/dump-1.sql.gz" in s3["reason"]
    for env in envs.values():
        for comp in env["components"]:
            assert comp["reasons"] and comp["checks"]
            assert {"check", "status", "reason", "value"} <= set(comp["checks"][0])
    assert envs["dead"]["alerts"][0]["status"] == "UNREACHABLE"


async def test_report_is_a_table_per_environment(tmp_path, service, moto, dead_port):
    service.mode = "error"
    cfg = write_config(tmp_path, service.url, moto, dead_kubeconfig(tmp_path, dead_port),
                       dead_port)
    code, out, _ = await run_cli("--config", str(cfg), "check", "live")
    lines = out.splitlines()
    assert lines[0].startswith("live: UNREACHABLE")  # the live env's kube here is dead
    assert lines[1].split() == ["COMPONENT", "STATUS", "REASONS"]
    names = ("service", "pods", "database", "cache", "backups")
    rows = {ln.split()[0]: ln.split()[1] for ln in lines if ln.split() and ln.split()[0] in names}
    assert list(rows) == list(names)
    assert rows["service"] == "CRITICAL"
    assert "GET /health answered HTTP 500 (unhealthy)" in out
    assert rows["pods"] == "UNREACHABLE"
    assert lines[-1] == "overall: UNREACHABLE (exit 3)" and code == 3


async def test_unknown_environment_exits_3_naming_the_configured_ones(tmp_path, service, moto, dead_port):
    cfg = write_config(tmp_path, service.url, moto, dead_kubeconfig(tmp_path, dead_port),
                       dead_port)
    code, _, err = await run_cli("--config", str(cfg), "check", "nope")
    assert code == 3 and "configured: live, dead" in err


async def test_run_checks_is_callable_in_process(tmp_path, service, moto, monkeypatch,
                                                  dead_port):
    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    config = load_file(write_config(tmp_path, service.url, moto,
                                    dead_kubeconfig(tmp_path, dead_port), dead_port))
    reports = await run_checks(config, ["live"])
    assert [r.name for r in reports] == ["live"]
    live = reports[0]
    assert live.health.component("service").status is Status.HEALTHY
    assert live.health.component("pods").status is Status.UNKNOWN
    assert exit_code(reports) == 3


def test_check_imports_no_textual():
    probe = ("import sys, console.commands.check, console.health.check; "
             "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'screens')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


class BrokenCollector:
    """A collector with a bug: its collect raises instead of returning a failed snapshot."""

    async def collect(self):
        raise ValueError("unexpected field in INFO")

    async def close(self) -> None:
        pass


async def test_a_collector_that_raises_is_that_components_failure(tmp_path, service, moto,
                                                                  monkeypatch, dead_port):
    from console.collectors.registry import collectors_for

    for k, v in AWS_ENV.items():
        monkeypatch.setenv(k, v)
    config = load_file(write_config(tmp_path, service.url, moto,
                                    dead_kubeconfig(tmp_path, dead_port), dead_port))
    closed = []

    def factory(env, **kw):
        real = collectors_for(env, **kw)
        closed.append(real.pop("cache"))
        return real | {"cache": BrokenCollector()}

    try:
        [live] = await run_checks(config, ["live"], factory=factory)
    finally:
        await closed[0].close()
    cache = live.health.component("cache")
    assert cache.status is Status.UNKNOWN
    assert cache.reasons == ("Redis unreachable: collector failed: "
                             "ValueError: unexpected field in INFO",)
    assert live.health.component("service").status is Status.HEALTHY  # the others still ran


def test_an_unexpected_error_exits_3_not_1(tmp_path, monkeypatch, capsys, dead_port):
    """Python's own exit status for an uncaught exception is 1, which cron reads as WARNING."""
    import argparse

    import console.health.check as check_module
    from console.commands import check as check_command

    def factory_with_a_bug(env, **kw):
        raise RuntimeError("registry bug")

    # the registry is not a client: standing in for a bug outside every collector
    monkeypatch.setattr(check_module, "collectors_for", factory_with_a_bug)
    cfg = write_config(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9",
                       dead_kubeconfig(tmp_path, dead_port), dead_port)
    args = argparse.Namespace(config=str(cfg), target="live", env=None, format="report")
    assert check_command.main(args) == 3
    err = capsys.readouterr().err
    assert "could not check: RuntimeError: registry bug" in err


@pytest.fixture
def fresh_redis(tmp_path):
    """A redis-server of the test's own that nobody has read from: the fresh machine's
    Redis, where the hit rate cannot be judged yet."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"redis://127.0.0.1:{port}/0"
        until_sync(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                     text=True).stdout.strip() == "PONG", what="redis-server")
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


async def test_check_json_keeps_a_figure_that_cannot_be_judged_yet(tmp_path, service, moto,
                                                                   dead_port, fresh_redis):
    """A Redis nobody has read from has no hit rate (nor an eviction rate from one reading):
    the checks stay in the JSON with value null, HEALTHY, and a reason that says why."""
    cfg = write_config(tmp_path, service.url, moto, dead_kubeconfig(tmp_path, dead_port),
                       dead_port)
    doc = yaml.safe_load(cfg.read_text())
    doc["environments"]["live"]["redis"]["url"] = fresh_redis
    cfg.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, out, err = await run_cli("--config", str(cfg), "check", "live", "--format", "json")
    assert out, err  # exit 3 all the same: this config's Kubernetes is the dead one
    live = json.loads(out)["environments"][0]
    cache = next(c for c in live["components"] if c["name"] == "cache")
    checks = {c["check"]: c for c in cache["checks"]}
    assert checks["hit_rate"] == {
        "check": "hit_rate", "status": "HEALTHY", "value": None,
        "reason": "Redis hit rate not judged: no cache reads since Redis started "
                  "(or its statistics were reset)"}
    assert checks["evictions"]["value"] is None and checks["evictions"]["status"] == "HEALTHY"
    assert "one reading has no rate (0 keys evicted" in checks["evictions"]["reason"]
    assert cache["status"] == "HEALTHY"
    assert cache["reasons"][0].startswith("Redis memory"), "judged figures come first"
    service_checks = {c["check"]: c for c in next(
        c for c in live["components"] if c["name"] == "service")["checks"]}
    # one scrape of /metrics has no request rate: the check is there, null, and says why
    assert service_checks["request_rate"]["value"] is None
    assert "set service.prometheus_url" in service_checks["request_rate"]["reason"]
