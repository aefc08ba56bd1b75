"""PostgreSQL collector: one round trip per refresh for everything that changes fast.

The main query returns the sessions as rows, each carrying the hit ratio's counters,
recovery state and replication, so a refresh is one statement and one network exchange
however many figures the panel shows; durations are computed here from raw timestamps and
the server's ``now()``. Blocking chains are derived here from ``pg_blocking_pids``, which
is evaluated only for sessions waiting on a lock (it takes the lock manager's locks, so not
for every row). Database size, pg_stat_statements and what changes only with a restart
(version, max_connections) are asked on each new connection and then every
``slow_refresh_seconds``, and carried over in between.

The connection is kept between refreshes and dropped on any error, so the next refresh
reconnects. So are the connections to configured replicas, which are asked for their lag
alongside the primary, each within ``replica_timeout``: an unreachable replica is a row
with its error, never a timed-out Database panel. All queries are read-only and bounded by
the session's statement_timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import datetime

import asyncpg

from console.config.model import PostgresSettings
from console.sources import postgres as source

from .base import describe_error, utcnow
from .postgres_model import (
    BlockingEdge,
    ConnectionGroup,
    PostgresSnapshot,
    ReplicaLag,
    Session,
    Statement,
)

# One row per client session, each carrying the server's fast-changing figures (a single
# row of NULL session columns when there is no other session). Rows in asyncpg's binary
# format and raw timestamps cost the server about half of building one JSON document with
# the durations computed in SQL; the replicas' list is asked of pg_stat_get_wal_senders()
# alone, so pg_stat_activity is read once, not twice (pg_stat_replication is that join).
# blocked_by is text ("pid,pid"): an int4[] column would cost a type introspection query
# on every new connection.
ACTIVITY_SQL = """
SELECT srv.*, s.*
FROM (
  SELECT pg_is_in_recovery() AS in_recovery, now() AS server_now,
         d.blks_hit, d.blks_read,
         (SELECT json_agg(json_build_object(
                   'name', coalesce(nullif(a.application_name, ''), a.client_addr::text, 'replica'),
                   'state', w.state,
                   'lag', extract(epoch FROM coalesce(w.replay_lag, '0'::interval))::float8))
          FROM pg_stat_get_wal_senders() w, pg_stat_get_activity(w.pid) a) AS replicas,
         CASE WHEN pg_is_in_recovery() THEN
           CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
                ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END
         END AS replay_lag
  FROM pg_stat_database d WHERE d.datname = current_database()
) srv LEFT JOIN (
  SELECT pid, usename AS "user", application_name AS application,
         client_addr::text AS client, state, left(query, 2000) AS query,
         wait_event_type || ':' || wait_event AS wait_event,
         query_start, xact_start, state_change,
         CASE WHEN wait_event_type = 'Lock'
              THEN array_to_string(pg_blocking_pids(pid), ',') END AS blocked_by
  FROM pg_stat_activity
  WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
) s ON true
"""

# What changes only with a restart, an extension or a lot of writing: asked on each new
# connection and then every ``slow_refresh_seconds``.
SLOW_SQL = """
SELECT pg_database_size(current_database()) AS size,
       current_setting('server_version') AS version, current_database() AS database,
       current_setting('max_connections')::int AS max_connections,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS has_statements
"""

STATEMENTS_SQL = """
SELECT left(query, 500) AS query, calls, mean_exec_time AS mean_ms,
       total_exec_time AS total_ms, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY mean_exec_time DESC
