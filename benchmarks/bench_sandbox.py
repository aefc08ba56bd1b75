"""Sandbox start to a healthy ``mcp-ops check`` (``sandbox_startup.py``'s run, once, with
the machine's PostgreSQL binaries and a private redis-server)."""

from __future__ import annotations

from bench_table import Row, secs
from sandbox_startup import one_run

GOAL = 10.0


def measure(opts, progress) -> list[Row]:
    run = one_run("local")
    what = "sandbox start to a healthy check"
    if run["healthy"] is None:
        return [Row.missing(what, "no healthy check within 120 s", f"< {GOAL:g} s")]
    return [Row(what, f"{secs(run['healthy'])} (ready {secs(run['ready'])}, "
                f"{run['checks']} checks, {run['cpu']:.1f} s CPU to ready; "
                f"PostgreSQL {run['postgres']})", "—", "—",
                f"< {GOAL:g} s", run["healthy"] < GOAL)]
