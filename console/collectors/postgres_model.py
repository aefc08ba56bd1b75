"""The PostgreSQL snapshot: sessions, blocking chains, slow queries, ratios, replication.

Kept apart from the collector so panels, rules and tests can import the shapes without
asyncpg.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Snapshot


@dataclass(frozen=True, kw_only=True)
class Session:
    """One client backend from pg_stat_activity (the console's own left out)."""

    pid: int
    user: str = ""
    application: str = ""
    client: str = ""
    state: str = ""
    query: str = ""
    query_seconds: float | None = None  # since query_start
    xact_seconds: float | None = None  # since xact_start
    state_seconds: float | None = None  # since state_change
    wait_event: str = ""
    blocked_by: tuple[int, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BlockingEdge:
    """``blocked`` waits for a lock ``blocking`` holds; both queries and durations."""

    blocked_pid: int
    blocked_query: str
    blocked_seconds: float | None
    blocking_pid: int
    blocking_query: str
    blocking_seconds: float | None
    blocking_state: str


@dataclass(frozen=True, kw_only=True)
class ConnectionGroup:
    state: str
    application: str
    count: int


@dataclass(frozen=True, kw_only=True)
class Statement:
    """A row of pg_stat_statements."""

    query: str
    calls: int
    mean_ms: float
    total_ms: float
    rows: int


@dataclass(frozen=True, kw_only=True)
class ReplicaLag:
    """Lag of one replica, seen from the primary (pg_stat_replication) or from the replica
    itself (a configured replica DSN). ``error`` when the replica could not be asked."""

    name: str
    lag_seconds: float | None = None
    state: str = ""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class PostgresSnapshot(Snapshot):
    server_version: str = ""
    database: str = ""
    max_connections: int = 0
    connections: int = 0  # client backends, the console's own excluded
    groups: tuple[ConnectionGroup, ...] = ()
    sessions: tuple[Session, ...] = ()
    blocking: tuple[BlockingEdge, ...] = ()
    slow: tuple[Session, ...] = ()  # active for longer than slow_after_seconds
    idle_in_transaction: tuple[Session, ...] = ()
    slow_after_seconds: float = 1.0
    cache_hit_ratio_pct: float | None = None
    database_size_bytes: int | None = None
    is_replica: bool = False
    replication: tuple[ReplicaLag, ...] = ()
    statements: tuple[Statement, ...] = ()
    statements_note: str = ""  # "" when statements are shown, else why not
    # the application was switched to another database (db-pitr; database_switch.py):
    switched_to: str = ""  # the host it uses now, "" when not switched
    switched_at: str = ""
    following: bool = False  # these figures are that database's (postgres.recovery_dsn)
    watched: str = ""  # the DSN these figures come from, when switched (no password)

    @property
    def connections_pct(self) -> float | None:
        if not self.max_connections:
            return None
        return 100.0 * self.connections / self.max_connections

    @property
    def blocking_pids(self) -> tuple[int, ...]:
        """Sessions at the head of a chain: they block others and wait for no one."""
        blocked = {e.blocked_pid for e in self.blocking}
        return tuple(sorted({e.blocking_pid for e in self.blocking} - blocked))
