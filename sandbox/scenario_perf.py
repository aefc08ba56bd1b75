"""The ``missing-index`` scenario: a table without the index its hot query needs, for real.

``tool_call_events`` gets :data:`EVENT_ROWS` real rows and no index on ``account_id``; the
MCP-server simulator runs the "last call per account" query (:data:`SLOW_QUERY`) over and
over on its own connection, as the server's dashboard endpoint would. Without the index
each account's subquery reads the whole table, so one run takes well over a second (3.3 s
on a quick 2-core machine; at 200,000 rows it took 1.1-1.4 s there, too close to the 1 s
threshold for a sample of ``pg_stat_activity`` to catch it reliably): ``pg_stat_statements`` (where the server has it) shows it by mean
time, ``pg_stat_activity`` shows it running past the slow-query threshold, and
``pg_stat_user_tables`` shows the table read whole again and again. ``CREATE INDEX
CONCURRENTLY ... (account_id)`` brings it to a fraction of a second — what the
``performance-review`` wizard is rehearsed on. ``revert`` stops the query and drops the
table (and any index made on it).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import asyncpg

if TYPE_CHECKING:
    from .platform import Sandbox

TABLE = "tool_call_events"
COLUMN = "account_id"
EVENT_ROWS = 500_000
PAUSE = 1.0  # seconds between two runs of the query
SLOW_QUERY = (
    "SELECT a.id, (SELECT max(e.created_at) FROM tool_call_events e "
    "WHERE e.account_id = a.id) AS last_call FROM accounts a ORDER BY last_call DESC LIMIT 10")
SEED_SQL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id          bigserial PRIMARY KEY,
    account_id  int NOT NULL,
    tool        text NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL
);
INSERT INTO {TABLE} (account_id, tool, status, created_at)
    SELECT 1 + (g::bigint * 7919) % (SELECT count(*) FROM accounts),  -- no int overflow
           (ARRAY['search', 'fetch', 'summarise', 'translate'])[1 + g % 4],
           CASE WHEN g % 97 = 0 THEN 'error' ELSE 'ok' END, now() - make_interval(secs => g)
    FROM generate_series(1, {EVENT_ROWS}) AS g;
"""


async def seed(dsn: str) -> None:
    """The table, its rows and no index but the primary key (needs ``accounts``)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(SEED_SQL)
        await conn.execute(f"VACUUM ANALYZE {TABLE}")  # on its own: not in a transaction
    finally:
        await conn.close()


async def drop(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    finally:
        await conn.close()


class QueryLoop:
    """One connection running ``query`` again and again, ``pause`` seconds apart, as the
    server's dashboard endpoint does; :meth:`stop` cancels a run in progress."""

    def __init__(self, dsn: str, query: str = SLOW_QUERY, *, pause: float = PAUSE,
                 application_name: str = "mcp-server") -> None:
        self.dsn, self.query, self.pause = dsn, query, pause
        self.application_name = application_name
        self.runs = 0
        self.last_error: str | None = None
        self._task: asyncio.Task | None = None
        self._conn: asyncpg.Connection | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="slow-query-loop")

    async def _loop(self) -> None:
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(
                        self.dsn, timeout=10,
                        server_settings={"application_name": self.application_name})
                await self._conn.fetch(self.query)
                self.runs += 1
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep going, as a server would
                self.last_error = f"{type(exc).__name__}: {exc}"
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        self._conn.terminate()
                self._conn = None
            await asyncio.sleep(self.pause)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.terminate()  # a query in progress ends with it
            self._conn = None


async def missing_index_apply(sandbox: Sandbox) -> None:
    await seed(sandbox.db.dsn())
    sandbox.simulator.start_query_loop(SLOW_QUERY)


async def missing_index_revert(sandbox: Sandbox) -> None:
    if sandbox.simulator is not None:
        await sandbox.simulator.stop_query_loop()
    await drop(sandbox.db.dsn())
