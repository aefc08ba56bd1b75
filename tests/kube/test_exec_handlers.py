"""Exec handlers: the registry's choice, the default programs, real subprocesses.

Handlers are called directly with a real :class:`ExecContext` whose outputs collect into
buffers — the protocol around them is covered by ``test_exec_protocol.py``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil

import pytest
import servers

from sandbox.kube.cluster import Cluster
from sandbox.kube.exec_handlers import (
    QUEUED_FRAMES,
    ExecContext,
    ExecInput,
    ExecOutput,
    exec_handlers,
    register_exec_handler,
)
from sandbox.kube.exec_subprocess import (
    POSTGRES_PROGRAMS,
    postgres_client_handler,
    subprocess_handler,
)
from sandbox.kube.mcp_endpoints import set_check_failure

pytestmark = pytest.mark.timeout(60)


def pod(name, labels, env=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "mcp-production", "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "img", "env": env or []}]},
            "status": {"phase": "Running"}}


MCP = pod("mcp-server-production-7d9f-abcde", {"app": "mcp-server"})
REDIS = pod("redis-production-master-0", {"app": "redis"})
POSTGRES = pod("postgres-production-primary-0", {"app": "postgres"})


async def run(cluster, target, command, stdin=b""):
    """Run the handler the registry picks; returns (exit code, stdout, stderr)."""
    out, err = bytearray(), bytearray()

    async def collect_out(data):
        out.extend(data)

    async def collect_err(data):
        err.extend(data)

    stdin_stream = ExecInput(enabled=True)
    if stdin:
        await stdin_stream.feed(stdin)
    stdin_stream.feed_eof()
    ctx = ExecContext(command=command, pod=target, container="main", stdin=stdin_stream,
                      stdout=ExecOutput(collect_out), stderr=ExecOutput(collect_err),
                      cluster=cluster)
    code = await exec_handlers(cluster).resolve(target, "main", command)(ctx)
    return code, out.decode(), err.decode()


@pytest.fixture
def cluster():
    return Cluster()


async def test_newest_matching_registration_wins_and_can_be_removed(cluster):
    async def first(ctx):
        await ctx.stdout.write("first")
        return 0

    async def second(ctx):
        await ctx.stdout.write("second")
        return 0

    register_exec_handler(cluster, first, labels={"app": "mcp-server"})
    remove = register_exec_handler(cluster, second, name_prefix="mcp-server-", commands={"hello"})
    assert (await run(cluster, MCP, ["hello"]))[1] == "second"
    assert (await run(cluster, MCP, ["/usr/bin/other"]))[1] == "first"  # commands filter
    assert (await run(cluster, REDIS, ["hello"]))[0] == 127  # default: not found
    remove()
    assert (await run(cluster, MCP, ["hello"]))[1] == "first"


async def test_curl_health_database_prints_body_and_fails_with_22_when_check_fails(cluster):
    code, out, err = await run(cluster, MCP, ["curl", "-f", "http://localhost:8080/health/database"])
    assert code == 0 and '"status": "healthy"' in out
    assert "% Total" in err  # progress meter: stdout is not a terminal
    set_check_failure(cluster, "database")
    code, out, err = await run(cluster, MCP, ["curl", "-f", "http://localhost:8080/health/database"])
    assert code == 22 and out == ""
    assert err.endswith("curl: (22) The requested URL returned error: 503\n")
    code, out, err = await run(cluster, MCP, ["curl", "-sf", "http://localhost:8080/health/database"])
    assert (code, out, err) == (22, "", "")  # -s hides the error unless -S
    code, out, _ = await run(cluster, MCP, ["curl", "http://localhost:8080/health/dependencies"])
    assert code == 0 and '"status": "unhealthy"' in out and "connection timeout" in out
    set_check_failure(cluster, "database", None)
    assert (await run(cluster, MCP, ["curl", "-sf", "localhost:8080/health/dependencies"]))[0] == 0


async def test_curl_write_out_formats_and_discards_body(cluster):
    code, out, err = await run(cluster, MCP, [
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}\\n",
        "http://localhost:8080/health"])
    assert code == 0 and err == ""
    assert re.fullmatch(r"200 \d+\.\d{6}\n", out)
    code, out, _ = await run(cluster, MCP, ["curl", "-w", "@curl-format.txt", "-o", "/dev/null",
                                            "-s", "http://localhost:8080/health"])
    assert "time_namelookup:" in out and re.search(r"time_total:  \d+\.\d{6}s", out)


async def test_curl_cannot_reach_other_hosts_or_ports(cluster):
    assert (await run(cluster, MCP, ["curl", "http://example.com/"]))[0] == 6
    code, _, err = await run(cluster, MCP, ["curl", "-S", "-s", "http://localhost:9090/"])
    assert code == 7 and "Failed to connect to localhost port 9090" in err


async def test_curl_metrics_has_memory_lines(cluster):
    code, out, _ = await run(cluster, MCP, ["curl", "-s", "http://localhost:8080/metrics"])
    memory = [line for line in out.splitlines() if "memory" in line and not line.startswith("#")]
    assert code == 0 and any(line.startswith("process_resident_memory_bytes ") for line in memory)


async def test_redis_cli_stats_slowlog_and_ping(cluster):
    code, out, _ = await run(cluster, REDIS, ["redis-cli", "info", "stats"])
    fields = dict(line.split(":", 1) for line in out.split("\r\n") if ":" in line)
    assert code == 0 and int(fields["keyspace_hits"]) > int(fields["keyspace_misses"]) > 0
    assert (await run(cluster, REDIS, ["redis-cli", "ping"]))[1] == "PONG\n"
    slowlog = (await run(cluster, REDIS, ["redis-cli", "slowlog", "get", "2"]))[1]
    assert slowlog.count("\n\n") == 2 and "KEYS" in slowlog
    assert (await run(cluster, MCP, ["redis-cli", "ping"]))[0] == 127  # not in an MCP pod


async def test_env_resolves_values_fields_and_secrets(cluster):
    cluster.store.create("secrets", {"metadata": {"name": "postgres-credentials",
                                                  "namespace": "mcp-production"},
                                     "data": {"password": base64.b64encode(b"s3cret").decode()}})
    cluster.store.create("configmaps", {"metadata": {"name": "mcp-server-config",
                                                     "namespace": "mcp-production"},
                                        "data": {"CACHE_TTL": "300"}})
    target = pod("mcp-server-x", {"app": "mcp-server"}, env=[
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "postgres-credentials",
                                                               "key": "password"}}}])
    target["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "mcp-server-config"}}]
    code, out, _ = await run(cluster, target, ["env"])
    assert code == 0
    assert {"LOG_LEVEL=info", "POD_NAME=mcp-server-x", "DB_PASSWORD=s3cret",
            "HOSTNAME=mcp-server-x", "CACHE_TTL=300"} <= set(out.splitlines())
    assert (await run(cluster, target, ["printenv", "LOG_LEVEL"]))[1] == "info\n"
    assert (await run(cluster, target, ["cat", "/etc/hostname"]))[1] == "mcp-server-x\n"


async def test_shells_are_refused_and_unknown_commands_not_found(cluster):
    code, _, err = await run(cluster, MCP, ["sh", "-c", "ls | wc -l"])
    assert code == 126 and "not a shell" in err
    code, _, err = await run(cluster, MCP, ["/bin/bash"])
    assert code == 126
    assert await run(cluster, MCP, ["kubectl", "get", "pods"]) == (
        127, "", "kubectl: command not found\n")


async def test_psql_without_a_configured_server_fails_like_psql(cluster):
    code, out, err = await run(cluster, POSTGRES, ["psql", "-c", "SELECT 1"])
    assert code == 2 and out == ""
    assert err.startswith('psql: error: connection to server on socket "/var/run/postgresql/')


needs_psql = pytest.mark.skipif(shutil.which("psql") is None, reason="psql not installed")


@needs_psql
async def test_postgres_handler_runs_real_psql_against_the_configured_server(cluster):
    register_exec_handler(cluster, postgres_client_handler(host="127.0.0.1", port=servers.PG_PORT,
                                                           user="postgres", database="test"),
                          labels={"app": "postgres"}, commands=POSTGRES_PROGRAMS)
    code, out, err = await run(cluster, POSTGRES, ["psql", "-tAc", "SELECT 40 + 2"])
    assert (code, out, err) == (0, "42\n", "")
    code, out, _ = await run(cluster, POSTGRES, ["psql", "-tA"], stdin=b"SELECT 'from stdin';\n")
    assert (code, out) == (0, "from stdin\n")
    code, _, err = await run(cluster, POSTGRES, ["psql", "-c", "SELECT * FROM no_such_table"])
    assert code == 1 and "no_such_table" in err
    # programs the handler does not cover still reach the default handler
    assert (await run(cluster, POSTGRES, ["hostname"]))[1] == "postgres-production-primary-0\n"


async def test_subprocess_handler_is_killed_when_cancelled(cluster, tmp_path):
    pid_file = tmp_path / "pid"
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    register_exec_handler(cluster, subprocess_handler(
        lambda cmd: ["python3", "-c", script]), commands={"slow"})
    task = asyncio.create_task(run(cluster, MCP, ["slow"]))
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text():
            break
        await asyncio.sleep(0.05)
    pid = int(pid_file.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_subprocess_exit_codes_and_missing_programs(cluster):
    register_exec_handler(cluster, subprocess_handler(lambda cmd: ["python3", "-c", cmd[1]]),
                          commands={"py"})
    assert (await run(cluster, MCP, ["py", "import sys; sys.exit(3)"]))[0] == 3
    assert (await run(cluster, MCP, ["py", "import os; os.kill(os.getpid(), 9)"]))[0] == 137
    register_exec_handler(cluster, subprocess_handler(lambda cmd: ["no-such-binary-xyz"]),
                          commands={"ghost"})
    assert (await run(cluster, MCP, ["ghost"]))[0] == 127


async def test_stdin_pushes_back_on_a_fast_client_and_its_eof_still_arrives():
    """A client sending faster than the command reads waits once QUEUED_FRAMES frames are
    queued; EOF on a full queue is not lost; frames come out whole and in order, after
    whatever ``read`` left."""
    stdin = ExecInput()
    frames = [bytes([i]) * 1000 for i in range(QUEUED_FRAMES + 1)]
    for frame in frames[:QUEUED_FRAMES]:
        await stdin.feed(frame)
    blocked = asyncio.create_task(stdin.feed(frames[-1]))
    await asyncio.sleep(0.01)
    assert not blocked.done()  # the queue is full: the sender waits
    assert await stdin.read(10) == frames[0][:10]
    await asyncio.wait_for(blocked, 1)
    stdin.feed_eof()  # the queue is full again
    got = [chunk async for chunk in stdin]
    assert got == [frames[0][10:], *frames[1:]]
    assert stdin.at_eof and await stdin.read() == b""


async def test_subprocess_handler_streams_megabytes_of_stdin_through(cluster):
    """More stdin than a pipe and the frame queue hold, fed while the program runs: every
    byte arrives (``wc -c``), with the feeder waiting on the program rather than racing."""
    register_exec_handler(cluster, subprocess_handler(lambda cmd: ["wc", "-c"]),
                          commands={"count"})
    out = bytearray()

    async def collect(data):
        out.extend(data)

    stdin = ExecInput()
    ctx = ExecContext(command=["count"], pod=MCP, container="main", stdin=stdin,
                      stdout=ExecOutput(collect), stderr=ExecOutput(collect), cluster=cluster)
    run_it = asyncio.create_task(exec_handlers(cluster).resolve(MCP, "main", ["count"])(ctx))
    frame = b"x" * (256 * 1024)
    for _ in range(12):  # 3 MiB
        await stdin.feed(frame)
    stdin.feed_eof()
    assert await asyncio.wait_for(run_it, 30) == 0
    assert out.decode().strip() == str(12 * len(frame))
