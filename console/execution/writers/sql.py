"""SQL on the primary: validated identifiers, maintenance outside a transaction, backends.

:class:`SqlWriter` is built on a factory of writable connections to the primary (the caller
owns them and closes them). Identifiers (tables, indexes, columns) are checked by
:func:`validate_identifier` — letters, digits, ``_`` and ``$``, at most 63 characters,
optionally ``schema.name`` — and always double-quoted by :func:`quote_ident`, so nothing an
operator types can end a statement or start another; a bad one is a ``ValueError`` raised
before any connection is asked for.

Every method has a twin returning the exact text it sends (``vacuum_sql``,
``create_index_sql``...), so a step's plan shows the statement that runs.

``VACUUM``, ``CREATE INDEX CONCURRENTLY`` and ``DROP INDEX CONCURRENTLY`` cannot run inside
a transaction block: they are sent on their own, refused if the connection is inside a
transaction, and with the session's ``statement_timeout`` lifted (or set to ``timeout``) for
their duration, since the console's connections carry a short one. Progress comes from
``pg_stat_progress_vacuum`` / ``pg_stat_progress_create_index``, read on a second
connection (``monitor``) while the statement runs on the first.

A concurrent index build that fails (duplicate rows for a unique index, a cancel, a
deadlock) leaves an INVALID index behind that still costs every write; it is found in
``pg_index`` and dropped with ``DROP INDEX CONCURRENTLY`` before the error is re-raised.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import WriterRefused

if TYPE_CHECKING:
    import asyncpg

__all__ = [
    "IndexProgress", "SqlWriter", "VacuumProgress", "quote_ident", "validate_identifier",
]

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")

Connect = Callable[[], Awaitable["asyncpg.Connection"]]
P = TypeVar("P", "VacuumProgress", "IndexProgress")
ProgressCallback = Callable[[P], Awaitable[None] | None]


def validate_identifier(name: str, *, qualified: bool = True, what: str = "identifier") -> str:
    """``name`` unchanged if it is a plain SQL identifier (``schema.name`` too when
    ``qualified``); otherwise a ValueError saying what is wrong with it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} is empty")
    parts = name.split(".")
    if len(parts) > (2 if qualified else 1):
        allowed = "at most one dot (schema.name)" if qualified else "a bare name, without a dot"
        raise ValueError(f"{what} {name!r}: {allowed}")
    for part in parts:
        if IDENTIFIER.match(part):
            continue
        if not part:
            raise ValueError(f"{what} {name!r}: empty part around a dot")
        if len(part) > 63:
            raise ValueError(f"{what} {name!r}: {len(part)} characters, PostgreSQL allows 63")
        bad = sorted({c for c in part if not (c.isascii() and (c.isalnum() or c in "_$"))})
        if bad:
            shown = ", ".join("space" if c == " " else repr(c) for c in bad)
            raise ValueError(f"{what} {name!r}: {shown} not allowed; use letters, digits, "
                             "_ and $")
        raise ValueError(f"{what} {name!r}: must start with a letter or _")
    return name


def quote_ident(name: str, *, qualified: bool = True) -> str:
    """``"schema"."name"`` for a valid identifier (see :func:`validate_identifier`)."""
    validate_identifier(name, qualified=qualified)
    return ".".join(f'"{part}"' for part in name.split("."))


@dataclass(frozen=True)
class VacuumProgress:
    """A row of ``pg_stat_progress_vacuum`` for the writer's backend."""

    pid: int
    relation: str | None
    phase: str
    heap_blks_total: int
    heap_blks_scanned: int
    heap_blks_vacuumed: int
    index_vacuum_count: int

    @property
    def fraction(self) -> float | None:
        """Share of the heap scanned (None before the size is known)."""
        return self.heap_blks_scanned / self.heap_blks_total if self.heap_blks_total else None


@dataclass(frozen=True)
class IndexProgress:
    """A row of ``pg_stat_progress_create_index`` for the writer's backend."""

    pid: int
    relation: str | None
    index: str | None
    phase: str
    lockers_total: int
    lockers_done: int
    blocks_total: int
    blocks_done: int
    tuples_total: int
    tuples_done: int

    @property
    def fraction(self) -> float | None:
        """Share of the current phase's blocks (or tuples) done, when PostgreSQL counts them."""
        if self.blocks_total:
            return self.blocks_done / self.blocks_total
        if self.tuples_total:
            return self.tuples_done / self.tuples_total
        return None


VACUUM_PROGRESS = (
    "SELECT pid, relid::regclass::text AS relation, phase, heap_blks_total, heap_blks_scanned,"
    " heap_blks_vacuumed, index_vacuum_count FROM pg_stat_progress_vacuum WHERE pid = $1")
