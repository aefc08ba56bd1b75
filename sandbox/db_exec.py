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
  the pod, so they are mapped into the sandbox's own "pod filesystem" directory, where the
  latest S3 dump is placed as ``/backup/latest-backup.sql`` for the recovery rehearsal.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .kube.exec_handlers import ExecHandler
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
    return subprocess_handler(rewrite, env=env)


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
