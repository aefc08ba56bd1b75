"""What ``psql``, ``pg_dump``, ``pg_restore`` and ``redis-cli`` do when exec'd into a
sandbox pod: they run for real, against the sandbox's PostgreSQL and Redis.

Inside a real database pod these programs reach the pod's own server with the pod's
defaults, and the runbook names the database ``pratiko_mcp_production``. Here the command
line is translated before the local program runs (always as an argument list):

- connection options the operator typed (``-h``, ``-p``, ``-U`` and their long forms)
  are dropped: inside the pod they can only mean "this server", which is the sandbox's;
- the database name ``pratiko_mcp_production`` (as ``-d``, ``--dbname`` or the
  positional argument) becomes the sandbox's real database, which on a shared server
  carries a suffix so that two sandboxes never meet;
- absolute file paths (``/backup/latest-backup.sql``, ``-f /tmp/dump.sql``) are paths in
  the pod, so they are mapped into the sandbox's own "pod filesystem" directory.

The sandbox is no kinder than the real image (:func:`pod_identity`): ``kubectl exec`` runs
as ``root``, so a ``psql``/``pg_dump``/``pg_restore -d`` without ``-U`` connects as the
role ``root`` unless the pod's own environment sets ``PGUSER``, and without ``-d`` to the
database named like the user unless it sets ``PGDATABASE``. The server in the pod knows
only its ``POSTGRES_USER`` role (``postgres`` when unset) and its ``POSTGRES_DB`` (named
like the role when unset, plus ``postgres`` and ``template1``); anything else fails with the
server's own message, as in production (a database created later by hand is not known).
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Any

from .kube.exec_handlers import ExecContext, ExecHandler
from .kube.exec_subprocess import POSTGRES_PROGRAMS, subprocess_handler

RUNBOOK_DATABASE = "pratiko_mcp_production"

# options of the PostgreSQL clients that take a value (short letter -> long name)
_VALUED = {
    "psql": {"c": "command", "d": "dbname", "f": "file", "h": "host", "L": "log-file",
             "o": "output", "p": "port", "P": "pset", "R": "record-separator",
             "F": "field-separator", "T": "table-attr", "U": "username", "v": "variable"},
    "pg_dump": {"d": "dbname", "E": "encoding", "f": "file", "F": "format", "h": "host",
                "j": "jobs", "n": "schema", "N": "exclude-schema", "p": "port", "S": "superuser",
                "t": "table", "T": "exclude-table", "U": "username", "Z": "compress"},
    "pg_restore": {"d": "dbname", "f": "file", "F": "format", "h": "host", "I": "index",
                   "j": "jobs", "L": "use-list", "n": "schema", "N": "exclude-schema",
                   "p": "port", "P": "function", "S": "superuser", "t": "table",
                   "T": "trigger", "U": "username"},
}
_VALUED["pg_dumpall"] = {k: v for k, v in _VALUED["pg_dump"].items() if k not in "dnNtTjZF"}
_VALUED["pg_isready"] = {"d": "dbname", "h": "host", "p": "port", "t": "timeout",
                         "U": "username"}
_CONNECTION = {"host", "port", "username"}
_PATHS = {"file", "log-file", "output", "use-list"}


class PodFiles:
    """Maps absolute paths inside a pod to a directory of the sandbox."""

    def __init__(self, root: Path):
        self.root = root

    def local(self, pod_path: str) -> str:
        if not pod_path.startswith("/") or pod_path.startswith("/dev/"):
            return pod_path
        target = self.root / pod_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        return str(target)


def translate_postgres(command: list[str], *, database: str, files: PodFiles) -> list[str]:
    """The local argument list for a PostgreSQL client command typed in a pod (program
    name first, without directory); raises ValueError for a program we do not run."""
    program = os.path.basename(command[0]) if command else ""
    if program not in POSTGRES_PROGRAMS:
        raise ValueError(program)
    valued = _VALUED[program]
    long_valued = set(valued.values())
    out: list[str] = [program]
    positionals: list[str] = []
    args = iter(command[1:])
    for arg in args:
        name = value = None
        if arg.startswith("--") and len(arg) > 2:
            key, eq, inline = arg[2:].partition("=")
            if key in long_valued:
                name, value = key, inline if eq else next(args, "")
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 1:
            # a group of flags, the last of which may take a value: -tAc "SELECT 1"
            flags = arg[1:]
            cut = next((i for i, ch in enumerate(flags) if ch in valued), None)
            if cut is not None:
                if cut:
                    out.append("-" + flags[:cut])
                name = valued[flags[cut]]
                value = flags[cut + 1:] or next(args, "")
        if name is None:
            if arg.startswith("-") and arg != "-":
                out.append(arg)
            else:
                positionals.append(arg)
            continue
        if name in _CONNECTION:
            continue
        if name == "dbname":
            value = database if value == RUNBOOK_DATABASE else value
        elif name in _PATHS:
            value = files.local(value)
        out.append(f"--{name}={value}")
    for i, arg in enumerate(positionals):
        if program == "pg_restore" or (program in ("psql", "pg_dump") and i > 0):
            # pg_restore's positional is the archive; psql's second is a user name (dropped)
            if program == "pg_restore":
                out.append(files.local(arg))
            continue
        out.append(database if arg == RUNBOOK_DATABASE else arg)
    return out


EXEC_USER = "root"  # kubectl exec's user in the postgres image
SOCKET = '"/var/run/postgresql/.s.PGSQL.5432"'
CONNECTING = ("psql", "pg_dump", "pg_dumpall", "pg_restore")


def _env_value(ctx: ExecContext, name: str) -> str | None:
    """An environment variable of the exec'd container as its pod spec sets it (a
    ``secretKeyRef`` read from the cluster's secret), or None."""
    spec = ctx.pod.get("spec") or {}
    containers = spec.get("containers") or []
    container = next((c for c in containers if c.get("name") == ctx.container),
                     containers[0] if containers else {})
    for var in container.get("env") or []:
        if var.get("name") != name:
            continue
        if "value" in var:
            return str(var["value"])
        ref = (var.get("valueFrom") or {}).get("secretKeyRef") or {}
        secret: Any = ctx.cluster.store.peek("secrets", ctx.namespace, ref.get("name", ""))
        raw = ((secret or {}).get("data") or {}).get(ref.get("key", ""))
        return base64.b64decode(raw).decode() if raw else None
    return None


