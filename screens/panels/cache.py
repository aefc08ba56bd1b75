"""The Cache panel: memory against maxmemory and hit rate as sparklines, evictions, ops/s,
clients, role and the slow log."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static

from console.collectors.redis import RedisSnapshot

from ..widgets import Trend, set_text
from .base import Panel


def mb(n: int) -> str:
    return f"{n / 1048576:.1f}MB" if n < 1 << 30 else f"{n / (1 << 30):.2f}GB"


class CachePanel(Panel):
    TITLE = "Cache"
    HINT = "memory, hit rate, evictions, ops/s, clients"
    COMPONENT = "cache"

    def compose(self) -> ComposeResult:
        yield from super().compose()
        yield Trend("mem", id="trend-memory")
        yield Trend("hit", id="trend-hit")
        yield Static("", id="cache-summary", classes="panel-body")

    def show(self, snap: RedisSnapshot) -> None:
        pct = snap.memory_pct
        mem = f"{pct:.0f}% {mb(snap.used_memory)}" if pct is not None else f"{mb(snap.used_memory)} no max"
        self.query_one("#trend-memory", Trend).push(pct, mem)
        hit = snap.recent_hit_rate_pct if snap.recent_hit_rate_pct is not None else snap.hit_rate_pct
        self.query_one("#trend-hit", Trend).push(hit, f"{hit:.1f}%" if hit is not None else "–")
        line = Text()
        ops = f"{snap.ops_per_sec:.0f}" if snap.ops_per_sec is not None else "–"
        line.append(f"ops {ops}/s · ")
        ev = snap.evictions_per_sec
        line.append(f"evict {ev:.1f}/s" if ev is not None else "evict –",
                    "bold red" if ev else "")
        line.append(f" · clients {snap.connected_clients}")
        if snap.blocked_clients:
            line.append(f" ({snap.blocked_clients} blocked)", "yellow")
        role = snap.role or "?"
        if snap.role == "slave":
            role = f"replica, link {snap.master_link_status}"
        elif snap.connected_replicas:
            role += f", {snap.connected_replicas} replicas"
        line.append(f"\n{role} · slowlog {snap.slowlog_len}")
        if snap.slowlog:
            line.append(f" (max {snap.slowest_us / 1000:.0f}ms)")
        set_text(self.query_one("#cache-summary", Static), line)

    def drill_down(self):
        from ..cache_view import CacheView

        return CacheView()
