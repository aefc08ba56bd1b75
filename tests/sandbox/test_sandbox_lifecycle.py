"""A sandbox leaves nothing behind, binds nothing but 127.0.0.1, and two of them can run
side by side.

Each test starts real ``mcp-ops sandbox serve`` processes (on the machine's PostgreSQL and
a private redis-server, the default), records every process, listening port, temporary
directory and database it made, stops it the way it would be stopped in life (SIGTERM,
Ctrl+C, or the parent console dying with SIGKILL), and checks that all of it is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sandbox_support import (
    ROOT,
    ServeProcess,
    assert_gone,
    footprint,
    kubectl,
    local_databases,
    pid_alive,
    port_open,
    wait_for_check,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_two_sandboxes_side_by_side_then_sigterm_and_ctrl_c_leave_nothing(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = ServeProcess.start(tmp_path / "a")
    second = ServeProcess.start(tmp_path / "b", scenario="high-error-rate", pods=12)
    try:
        a, b = first.wait_ready(), second.wait_ready()
        seen_a, seen_b = footprint(a["pid"]), footprint(b["pid"])
        # nothing outside the loopback interface, and no port shared
        for seen in (seen_a, seen_b):
            assert seen["listening"], "a sandbox listens somewhere"
            assert {addr.ip for addr in seen["listening"]} == {"127.0.0.1"}
        shared = {x.port for x in seen_a["listening"]} & {x.port for x in seen_b["listening"]}
        assert shared <= {a["postgres"]["port"]} & {b["postgres"]["port"]}  # the local server
        assert a["postgres"]["dsn"] != b["postgres"]["dsn"]  # own database each
        assert a["workdir"] != b["workdir"]
        if a["postgres"]["mode"] == "local":
            database = a["postgres"]["dsn"].rsplit("/", 1)[1]
            assert database in local_databases()
        # both answer, each on its own: the pods of each are healthy and the service
        # answers (its latency, measured by a check process competing for two busy CPUs,
        # may reach the 500 ms warning; that is the machine, not the sandbox)
        # the second started straight into its scenario, with extra pods for scale
        assert (a["scenario"], b["scenario"]) == ("healthy", "high-error-rate")
        # (high-error-rate rolls a faulty release out: the pods are judged once it is out)
        for serve, service in ((first, ("HEALTHY", "WARNING")), (second, ("CRITICAL",))):
            code, report = wait_for_check(serve.config, lambda code, env: {
                c["name"]: c["status"] for c in env["components"]}["pods"] == "HEALTHY",
                timeout=90)
            components = {c["name"]: c["status"] for c in report["components"]}
            assert components["pods"] == "HEALTHY", report
            assert components["service"] in service, report
        extra = kubectl(Path(b["workdir"]) / "kubeconfig", "get", "deployment", "mcp-load-extra",
                        "-n", "mcp-production", "-o", "jsonpath={.spec.replicas}", tmp=tmp_path)
        assert extra.stdout == "12", extra.stderr
        assert first.stop(signal.SIGTERM) == 0
        assert first.next_event(5) == {"event": "stopped", "status": 0}
        assert_gone(a, seen_a, first.config)
        assert pid_alive(b["pid"]) and port_open(int(b["control_url"].rsplit(":", 1)[1]))
        assert second.stop(signal.SIGINT) == 0
        assert_gone(b, seen_b, second.config)
    finally:  # gracefully, so even a failed test leaves nothing (stop() escalates if stuck)
        first.stop()
        second.stop()


PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen(sys.argv[1:], env={**os.environ,
                         "MCP_OPS_SANDBOX_PARENT_PID": str(os.getpid())}, stdout=sys.stdout)
time.sleep(600)
"""


def test_sandbox_stops_by_itself_when_its_console_is_killed(tmp_path):
    """The interactive console starts the sandbox as its child; if the console dies
    without a word (kill -9, a crash), the sandbox notices and cleans up."""
    config = tmp_path / "sandbox.yaml"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, sys.executable, "-m", "console", "sandbox", "serve",
         "--config-out", str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        line = ""
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not line.startswith('{"event": "ready"'):
            line = parent.stdout.readline()
            if not line:
                break
        info = json.loads(line)
        seen = footprint(info["pid"])
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        assert_gone(info, seen, config)
    finally:
        if parent.poll() is None:
            parent.kill()


def test_a_killed_sandbox_takes_its_servers_along_and_the_next_one_sweeps_the_rest(tmp_path):
    """kill -9 cannot be caught: the servers must die with the sandbox by themselves, and
    what only a clean stop removes (its directory, its database) goes at the next start."""
    (tmp_path / "killed").mkdir()
    (tmp_path / "next").mkdir()
    killed = ServeProcess.start(tmp_path / "killed")
    try:
        info = killed.wait_ready()
        seen = footprint(info["pid"])
        servers = [p for p in seen["pids"] if p != info["pid"]]
        assert servers, "PostgreSQL or Redis runs as a child process"
        killed.stop(signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(pid_alive(p) for p in servers):
            time.sleep(0.2)
        assert [p for p in servers if pid_alive(p)] == []
        assert [a.port for a in seen["listening"] if port_open(a.port)] == []
        assert Path(info["workdir"]).exists()  # nobody could remove it...
        database = info["postgres"]["dsn"].rsplit("/", 1)[1]
        local = info["postgres"]["mode"] == "local"
        if local:
            assert database in local_databases()
    finally:
        killed.stop()
    following = ServeProcess.start(tmp_path / "next")
    try:
        following.wait_ready()
        assert not Path(info["workdir"]).exists()  # ...until the next sandbox started
        if local:
            assert database not in local_databases()
    finally:
        assert following.stop() == 0
