"""Start times: ``mcp-ops --help`` against ``kubectl version --client`` and
``pg_activity --help``, each the median of several cold process starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_table import Row, median, ms, ratio

ROOT = Path(__file__).resolve().parent.parent
GOAL_HELP = 0.15


def ours_command(*args: str) -> list[str]:
    """``mcp-ops`` from this checkout (the venv's script may point at another one)."""
    return [sys.executable, "-m", "console", *args]


def ours_env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def timed_runs(argv: list[str], runs: int, env: dict | None = None) -> float:
    """Median wall time; a run must print its usage (pg_activity 3.0's ``--help`` exits 1)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, cwd=ROOT, timeout=60)
        times.append(time.perf_counter() - started)
        if not done.stdout.strip():
            raise RuntimeError(f"{argv[0]} printed nothing: {done.stderr[-200:]!r}")
    return median(times)


def measure(opts, progress) -> list[Row]:
    runs = 3 if opts.quick else 7
    ours = timed_runs(ours_command("--help"), runs, ours_env())
    rows = []
    kubectl = shutil.which("kubectl")
    theirs = timed_runs([kubectl, "version", "--client"], runs) if kubectl else None
    rows.append(Row("start: `mcp-ops --help`", ms(ours),
                    f"kubectl version --client {ms(theirs)}" if theirs else "kubectl n/a",
                    ratio(ours, theirs), f"≤ {GOAL_HELP:g} s", ours <= GOAL_HELP))
    pga = shutil.which("pg_activity")
    if pga:
        theirs = timed_runs([pga, "--help"], runs)
        rows.append(Row("start: `mcp-ops --help` vs pg_activity", ms(ours),
                        f"pg_activity --help {ms(theirs)}", ratio(ours, theirs)))
    else:
        rows.append(Row("start: `mcp-ops --help` vs pg_activity", ms(ours),
                        "n/a (pg_activity not installed: apt-get install pg-activity)"))
    return rows