INDEX_PROGRESS = (
    "SELECT pid, relid::regclass::text AS relation, index_relid::regclass::text AS index, phase,"
    " lockers_total, lockers_done, blocks_total, blocks_done, tuples_total, tuples_done"
    " FROM pg_stat_progress_create_index WHERE pid = $1")
# the index named $2 on table $1 (quoted text), with its schema and validity
FIND_INDEX = (
    "SELECT n.nspname, c.relname, i.indisvalid FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE i.indrelid = to_regclass($1) AND c.relname = $2")


class SqlWriter:
    """Statements a granted change step may run on the primary."""

    def __init__(self, connect: Connect, *, monitor: Connect | None = None,
                 progress_interval: float = 1.0) -> None:
        self._connect = connect
        self._monitor = monitor  # a second connection, for progress while a statement runs
        self.progress_interval = progress_interval

    def __repr__(self) -> str:
        return f"<SqlWriter monitor={'yes' if self._monitor else 'no'}>"

    # ---- the statements, as text -----------------------------------------------------------
    @staticmethod
    def vacuum_sql(table: str | None = None, *, analyze: bool = True) -> str:
        options = " (ANALYZE)" if analyze else ""
        return f"VACUUM{options}" + (f" {quote_ident(table)}" if table else "")

    @staticmethod
    def analyze_sql(table: str | None = None) -> str:
        return "ANALYZE" + (f" {quote_ident(table)}" if table else "")

    @staticmethod
    def create_index_sql(index: str, table: str, columns: Sequence[str], *,
                         unique: bool = False) -> str:
        if isinstance(columns, str) or not columns:
            raise ValueError("columns: give a non-empty list of column names")
        cols = ", ".join(quote_ident(c, qualified=False) for c in columns)
        return (f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY "
                f"{quote_ident(index, qualified=False)} ON {quote_ident(table)} ({cols})")

    @staticmethod
    def drop_index_sql(index: str) -> str:
        return f"DROP INDEX CONCURRENTLY {quote_ident(index)}"

    @staticmethod
    def stat_reset_sql() -> str:
        return "SELECT pg_stat_reset()"

    @staticmethod
    def cancel_backend_sql(pid: int) -> str:
        return f"SELECT pg_cancel_backend({_pid(pid)})"

    @staticmethod
    def terminate_backend_sql(pid: int) -> str:
        return f"SELECT pg_terminate_backend({_pid(pid)})"

    @staticmethod
    def alter_system_sql(parameter: str, value: int) -> str:
        """``ALTER SYSTEM SET parameter = value`` for a whole-number setting (the value
        checked as an int, the name as an identifier: nothing typed can end the statement)."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r}: a whole number is expected")
        return f"ALTER SYSTEM SET {validate_identifier(parameter, qualified=False)} = {value}"

    RELOAD_SQL = "SELECT pg_reload_conf()"

    # ---- running them ----------------------------------------------------------------------
    async def execute(self, statement: str, *args: Any, timeout: float | None = None) -> str:
        """One statement with ``$n`` arguments; its status (``"UPDATE 3"``)."""
        conn = await self._connect()
        status: str = await conn.execute(statement, *args, timeout=timeout)
        return status

    async def vacuum(self, table: str | None = None, *, analyze: bool = True,
                     progress: ProgressCallback[VacuumProgress] | None = None,
                     timeout: float | None = None) -> str:
        """``VACUUM (ANALYZE) table`` (every table when None), outside a transaction.
        ``progress`` is called with each ``pg_stat_progress_vacuum`` row seen."""
        statement = self.vacuum_sql(table, analyze=analyze)
        return await self._maintenance(statement, timeout=timeout, progress=progress,
                                       query=VACUUM_PROGRESS, row=VacuumProgress)

    async def analyze(self, table: str | None = None, *, timeout: float | None = None) -> str:
        return await self._maintenance(self.analyze_sql(table), timeout=timeout)

    async def create_index_concurrently(
            self, index: str, table: str, columns: Sequence[str], *, unique: bool = False,
            progress: ProgressCallback[IndexProgress] | None = None,
            timeout: float | None = None) -> str:
        """``CREATE [UNIQUE] INDEX CONCURRENTLY``. If it fails, an INVALID index it left
        behind is dropped (``DROP INDEX CONCURRENTLY``) and the error re-raised; an index
        that existed before is never touched."""
        statement = self.create_index_sql(index, table, columns, unique=unique)
        self._can_follow(progress)
        conn = await self._connect()
        existed = await conn.fetchrow(FIND_INDEX, quote_ident(table), index)
        if existed is not None:
            raise WriterRefused(f"index {index} on {table} exists already "
                                f"({'valid' if existed['indisvalid'] else 'INVALID'}); "
                                "drop it first or choose another name")
        try:
            return await self._maintenance(statement, timeout=timeout, progress=progress,
                                           query=INDEX_PROGRESS, row=IndexProgress)
        except BaseException as err:
            try:
                left = await conn.fetchrow(FIND_INDEX, quote_ident(table), index)
                if left is not None and not left["indisvalid"]:
                    await self._maintenance(self.drop_index_sql(f"{left['nspname']}.{index}"),
                                            timeout=timeout)
                    err.add_note(f"the invalid index {left['nspname']}.{index} it left "
                                 "was dropped")
            except Exception as cleanup:  # noqa: BLE001 - the build's error is the one to raise
                err.add_note(f"the invalid index {index} may remain: {cleanup}")
            raise

    async def drop_index_concurrently(self, index: str, *, timeout: float | None = None) -> str:
        return await self._maintenance(self.drop_index_sql(index), timeout=timeout)

    async def stat_reset(self) -> None:
        """``pg_stat_reset()``: the current database's cumulative statistics counters back to
        zero. Not "update statistics" (that is ANALYZE): autovacuum's dead-tuple and
        modification counts go with them."""
        conn = await self._connect()
        await conn.fetchval(self.stat_reset_sql())

    async def cancel_backend(self, pid: int) -> bool:
        """``pg_cancel_backend(pid)``: cancel that backend's current query. Refuses our own."""
        return await self._signal(pid, self.cancel_backend_sql(pid))

    async def terminate_backend(self, pid: int) -> bool:
        """``pg_terminate_backend(pid)``: end that session. Refuses our own."""
        return await self._signal(pid, self.terminate_backend_sql(pid))

    async def alter_system(self, parameter: str, value: int) -> str:
        """``ALTER SYSTEM SET`` (written to postgresql.auto.conf; a ``postmaster`` setting
        such as max_connections applies only at the next restart), outside a transaction."""
        return await self._maintenance(self.alter_system_sql(parameter, value), timeout=None)

    async def reload_conf(self) -> bool:
        """``pg_reload_conf()``: the server re-reads its configuration files."""
        conn = await self._connect()
        return bool(await conn.fetchval(self.RELOAD_SQL))

    # ---- internals -------------------------------------------------------------------------
    async def _signal(self, pid: int, statement: str) -> bool:
        conn = await self._connect()
        if pid == conn.get_server_pid():
            raise WriterRefused(f"backend {pid} is this console's own connection; "
                                "it will not cancel or terminate itself")
        return bool(await conn.fetchval(statement))

    def _can_follow(self, progress: object) -> None:
        if progress is not None and self._monitor is None:
            raise ValueError("progress needs a monitor connection: build the SqlWriter with "
                             "monitor=...")

    async def _maintenance(self, statement: str, *, timeout: float | None,
                           progress: Callable[[Any], Awaitable[None] | None] | None = None,
                           query: str = "", row: type[Any] | None = None) -> str:
        """Run ``statement`` on its own (no transaction) with statement_timeout lifted,
        reporting progress from ``query`` on the monitor connection meanwhile."""
        self._can_follow(progress)
        conn = await self._connect()
        if conn.is_in_transaction():
            raise WriterRefused(f"{statement.split(' (')[0].split(' ')[0]} cannot run inside "
                                "a transaction block, and this connection is in one")
        previous = await conn.fetchval("SELECT current_setting('statement_timeout')")
        limit = f"{int(timeout * 1000)}ms" if timeout else "0"
        await conn.execute(f"SET statement_timeout = '{limit}'")
        try:
            run = asyncio.ensure_future(conn.execute(statement))
            if progress is not None and self._monitor is not None and row is not None:
                await self._follow(run, conn.get_server_pid(), query, row, progress)
            status: str = await run
            return status
        finally:
            try:  # best effort: an error here must not hide the statement's own
                if not conn.is_closed():
                    await conn.execute("SELECT set_config('statement_timeout', $1, false)",
                                       previous)
            except Exception:  # noqa: BLE001
                pass

    async def _follow(self, run: asyncio.Future[Any], pid: int, query: str, row: type[Any],
                      progress: Callable[[Any], Awaitable[None] | None]) -> None:
        assert self._monitor is not None
        monitor = await self._monitor()
        names = [f.name for f in fields(row)]
        try:
            while not run.done():
                try:
                    found = await monitor.fetch(query, pid)
                except Exception:  # noqa: BLE001 - progress is a nicety; the statement goes on
                    found = []
                for record in found:
                    result = progress(row(**{n: record[n] for n in names}))
                    if inspect.isawaitable(result):
                        await result
                await asyncio.wait([run], timeout=self.progress_interval)
        except BaseException:
            if not run.done():
                run.cancel()
            raise


def _pid(pid: int) -> int:
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        raise ValueError(f"{pid!r} is not a backend process id")
    return pid