LIMIT $1
"""

REPLICA_SQL = """
SELECT pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS lag
"""

NOT_INSTALLED = "pg_stat_statements is not installed in this database (CREATE EXTENSION pg_stat_statements; it also needs shared_preload_libraries)"


class PostgresCollector:
    """Collects :class:`PostgresSnapshot`; one instance per environment, kept between polls."""

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        slow_after_seconds: float = 1.0,
        slow_refresh_seconds: float = 30.0,
        connect_timeout: float = 3.0,
        replica_timeout: float | None = None,
        top_statements: int = 10,
    ) -> None:
        self.settings = settings
        self.slow_after_seconds = slow_after_seconds
        self.slow_refresh_seconds = slow_refresh_seconds
        self.connect_timeout = connect_timeout
        # a replica is a side figure: its probe gets a third of the poll's time, so an
        # unreachable replica is reported as such and cannot time the whole snapshot out
        self.replica_timeout = replica_timeout or connect_timeout / 3
        self.top_statements = top_statements
        self._conn: asyncpg.Connection | None = None
        self._replicas: dict[str, asyncpg.Connection] = {}  # kept between polls, like _conn
        self._slow_at = 0.0  # monotonic time of the last size/statements refresh
        self._server: asyncpg.Record | None = None  # SLOW_SQL's row; None until asked
        self._statements: tuple[Statement, ...] = ()
        self._statements_note = ""

    async def collect(self) -> PostgresSnapshot:
        try:
            return await self._collect()
        except (asyncio.CancelledError, KeyboardInterrupt):
            await self._drop()
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a snapshot
            await self._drop()
            return PostgresSnapshot.failed(describe_error(exc))

    async def close(self) -> None:
        await self._drop()
        for dsn in list(self._replicas):
            self._drop_replica(dsn)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()

    def _drop_replica(self, dsn: str) -> None:
        conn = self._replicas.pop(dsn, None)
        if conn is not None and not conn.is_closed():
            conn.terminate()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await source.connect(self.settings, timeout=self.connect_timeout)
            self._server = None  # perhaps another server, or restarted: ask again
        return self._conn

    async def _collect(self) -> PostgresSnapshot:
        # the replicas are asked while the primary is, each within its own bound
        replicas = asyncio.ensure_future(self._configured_replicas())
        try:
            return await self._primary(replicas)
        finally:
            if not replicas.done():
                replicas.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await replicas

    async def _primary(self, replicas: asyncio.Future) -> PostgresSnapshot:
        conn = await self._connection()
        if self._server is None or \
                time.monotonic() - self._slow_at >= self.slow_refresh_seconds:
            await self._refresh_slow(conn)
        server = self._server
        assert server is not None
        rows = await conn.fetch(ACTIVITY_SQL)
        first = rows[0]
        now = first["server_now"]
        sessions = tuple(_session(row, now) for row in rows if row["pid"] is not None)
        replication = [
            ReplicaLag(name=r["name"], lag_seconds=r["lag"], state=r["state"] or "")
            for r in json.loads(first["replicas"] or "[]")
        ]
        if first["in_recovery"]:
            replication.insert(0, ReplicaLag(name="this server", lag_seconds=first["replay_lag"],
                                             state="in recovery"))
        replication += await replicas
        return PostgresSnapshot(
            collected_at=utcnow(),
            server_version=server["version"],
            database=server["database"],
            max_connections=server["max_connections"],
            connections=len(sessions),
            groups=_groups(sessions),
            sessions=sessions,
            blocking=_blocking(sessions),
            slow=tuple(s for s in sessions if s.state == "active"
                       and (s.query_seconds or 0) > self.slow_after_seconds),
            idle_in_transaction=tuple(s for s in sessions
                                      if s.state.startswith("idle in transaction")),
            slow_after_seconds=self.slow_after_seconds,
            cache_hit_ratio_pct=_hit_ratio(first["blks_hit"], first["blks_read"]),
            database_size_bytes=server["size"],
            is_replica=first["in_recovery"],
            replication=tuple(replication),
            statements=self._statements,
            statements_note=self._statements_note,
        )

    async def _refresh_slow(self, conn: asyncpg.Connection) -> None:
        self._server = await conn.fetchrow(SLOW_SQL)
        if not self._server["has_statements"]:
            self._statements, self._statements_note = (), NOT_INSTALLED
        else:
            try:
                rows = await conn.fetch(STATEMENTS_SQL, self.top_statements)
            except asyncpg.PostgresError as exc:  # e.g. not in shared_preload_libraries
                self._statements, self._statements_note = (), f"pg_stat_statements: {exc}"
            else:
                self._statements = tuple(Statement(query=r["query"], calls=r["calls"],
                                                   mean_ms=r["mean_ms"], total_ms=r["total_ms"],
                                                   rows=r["rows"]) for r in rows)
                self._statements_note = ""
        self._slow_at = time.monotonic()

    async def _configured_replicas(self) -> list[ReplicaLag]:
        """Ask each configured replica for its own replay lag, concurrently."""
        return list(await asyncio.gather(*(self._replica(d) for d in self.settings.replica_dsns)))

    async def _replica(self, dsn: str) -> ReplicaLag:
        name = source.describe_dsn(dsn)
        try:
            row = await asyncio.wait_for(self._replica_row(dsn), self.replica_timeout)
        except asyncio.CancelledError:
            self._drop_replica(dsn)  # cut off mid-query: the connection is not reusable
            raise
        except TimeoutError:
            self._drop_replica(dsn)
            return ReplicaLag(name=name, error=f"no answer within {self.replica_timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - a replica's failure is its own row
            self._drop_replica(dsn)
            return ReplicaLag(name=name, error=describe_error(exc))
        if not row["in_recovery"]:
            return ReplicaLag(name=name, state="not in recovery (a primary?)")
        return ReplicaLag(name=name, lag_seconds=row["lag"], state="streaming")

    async def _replica_row(self, dsn: str) -> asyncpg.Record:
        conn = self._replicas.get(dsn)
        if conn is None or conn.is_closed():
            conn = await source.connect(self.settings, dsn=dsn, timeout=self.replica_timeout)
            self._replicas[dsn] = conn
        return await conn.fetchrow(REPLICA_SQL)


def _session(row: asyncpg.Record, now: datetime) -> Session:
    return Session(
        pid=row["pid"], user=row["user"] or "", application=row["application"] or "",
        client=row["client"] or "", state=row["state"] or "", query=row["query"] or "",
        query_seconds=_seconds_since(row["query_start"], now),
        xact_seconds=_seconds_since(row["xact_start"], now),
        state_seconds=_seconds_since(row["state_change"], now),
        wait_event=row["wait_event"] or "",
        blocked_by=tuple(int(pid) for pid in (row["blocked_by"] or "").split(",") if pid),
    )


def _seconds_since(start: datetime | None, now: datetime) -> float | None:
    """Seconds from ``start`` to the server's ``now()`` (the clock they both come from)."""
    return None if start is None else (now - start).total_seconds()


def _groups(sessions: tuple[Session, ...]) -> tuple[ConnectionGroup, ...]:
    counts: dict[tuple[str, str], int] = {}
    for s in sessions:
        key = (s.state or "unknown", s.application or "(none)")
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(ConnectionGroup(state=k[0], application=k[1], count=n) for k, n in ordered)


def _blocking(sessions: tuple[Session, ...]) -> tuple[BlockingEdge, ...]:
    by_pid = {s.pid: s for s in sessions}
    edges = []
    for s in sessions:
        for pid in s.blocked_by:
            holder = by_pid.get(pid)
            edges.append(BlockingEdge(
                blocked_pid=s.pid, blocked_query=s.query, blocked_seconds=s.query_seconds,
                blocking_pid=pid,
                blocking_query=holder.query if holder else "(not a client session)",
                blocking_seconds=holder.xact_seconds if holder else None,
                blocking_state=holder.state if holder else "",
            ))
    return tuple(sorted(edges, key=lambda e: -(e.blocked_seconds or 0)))


def _hit_ratio(hit: int | None, read: int | None) -> float | None:
    total = (hit or 0) + (read or 0)
    return 100.0 * (hit or 0) / total if total else None
