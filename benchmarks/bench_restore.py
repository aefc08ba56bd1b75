"""PITR restore of a dump streamed over exec (S3 → the recovery pod's ``pg_restore``
stdin, through the emulator's exec WebSocket), against the same ``pg_restore`` command (the
wizard's options) reading the same dump from a local file — measured before and after the
wizard run, averaged — in one whole ``db-pitr`` run (``bench_recovery.py``); the run's
outage (0 replicas to all ready, measured by the wizard) is printed beside the restore it
no longer includes. About 110 MB of ``pg_dump -Fc`` archive in the full run (most of it
random bytes, which do not compress); the quick run skips this row."""

from __future__ import annotations

import asyncio

from bench_table import Row, ratio, secs

ROWS = 700_000  # critical_table and as many filler rows: a -Fc dump of about 110 MB


def measure(opts, progress) -> list[Row]:
    from bench_recovery import measure_recovery

    what = "PITR restore of a dump streamed over exec"
    try:
        got = asyncio.run(measure_recovery(ROWS, velero=False,
                                           say=lambda line: progress(f"  {line}")))
    except Exception as exc:  # noqa: BLE001 - a row that could not be measured says why
        return [Row.missing(what, f"failed: {exc}", "≥ 0.8× its throughput",
                            against="pg_restore locally on the same dump")]
    size, floor, restore = got["size_mb"], got["floor"], got["restore"]
    ours_rate, local_rate = size / restore, size / floor
    rows = [Row(f"{what} ({size:.0f} MB)", f"{ours_rate:.1f} MB/s ({secs(restore)})",
                f"pg_restore locally {local_rate:.1f} MB/s ({secs(floor)})",
                ratio(ours_rate, local_rate), "≥ 0.8× its throughput",
                ours_rate >= 0.8 * local_rate)]
    if got.get("outage") is not None:
        rows.append(Row("db-pitr outage (0 replicas → all ready), restore done before it",
                        secs(got["outage"]), f"the restore {secs(restore)}",
                        ratio(got["outage"], restore)))
    return rows
