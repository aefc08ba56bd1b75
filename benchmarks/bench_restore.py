"""PITR restore of a 100 MB dump streamed over exec against ``pg_restore`` run locally:
not measured yet (issue 18); the row says so and does not count as met."""

from __future__ import annotations

from bench_table import Row


def measure(opts, progress) -> list[Row]:
    return [Row.missing("PITR restore of a 100 MB dump streamed over exec",
                        "not measured yet", "≥ 0.8× its throughput",
                        against="pg_restore locally on the same dump")]