def parse_postgres(command: list[str]) -> tuple[dict[str, str], list[str]]:
    """(valued options by long name, positional arguments) of a client command line."""
    program = os.path.basename(command[0]) if command else ""
    valued = _VALUED.get(program, {})
    long_valued = set(valued.values())
    options: dict[str, str] = {}
    positionals: list[str] = []
    args = iter(command[1:])
    for arg in args:
        if arg.startswith("--") and len(arg) > 2:
            key, eq, inline = arg[2:].partition("=")
            if key in long_valued:
                options[key] = inline if eq else next(args, "")
        elif arg.startswith("-") and len(arg) > 1:
            flags = arg[1:]
            cut = next((i for i, ch in enumerate(flags) if ch in valued), None)
            if cut is not None:
                options[valued[flags[cut]]] = flags[cut + 1:] or next(args, "")
        else:
            positionals.append(arg)
    return options, positionals


def pod_identity(ctx: ExecContext) -> str | None:
    """The server's refusal for this command in this pod, as libpq prints it, or None."""
    program = os.path.basename(ctx.command[0]) if ctx.command else ""
    if program not in CONNECTING:
        return None
    options, positionals = parse_postgres(ctx.command)
    database = options.get("dbname")
    if program == "pg_restore" and database is None:
        return None  # no -d: pg_restore writes a script, no connection
    if database is None and program in ("psql", "pg_dump") and positionals:
        database = positionals[0]
    user = (options.get("username") or (positionals[1] if program == "psql"
                                        and len(positionals) > 1 else None)
            or _env_value(ctx, "PGUSER") or EXEC_USER)
    role = _env_value(ctx, "POSTGRES_USER") or "postgres"
    if user != role:
        return (f"connection to server on socket {SOCKET} failed: FATAL:  role "
                f'"{user}" does not exist')
    if program == "pg_dumpall":
        return None
    database = database or _env_value(ctx, "PGDATABASE") or user
    if database not in {_env_value(ctx, "POSTGRES_DB") or role, "postgres", "template1"}:
        return (f"connection to server on socket {SOCKET} failed: FATAL:  database "
                f'"{database}" does not exist')
    return None


def postgres_handler(*, host: str, port: int, user: str, database: str,
                     bin_dir: Path | None, files: PodFiles) -> ExecHandler:
    """The exec handler for the database pods' PostgreSQL client programs."""

    def program_path(name: str) -> str:
        if bin_dir is not None and (bin_dir / name).exists():
            return str(bin_dir / name)
        return shutil.which(name) or name

    def rewrite(command: list[str]) -> list[str] | None:
        try:
            argv = translate_postgres(command, database=database, files=files)
        except ValueError:
            return None
        return [program_path(argv[0]), *argv[1:]]

    env = {"PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGDATABASE": database,
           "PGAPPNAME": "kubectl-exec"}
    run = subprocess_handler(rewrite, env=env)

    async def handler(ctx: ExecContext) -> int:
        refused = pod_identity(ctx)
        if refused is not None:
            program = os.path.basename(ctx.command[0])
            await ctx.stderr.write(f"{program}: error: {refused}\n")
            return 2 if program == "psql" else 1
        return await run(ctx)

    return handler


_REDIS_CONNECTION = {"-h", "-p", "-a", "-u", "-s", "--user", "--pass"}


def translate_redis_cli(command: list[str], *, host: str, port: int) -> list[str]:
    """``redis-cli ARGS`` in a Redis pod -> the local redis-cli at the sandbox's Redis."""
    out = ["redis-cli", "-h", host, "-p", str(port)]
    args = iter(command[1:])
    for arg in args:
        if arg in _REDIS_CONNECTION:
            next(args, None)
            continue
        out.append(arg)
    return out


def redis_cli_handler(*, host: str, port: int, binary: str | None) -> ExecHandler | None:
    """The exec handler for ``redis-cli`` in the Redis pods, or None when no redis-cli
    binary exists here (the emulator's built-in answers then stay in place)."""
    if binary is None:
        return None

    def rewrite(command: list[str]) -> list[str] | None:
        argv = translate_redis_cli(command, host=host, port=port)
        return [binary, *argv[1:]]

    return subprocess_handler(rewrite)
