"""What a read step gets instead of a client: surfaces that can only look.

A ``read`` step runs without confirmation and in read-only mode, so "it only reads" must
be a property of what it is handed, not a promise of its author. The step context gives it:

- :class:`ReadOnlyRedis` — the Redis client behind an allow-list of reading commands
  (INFO, SLOWLOG GET, GET/MGET, the SCAN family, ACL WHOAMI/GETUSER...). Anything else,
  by method or by ``execute_command``, raises :class:`NotPermitted` before a byte is sent.
- :class:`ReadOnlyPostgres` — ``fetch``/``fetchrow``/``fetchval`` only, each inside
  ``BEGIN READ ONLY`` on a connection whose default is already read-only, so the server
  refuses a write even if the statement switches the session default back off.
- :func:`read_exec_problem` — the commands a read step may exec in a pod (``pg_isready``,
  and ``psql`` whose first command makes the session read-only and whose queries are
  single reading statements), used by the Kubernetes reader.

Writers (``ctx.mutations``) use the raw clients; they exist only for granted steps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


class NotPermitted(Exception):
    """A step reached for a capability the executor did not grant it."""


# ---- Redis -----------------------------------------------------------------------------
# redis-py method names a read step may call; each sends only the matching read command
REDIS_READ_METHODS = frozenset({
    "info", "ping", "dbsize", "time", "get", "mget", "exists", "type", "ttl", "pttl",
    "strlen", "scan", "scan_iter", "hscan", "hscan_iter", "sscan", "sscan_iter", "zscan",
    "zscan_iter", "hget", "hmget", "hgetall", "hlen", "hkeys", "llen", "lrange", "scard",
    "smembers", "sismember", "zcard", "zscore", "zrange", "xlen", "slowlog_get",
    "slowlog_len", "acl_whoami", "acl_getuser", "memory_usage", "memory_stats",
})
# the same, as commands for execute_command: a name, or (name, subcommand)
REDIS_READ_COMMANDS = frozenset({
    "INFO", "PING", "DBSIZE", "TIME", "GET", "MGET", "EXISTS", "TYPE", "TTL", "PTTL",
    "STRLEN", "SCAN", "HSCAN", "SSCAN", "ZSCAN", "HGET", "HMGET", "HGETALL", "HLEN", "HKEYS",
    "LLEN", "LRANGE", "SCARD", "SMEMBERS", "SISMEMBER", "ZCARD", "ZSCORE", "ZRANGE", "XLEN",
    ("SLOWLOG", "GET"), ("SLOWLOG", "LEN"), ("ACL", "WHOAMI"), ("ACL", "GETUSER"),
    ("MEMORY", "USAGE"), ("MEMORY", "STATS"),
})


def redis_command_name(args: Sequence[Any]) -> tuple[str, str]:
    """(COMMAND, SUBCOMMAND) of an execute_command call; redis-py splits a first argument
    such as ``"CONFIG SET"`` on spaces, so that form is read the same way."""
    words = [str(a) for a in args[:2]]
    if words:
        words = words[0].split() + words[1:]
    words = [w.upper() for w in words]
    return (words[0] if words else "", words[1] if len(words) > 1 else "")


class ReadOnlyRedis:
    """The Redis a read step sees: reading methods and commands only."""

    def __init__(self, client: Any):
        self._client = client

    def __getattr__(self, name: str) -> Any:
        if name in REDIS_READ_METHODS:
            return getattr(self._client, name)
        raise NotPermitted(f"redis {name}() is not a read; a step that needs it must be a "
                           "change step (ctx.mutations.redis_command)")

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        command, sub = redis_command_name(args)
        if command not in REDIS_READ_COMMANDS and (command, sub) not in REDIS_READ_COMMANDS:
            shown = f"{command} {sub}".strip()
            raise NotPermitted(f"redis {shown} is not a read; a step that needs it must be a "
                               "change step (ctx.mutations.redis_command)")
        return await self._client.execute_command(*args, **options)


# ---- PostgreSQL ------------------------------------------------------------------------
class ReadOnlyPostgres:
    """The PostgreSQL a read step sees: queries, each in a READ ONLY transaction."""

    def __init__(self, conn: Any):
        self._conn = conn

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        async with self._conn.transaction(readonly=True):
            return await self._conn.fetch(query, *args, timeout=timeout)

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        async with self._conn.transaction(readonly=True):
            return await self._conn.fetchrow(query, *args, timeout=timeout)

    async def fetchval(self, query: str, *args: Any, column: int = 0,
                       timeout: float | None = None) -> Any:
        async with self._conn.transaction(readonly=True):
            return await self._conn.fetchval(query, *args, column=column, timeout=timeout)


# ---- exec in a pod ---------------------------------------------------------------------
READ_ONLY_SESSION = re.compile(
    r"^\s*SET\s+(SESSION\s+)?default_transaction_read_only\s*(=|TO)\s*'?(on|true)'?\s*;?\s*$",
    re.IGNORECASE)
READ_STATEMENT = re.compile(r"^\s*(SELECT|WITH|TABLE|VALUES|SHOW)\b", re.IGNORECASE)
# functions that act even inside a read-only transaction (or lift it)
SIDE_EFFECTS = re.compile(
    r"\b(set_config|pg_terminate_backend|pg_cancel_backend|pg_reload_conf|pg_stat_reset\w*|"
    r"pg_rotate_logfile|pg_switch_wal|pg_create_\w+|pg_drop_\w+|pg_promote|lo_\w+|dblink\w*|"
    r"pg_advisory\w*|pg_notify|nextval|setval|pg_file_write)\s*\(", re.IGNORECASE)
PSQL_WRITING_OPTIONS = ("-f", "--file", "-o", "--output", "-L", "--log-file")


def _psql_problem(argv: Sequence[str]) -> str | None:
    statements: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg in ("-c", "--command"):
            if i + 1 >= len(argv):
                return "psql -c without a command"
            statements.append(argv[i + 1])
            i += 2
            continue
        if arg.startswith("--command="):
            statements.append(arg.split("=", 1)[1])
        elif arg.startswith("-c"):
            statements.append(arg[2:])
        elif arg.startswith(PSQL_WRITING_OPTIONS):
            return f"psql {arg} reads or writes a file"
        i += 1
    if not statements or not READ_ONLY_SESSION.match(statements[0]):
        return "psql must first make the session read-only (-c 'SET " \
               "default_transaction_read_only = on')"
    for statement in statements[1:]:
        body = statement.strip().rstrip(";")
        if ";" in body:
            return f"{statement[:40]!r} is more than one statement"
        if not READ_STATEMENT.match(body):
            return f"{statement[:40]!r} is not a reading statement (SELECT, WITH, TABLE, " \
                   "VALUES, SHOW)"
        if SIDE_EFFECTS.search(body):
            return f"{statement[:40]!r} calls a function that acts even when read-only"
    return None


def read_exec_problem(command: Sequence[str]) -> str | None:
    """Why a read step may not exec ``command`` in a pod, or None if it only reads."""
    if not command:
        return "no command"
    program = str(command[0]).rsplit("/", 1)[-1]
    if program == "pg_isready":
        return None
    if program == "psql":
        return _psql_problem([str(a) for a in command])
    return f"{program!r} is not a read-only command"
