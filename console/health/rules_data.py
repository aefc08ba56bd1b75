"""Database and cache rules: connections, slow queries and blocking, replication lag,
Redis memory, hit rate and evictions (DESIGN.md, Thresholds)."""

from __future__ import annotations

from console.collectors.postgres_model import PostgresSnapshot
from console.collectors.redis import RedisSnapshot
from console.config.model import Thresholds
from console.sources.postgres import describe_dsn

from .status import Finding, Status, fmt_num, high_is_bad, low_is_bad, not_judged

# An open transaction doing nothing holds locks and snapshots; a minute of that is worth a
# look even though the guide sets no figure for it.
IDLE_IN_TRANSACTION_WARNING_SECONDS = 60.0
# Evictions seen without a break for this long are "sustained" (critical).
SUSTAINED_EVICTION_SECONDS = 60.0


def switch_finding(snap: PostgresSnapshot) -> Finding | None:
    """The application was switched to another database (db-pitr): say which one these
    figures are — the one it uses now (followed), or still the old primary (a WARNING)."""
    if not snap.switched_to:
        return None
    when = f" at {snap.switched_at}" if snap.switched_at else ""
    watched = describe_dsn(snap.watched) if snap.watched else "postgres.dsn"
    if snap.following:
        return Finding("database", "switch", Status.HEALTHY,
                       f"following the switch{when}: the application uses {snap.switched_to}, "
                       f"watched as {watched} (postgres.recovery_dsn)")
    return Finding("database", "switch", Status.WARNING,
                   f"the application was switched to {snap.switched_to}{when}; this console "
                   f"still watches the old primary ({watched}): set postgres.recovery_dsn to "
                   "follow")


def evaluate_postgres(snap: PostgresSnapshot, t: Thresholds) -> list[Finding]:
    c = "database"
    switched = switch_finding(snap)
    head = [switched] if switched else []
    if snap.error:
        return [*head, Finding(c, "collect", Status.UNKNOWN,
                               f"database unreachable: {snap.error}")]
    out = head
    pct = snap.connections_pct
    if pct is not None:
        status, cmp = high_is_bad(pct, t.db_connections_pct)
        out.append(Finding(c, "connections", status,
                           f"DB connections {pct:.0f}% of max_connections "
                           f"({snap.connections}/{snap.max_connections}) {cmp}%", pct))
    for edge in snap.blocking:
        out.append(Finding(c, f"blocking.{edge.blocked_pid}.{edge.blocking_pid}", Status.CRITICAL,
                           f"blocking chain: pid {edge.blocking_pid} blocks pid {edge.blocked_pid} "
                           f"for {_secs(edge.blocked_seconds)}", edge.blocked_seconds))
    if snap.slow:
        longest = max(snap.slow, key=lambda s: s.query_seconds or 0)
        out.append(Finding(c, "slow_queries", Status.WARNING,
                           f"{len(snap.slow)} quer{'y' if len(snap.slow) == 1 else 'ies'} running "
                           f"> {fmt_num(t.slow_query_seconds)} s (longest pid {longest.pid}, "
                           f"{_secs(longest.query_seconds)})", float(len(snap.slow))))
    else:
        out.append(Finding(c, "slow_queries", Status.HEALTHY,
                           f"no query running > {fmt_num(t.slow_query_seconds)} s", 0.0))
    stuck = [s for s in snap.idle_in_transaction
             if (s.state_seconds or 0) >= IDLE_IN_TRANSACTION_WARNING_SECONDS]
    if stuck:
        worst = max(stuck, key=lambda s: s.state_seconds or 0)
        out.append(Finding(c, "idle_in_transaction", Status.WARNING,
                           f"{len(stuck)} session(s) idle in transaction ≥ "
                           f"{IDLE_IN_TRANSACTION_WARNING_SECONDS:.0f} s (pid {worst.pid}, "
                           f"{_secs(worst.state_seconds)})", float(len(stuck))))
    for r in snap.replication:
        check = f"replication.{r.name}"
        if r.error:
            out.append(Finding(c, check, Status.WARNING, f"replica {r.name} not reachable: {r.error}"))
        elif r.lag_seconds is not None:
            status, cmp = high_is_bad(r.lag_seconds, t.replication_lag_seconds,
                                      inclusive_critical=True)
            out.append(Finding(c, check, status, f"replication lag {r.name} "
                               f"{fmt_num(r.lag_seconds)} s {cmp} s", r.lag_seconds))
        else:  # connected, but nothing replayed yet: no lag to judge
            out.append(not_judged(c, check, f"replication lag {r.name} not judged: the "
                                  "replica has replayed no transaction yet"
                                  + (f" (state {r.state})" if r.state else "")))
    if snap.cache_hit_ratio_pct is not None:
        out.append(Finding(c, "cache_hit_ratio", Status.HEALTHY,
                           f"buffer cache hit ratio {fmt_num(snap.cache_hit_ratio_pct, 2)}%",
                           snap.cache_hit_ratio_pct))
    return out


def evaluate_redis(snap: RedisSnapshot, t: Thresholds) -> list[Finding]:
    c = "cache"
    if snap.error:
        return [Finding(c, "collect", Status.UNKNOWN, f"Redis unreachable: {snap.error}")]
    out = []
    pct = snap.memory_pct
    if pct is None:
        out.append(Finding(c, "memory", Status.HEALTHY,
                           f"Redis memory {_mb(snap.used_memory)} used, no maxmemory set"))
    else:
        status, cmp = high_is_bad(pct, t.redis_memory_pct)
        out.append(Finding(c, "memory", status, f"Redis memory {pct:.0f}% of maxmemory "
                           f"({_mb(snap.used_memory)}/{_mb(snap.maxmemory)}) {cmp}%", pct))
    recent = snap.recent_hit_rate_pct
    rate, window = (recent, "since last poll") if recent is not None else (snap.hit_rate_pct, "since start")
    if rate is not None:
        status, cmp = low_is_bad(rate, t.redis_hit_rate_pct)
        out.append(Finding(c, "hit_rate", status,
                           f"Redis hit rate {fmt_num(rate)}% {cmp}% ({window})", rate))
    else:
        out.append(not_judged(c, "hit_rate", "Redis hit rate not judged: no cache reads "
                              "since Redis started (or its statistics were reset)"))
    ev = snap.evictions_per_sec
    if ev:
        sustained = snap.evicting_seconds >= SUSTAINED_EVICTION_SECONDS
        out.append(Finding(c, "evictions", Status.CRITICAL if sustained else Status.WARNING,
                           f"Redis evicting {fmt_num(ev)} keys/s"
                           + (f" for {snap.evicting_seconds:.0f} s (sustained)" if sustained else ""),
                           ev))
    elif ev == 0:
        out.append(Finding(c, "evictions", Status.HEALTHY, "no evictions", 0.0))
    else:  # one reading: a rate needs two
        out.append(not_judged(c, "evictions", "Redis evictions per second not judged: one "
                              f"reading has no rate ({snap.evicted_keys} keys evicted since "
                              "Redis started)"))
    if snap.role == "slave" and snap.master_link_status != "up":
        out.append(Finding(c, "replication", Status.CRITICAL,
                           f"Redis replica link to master is {snap.master_link_status or 'down'}"))
    return out


def _secs(value: float | None) -> str:
    return f"{value:.1f} s" if value is not None else "? s"


def _mb(n: int) -> str:
    return f"{n / 1048576:.1f} MB" if n < 1 << 30 else f"{n / (1 << 30):.2f} GB"
