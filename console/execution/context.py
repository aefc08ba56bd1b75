"""The context a step runs in: read access always, the means to change things only if granted.

A wizard run owns one :class:`Clients` (connections built lazily, the first time a step
asks, and closed at the end). Steps never see it: :class:`WizardContext` keeps it private
and hands out surfaces that can only look — ``await ctx.kube()`` (a reader whose API client
is private), ``await ctx.postgres()`` (queries in READ ONLY transactions) and
``ctx.redis()`` (reading commands only), see :mod:`.read_access`. ``ctx.mutations`` — the
Kubernetes writer, a writable SQL
connection, local programs such as helm — exists only while the executor has granted it to
a ``change`` or ``destructive`` step, after the read-only check and the confirmation;
anywhere else it raises :class:`NotPermitted`. Nothing is connected before a step asks, so
a step refused in read-only mode never touches a client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .kube import KubeReader, KubeWriter, api_client
from .process import Process
from .read_access import NotPermitted, ReadOnlyPostgres, ReadOnlyRedis
from .redaction import Redactor

__all__ = ["Clients", "Mutations", "NotPermitted", "WizardContext"]

# local programs a read step may run: program -> allowed first arguments (None = any)
READ_PROGRAMS: dict[str, frozenset[str] | None] = {
    "openssl": frozenset({"s_client", "x509", "version"}),
    "helm": frozenset({"status", "list", "get", "history", "version"}),
    "pg_dump": None,  # reads the database; the dump goes where the step says
    "pg_restore": frozenset({"--list", "-l"}),
}


class Clients:
    """Lazily-built connections for one wizard run, shared by its steps."""

    def __init__(self, env: Any):
        self.env = env
        self._kube_api: Any = None
        self._postgres: Any = None
        self._postgres_rw: Any = None
        self._redis: Any = None
        self.opened: list[str] = []  # what was connected, in order (shown in diagnostics)

    async def kube_api(self) -> Any:
        if self._kube_api is None:
            self._kube_api = await api_client(self.env.kubernetes)
            self.opened.append("kubernetes")
        return self._kube_api

    async def postgres(self) -> Any:
        if self._postgres is None:
            from console.sources.postgres import connect

            self._postgres = await connect(self.env.postgres)
            self.opened.append("postgres")
        return self._postgres

    async def postgres_writable(self) -> Any:
        if self._postgres_rw is None:
            import asyncpg

            from console.config.secrets import secret
            from console.sources.postgres import APPLICATION_NAME

            settings = self.env.postgres
            self._postgres_rw = await asyncpg.connect(
                settings.dsn, password=secret(settings.password_env), timeout=5.0,
                server_settings={"application_name": APPLICATION_NAME + "-action",
                                 "statement_timeout": str(settings.statement_timeout_ms)})
            self.opened.append("postgres (writable)")
        return self._postgres_rw

    def redis(self) -> Any:
        if self._redis is None:
            from console.sources.redis import client

            self._redis = client(self.env.redis)
            self.opened.append("redis")
        return self._redis

    async def close(self) -> None:
        for name in ("_kube_api", "_postgres", "_postgres_rw"):
            conn = getattr(self, name)
            if conn is not None:
                setattr(self, name, None)
                try:
                    await conn.close()
                except Exception:  # closing a broken connection must not mask the result
                    pass
        if self._redis is not None:
            redis, self._redis = self._redis, None
            try:
                await redis.aclose()
            except Exception:
                pass


class Mutations:
    """What a granted step may change. Built by the executor, never by a step."""

    def __init__(self, clients: Clients, step_id: str):
        self._clients = clients
        self.step_id = step_id

    async def kube(self) -> KubeWriter:
        return KubeWriter(await self._clients.kube_api(), self._clients.env.kubernetes)

    async def sql(self, statement: str, *args: Any) -> str:
        """Run one statement on the primary (a writable connection); returns its status."""
        conn = await self._clients.postgres_writable()
        return await conn.execute(statement, *args)

    async def redis_command(self, *args: Any) -> Any:
        return await self._clients.redis().execute_command(*args)

    def process(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                cwd: str | None = None) -> Process:
        """A local program (helm, pg_restore...), argument list only, output streamed."""
        return Process(argv, env=env, cwd=cwd)


class WizardContext:
    """The StepContext of console.execution.model, as the executor provides it."""

    def __init__(self, *, config: Any, env_name: str, env: Any, read_only: bool,
                 clients: Clients, redactor: Redactor,
                 values: Mapping[str, Any] | None = None):
        self.config = config
        self.env_name = env_name
        self.env = env
        self.read_only = read_only
        self._clients = clients  # raw connections: for Mutations only, never for a step
        self.redactor = redactor
        self.values: dict[str, Any] = dict(values or {})
        self.cache: dict[str, Any] = {}  # per-run scratch space shared by steps (e.g. results)
        self._granted: Mutations | None = None
        self.step_id: str | None = None

    async def kube(self) -> KubeReader:
        return KubeReader(await self._clients.kube_api(), self.env.kubernetes)

    async def postgres(self) -> ReadOnlyPostgres:
        return ReadOnlyPostgres(await self._clients.postgres())

    def redis(self) -> ReadOnlyRedis:
        return ReadOnlyRedis(self._clients.redis())

    def read_process(self, argv: Sequence[str]) -> Process:
        """A local program that only reads (see READ_PROGRAMS)."""
        argv = list(argv)
        allowed = READ_PROGRAMS.get(argv[0].rsplit("/", 1)[-1]) if argv else frozenset()
        if argv and argv[0].rsplit("/", 1)[-1] in READ_PROGRAMS and (
                allowed is None or (len(argv) > 1 and argv[1] in allowed)):
            return Process(argv)
        raise NotPermitted(f"{' '.join(argv[:2])!r} is not a read-only program; a step that "
                           "runs it must be a change step (ctx.mutations.process)")

    @property
    def mutations(self) -> Mutations:
        if self._granted is None:
            raise NotPermitted(
                f"step {self.step_id or '?'} was not granted the means to change anything "
                "(read step, read-only mode, or not confirmed)")
        return self._granted

    # ---- used by the executor only ---------------------------------------------------
    def _grant(self, step_id: str) -> None:
        self._granted = Mutations(self._clients, step_id)

    def _revoke(self) -> None:
        self._granted = None
