"""Helpers for the sandbox tests: a ``mcp-ops sandbox serve`` child process, the real
``mcp-ops check`` and the real ``kubectl`` run against it.

The sandbox is always a separate process started through the real command line, as a
user or a script would start it; the tests only read what it prints and what it serves.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import servers

ROOT = Path(__file__).resolve().parents[2]
MCP_OPS = [sys.executable, "-m", "console"]
KUBECTL_TIMEOUT = "--request-timeout=20s"


def closed_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env() -> dict[str, str]:
    """PostgreSQL and Redis "pointed at closed ports": the sandbox must embed its own."""
    return {"MCP_OPS_SANDBOX_PG": f"127.0.0.1:{closed_port()}",
            "MCP_OPS_SANDBOX_REDIS": f"127.0.0.1:{closed_port()}"}


def client_env(**extra: str) -> dict[str, str]:
    """Environment for mcp-ops/kubectl children: ours plus extras (moto needs no keys)."""
    return {**os.environ, **extra}


# Rehearsals run the sandbox's clusters this many times faster than the wall clock
# (``mcp-ops sandbox serve --speed``): a new pod is ready in ~3 s instead of ~12 s, so a
# drain or a rollout waits a quarter as long. What fails, and what is checked, is the same.
REHEARSAL_SPEED = 4.0


@dataclass
class ServeProcess:
    """A running ``mcp-ops sandbox serve`` and what it announced."""

    process: subprocess.Popen
    config: Path
    stderr_path: Path
    lines: queue.Queue = field(default_factory=queue.Queue)
    info: dict = field(default_factory=dict)

    @classmethod
    def start(cls, base: Path, *, env: dict[str, str] | None = None, scenario: str | None = None,
              pods: int | None = None, python: str | None = None,
              speed: float | None = None) -> ServeProcess:
        """``python`` (default: ours) is the interpreter of the environment to run it from."""
        config = base / "sandbox.yaml"
        argv = [python or sys.executable, "-m", "console", "sandbox", "serve",
                "--config-out", str(config)]
        if scenario:
            argv += ["--scenario", scenario]
        if pods is not None:
            argv += ["--pods", str(pods)]
        if speed is not None:
            argv += ["--speed", str(speed)]
        stderr_path = base / "serve.stderr"
        child_env = {**os.environ, "MCP_OPS_SANDBOX_PARENT_PID": str(os.getpid()), **(env or {})}
        with open(stderr_path, "wb") as err:  # a foreign venv runs outside the source tree
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err,
                                       cwd=base if python else ROOT, env=child_env, text=True)
        serve = cls(process, config, stderr_path)
        threading.Thread(target=serve._read, daemon=True).start()
        return serve

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_event(self, timeout: float) -> dict | None:
        """The next JSON line on stdout, or None when stdout closed."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if line is None:
                return None
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)

    def wait_ready(self, timeout: float = 90) -> dict:
        try:
            event = self.next_event(timeout)
        except queue.Empty:
            event = None
        if not event or event.get("event") != "ready":
            self.stop()
            raise AssertionError(f"sandbox did not get ready: {event}\n{self.stderr()}")
        self.info = event
        return event

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode


def run_check(config: Path, env_name: str = "sandbox", timeout: float = 60) -> tuple[int, dict]:
    """``mcp-ops check ENV --format json`` against a sandbox config: (exit code, JSON)."""
    out = subprocess.run([*MCP_OPS, "check", env_name, "--config", str(config), "--format", "json"],
                         capture_output=True, text=True, env=client_env(), cwd=ROOT,
                         timeout=timeout)
    try:
        return out.returncode, json.loads(out.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"check printed no JSON (exit {out.returncode}):\n"
                             f"{out.stdout}\n{out.stderr}") from None


def environment_report(report: dict, env_name: str = "sandbox") -> dict:
    return next(e for e in report["environments"] if e["name"] == env_name)


def reasons(env_report: dict) -> list[str]:
    return [r for c in env_report["components"] for r in c["reasons"]]


def wait_for_check(config: Path, accept, *, timeout: float = 45, env_name: str = "sandbox"):
    """Run the check until ``accept(code, env_report)`` is true; returns the last result.
    Symptoms such as CrashLoopBackOff take a few emulated seconds to appear."""
    deadline = time.monotonic() + timeout
    while True:
        code, report = run_check(config, env_name)
        env_report = environment_report(report, env_name)
        if accept(code, env_report) or time.monotonic() > deadline:
            return code, env_report
        time.sleep(1.0)


def kubectl(kubeconfig: str | Path, *args: str, context: str = "sandbox", tmp: Path,
            stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real kubectl against a sandbox context (own cache dir, bounded requests)."""
    env = {**os.environ, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(tmp / "kubecache")}
    return subprocess.run(["kubectl", "--context", context, KUBECTL_TIMEOUT, *args],
                          capture_output=True, text=True, env=env, input=stdin, timeout=timeout)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def footprint(serve_pid: int) -> dict:
    """Every process of the sandbox and every port it listens on."""
    root = psutil.Process(serve_pid)
    procs = [root, *root.children(recursive=True)]
    listening = []
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        listening += [c.laddr for c in conns if c.status == psutil.CONN_LISTEN]
    return {"pids": [p.pid for p in procs], "listening": listening}


def local_databases() -> set[str]:
    out = subprocess.run(["psql", *servers.pg_args(), "-U", "postgres", "-d", "test", "-Atc",
                          "SELECT datname FROM pg_database"], capture_output=True, text=True,
                         timeout=30)
    return set(out.stdout.split())


def assert_gone(info: dict, seen: dict, config: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(pid_alive(p) for p in seen["pids"]):
        time.sleep(0.2)
    assert [p for p in seen["pids"] if pid_alive(p)] == []
    assert [a.port for a in seen["listening"] if port_open(a.port)] == []
    assert not Path(info["workdir"]).exists()
    assert not Path(str(config) + ".sandbox.json").exists()
    if info["postgres"]["mode"] == "local":
        database = info["postgres"]["dsn"].rsplit("/", 1)[1]
        assert not {database, database + "_recovery"} & local_databases()


@contextlib.contextmanager
def serving(base: Path, *, timeout: float = 120, env: dict[str, str] | None = None,
            speed: float | None = None):
    """``mcp-ops sandbox serve`` in ``base``, ready, stopped at the end whatever happened;
    ``speed``: its clusters' clock speed (``--speed``)."""
    serve = ServeProcess.start(base, env=env, speed=speed)
    try:
        serve.wait_ready(timeout=timeout)
        yield serve
    finally:
        serve.stop()
