"""Row builders shared by the Cache panel and its drill-down: the INFO figures (with the
rates the collector works out between polls) and the slow log."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the collectors load after the first frame
    from console.collectors.redis import RedisSnapshot, SlowEntry



def info_figures(snap: RedisSnapshot) -> list[tuple[str, str]]:
    """(field, value): Redis's INFO fields, then the rates between the last two polls."""
    return list(snap.info) + [
        ("hit rate since last poll %", f"{snap.recent_hit_rate_pct:.2f}"
         if snap.recent_hit_rate_pct is not None else "–"),
        ("evictions per second", f"{snap.evictions_per_sec:.2f}"
         if snap.evictions_per_sec is not None else "–"),
        ("ops per second", f"{snap.ops_per_sec:.0f}" if snap.ops_per_sec is not None else "–"),
    ]


def slowlog_row(e: SlowEntry) -> dict[str, Any]:
    """Keys: id when ms client command."""
    return {"id": str(e.id), "when": datetime.fromtimestamp(e.started).strftime("%H:%M:%S"),
            "ms": f"{e.duration_us / 1000:.1f}", "client": e.client, "command": e.command[:150]}


def slowlog_note(snap: RedisSnapshot) -> str:
    return f"{snap.slowlog_len} entries in the slow log; the latest {len(snap.slowlog)}:"
