"""Exec handlers that run a real local program, for the sandbox's database pods.

``kubectl exec deploy/postgres-production-primary -- psql -c "SELECT 1"`` should run the
real ``psql`` against the sandbox's PostgreSQL, so that a recovery rehearsal restores real
data. :func:`subprocess_handler` builds such a handler: it maps the exec'd command to a
local argument list (never a shell string), streams stdin in and stdout/stderr out as the
program produces them, and returns the program's exit code. If the client goes away the
handler is cancelled and the program is killed.

Register it for the pods and programs it should answer, e.g.::

    register_exec_handler(cluster, postgres_client_handler(host="127.0.0.1", port=5432,
                          user="postgres", database="test"),
                          name_prefix="postgres-", commands=POSTGRES_PROGRAMS)
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Mapping

from .exec_handlers import ExecContext, ExecHandler

ArgvRewrite = Callable[[list[str]], "list[str] | None"]

POSTGRES_PROGRAMS = frozenset({"psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_isready"})
READ_SIZE = 64 * 1024
# stdin's pipe holds this much (Linux's default is 64 KiB): a program reading its stdin
# as fast as a local file (pg_restore) keeps a cushion while the emulator's event loop is
# busy elsewhere, instead of stalling every time 64 KiB are used up
STDIN_PIPE_SIZE = 1024 * 1024


def exit_status(returncode: int) -> int:
    """A process's exit code as a shell reports it: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode & 0xFF


def subprocess_handler(
    argv_rewrite: ArgvRewrite,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> ExecHandler:
    """A handler running ``argv_rewrite(command)`` as a local process.

    ``argv_rewrite`` returns the argument list to run (its first item is looked up on
    PATH) or None when this handler should answer "command not found". ``env`` is added
    to the emulator's own environment."""

    async def handler(ctx: ExecContext) -> int:
        argv = argv_rewrite(list(ctx.command))
        if not argv:
            await ctx.stderr.write(f"{ctx.program}: command not found\n")
            return 127
        program = shutil.which(argv[0]) or argv[0]
        try:
            proc = await asyncio.create_subprocess_exec(
                program,
                *argv[1:],
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env={**os.environ, **(env or {})},
                cwd=cwd,
            )
        except FileNotFoundError:
            await ctx.stderr.write(f"{ctx.program}: command not found\n")
            return 127
        except PermissionError:
            await ctx.stderr.write(f"{ctx.program}: permission denied\n")
            return 126
        return await _supervise(ctx, proc)

    return handler


async def _supervise(ctx: ExecContext, proc: asyncio.subprocess.Process) -> int:
    async def copy_out(stream: asyncio.StreamReader, write) -> None:
        while chunk := await stream.read(READ_SIZE):
            await write(chunk)

    async def copy_in() -> None:
        assert proc.stdin is not None
        enlarge_pipe(proc.stdin)
        try:
            async for chunk in ctx.stdin:
                proc.stdin.write(chunk)
                await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            with contextlib.suppress(Exception):
                proc.stdin.close()

    feeder = asyncio.create_task(copy_in())
    try:
        assert proc.stdout is not None and proc.stderr is not None
        await asyncio.gather(
            copy_out(proc.stdout, ctx.stdout.write), copy_out(proc.stderr, ctx.stderr.write)
        )
        return exit_status(await proc.wait())
    finally:
        feeder.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()


def enlarge_pipe(writer: asyncio.StreamWriter, size: int = STDIN_PIPE_SIZE) -> None:
    """Give the pipe behind ``writer`` room for ``size`` bytes where the system allows it
    (Linux, up to /proc/sys/fs/pipe-max-size); elsewhere the pipe keeps its size."""
    pipe = writer.transport.get_extra_info("pipe")
    setter = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is None or setter is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), setter, size)


def postgres_client_handler(
    *,
    host: str,
    port: int = 5432,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
) -> ExecHandler:
    """A handler running the local PostgreSQL client programs against one server.

    The connection goes in the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
    PGDATABASE), so options the operator types (``-d other_db``) still win, exactly as
    inside a real postgres pod whose defaults point at its own server."""
    env = {"PGHOST": host, "PGPORT": str(port)}
    if user:
        env["PGUSER"] = user
    if password:
        env["PGPASSWORD"] = password
    if database:
        env["PGDATABASE"] = database

    def rewrite(command: list[str]) -> list[str] | None:
        program = os.path.basename(command[0]) if command else ""
        return [program, *command[1:]] if program in POSTGRES_PROGRAMS else None

    return subprocess_handler(rewrite, env=env)
