"""The context a step runs in: read access always, the means to change things only if granted.

A wizard run owns one :class:`Clients` (connections built lazily, the first time a step
asks, and closed at the end). Steps never see it: :class:`StepContext` keeps it private and
hands out surfaces that can only look, and — only while the executor has granted it to a
``change`` or ``destructive`` step, after the read-only check and the confirmation —
:class:`Mutations`, one writer per system. Anywhere else ``ctx.mutations`` raises
:class:`NotPermitted`. Nothing is connected before a step asks, so a step refused in
read-only mode never touches a client.

What a step gets (every wizard function takes a ``StepContext``):

=============================  ==============================================================
``env_name``, ``env``          the environment's name and its settings (:class:`Environment`)
``config``                     the whole configuration (:class:`Config`)
``values``                     the wizard's answers, parsed and validated
``read_only``                  read-only mode (the executor refuses change steps in it)
``cache``                      per-run scratch space shared by the steps
``operator``                   who runs the wizard (user, host, SSH client)
``await kube()``               :class:`KubeReader`: typed views, raw JSON reads, read-only exec
``await postgres()``           queries in READ ONLY transactions
``redis()``                    reading commands only
``await aws()``                AWS reads: RDS, Route53, S3, EC2 (``AwsReader``)
``read_process(argv)``         a local program that only reads (``helm list``, ``openssl``)
``await collect(component)``   the dashboard's collector of one component: its snapshot
``await health(component)``    that snapshot judged by the environment's thresholds
``note(text, **data)``         a ``note`` record in the session log (previous values, who
                               confirmed what), fsynced
``mutations``                  granted change steps only: the writers (:class:`Mutations`)
=============================  ==============================================================
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from console.collectors.base import Snapshot
from console.config.model import Config, Environment
from console.health.evaluate import ComponentHealth
from console.identity import Operator, current_operator

from .child_env import child_environment
from .kube import KubeApi, KubeReader, KubeWriter
from .process import Process
from .read_access import NotPermitted, ReadOnlyPostgres, ReadOnlyRedis
from .redaction import Redactor

if TYPE_CHECKING:  # the writers of console/execution/writers (imported when first asked)
    import asyncpg

    from console.collectors.registry import Collector

    from .session_log import SessionLog
    from .writers.aws import AwsReader, AwsWriter
    from .writers.http import WebhookWriter
    from .writers.redis import RedisWriter
    from .writers.sql import SqlWriter

__all__ = ["Clients", "Mutations", "NotPermitted", "StepContext", "WizardContext"]

# local programs a read step may run: program -> allowed first arguments (None = any)
READ_PROGRAMS: dict[str, frozenset[str] | None] = {
    "openssl": frozenset({"s_client", "x509", "version"}),
    "helm": frozenset({"status", "list", "get", "history", "version"}),
    "pg_dump": None,  # reads the database; the dump goes where the step says
    # --file=/dev/null reads every data block of an archive and writes nowhere: the check
    # that a dump is not cut off (its table of contents alone lists fine)
    "pg_restore": frozenset({"--list", "-l", "--file=/dev/null"}),
}
COMPONENTS = ("service", "pods", "database", "cache", "backups")


class Clients:
    """Lazily-built connections for one wizard run, shared by its steps."""

    def __init__(self, env: Environment):
        self.env = env
        self._kube: KubeApi | None = None
        self._postgres: Any = None
        self._postgres_rw: dict[str, Any] = {}
        self._redis: Any = None
        self._aws: AwsReader | None = None
        self._aws_writer: Any = None
        self._collectors: dict[str, Collector] = {}
        self.opened: list[str] = []  # what was connected, in order (shown in diagnostics)

    def kube(self) -> KubeApi:
        """The run's one Kubernetes client stack (reader, writer and pods/backups collectors
        share it); the connection itself opens at the first request."""
        if self._kube is None:
            self._kube = KubeApi(self.env.kubernetes)
            self.opened.append("kubernetes")
        return self._kube

    async def postgres(self) -> Any:
        if self._postgres is None:
            from console.sources.postgres import connect, describe_dsn

            try:
                self._postgres = await connect(self.env.postgres)
            except TimeoutError:  # asyncpg's says nothing; name what did not answer
                raise TimeoutError(f"PostgreSQL {describe_dsn(self.env.postgres.dsn)} did not "
                                   "answer in time") from None
            self.opened.append("postgres")
        return self._postgres

    async def postgres_writable(self, role: str = "action") -> asyncpg.Connection:
        """The run's writable connection to the primary (``role="monitor"``: a second one,
        for the SQL writer's progress queries while a statement runs)."""
        conn = self._postgres_rw.get(role)
        if conn is None or conn.is_closed():
            import asyncpg

            from console.config.secrets import secret
            from console.sources.postgres import APPLICATION_NAME

            settings = self.env.postgres
            conn = await asyncpg.connect(
                settings.dsn, password=secret(settings.password_env), timeout=5.0,
                server_settings={"application_name": f"{APPLICATION_NAME}-{role}",
                                 "statement_timeout": str(settings.statement_timeout_ms)})
            self._postgres_rw[role] = conn
            self.opened.append(f"postgres ({role}, writable)")
        return conn

    async def postgres_monitor(self) -> asyncpg.Connection:
        return await self.postgres_writable("monitor")

    def redis(self) -> Any:
        if self._redis is None:
            from console.sources.redis import client

            self._redis = client(self.env.redis)
            self.opened.append("redis")
        return self._redis

    def aws(self) -> AwsReader:
        if self._aws is None:
            from .writers.aws import AwsReader

            # 60 s for each read of a dump's body (it streams for minutes); each call
            # itself is bounded by aws.request_timeout
            self._aws = AwsReader(self.env.aws, timeout=60.0)
            self.opened.append("aws")
        return self._aws

    async def aws_writer(self) -> AwsWriter:
        if self._aws_writer is None:
            from .writers.aws import AwsWriter  # an AwsReader that also writes

            self._aws_writer = AwsWriter(self.env.aws)
            self.opened.append("aws (writer)")
        writer: AwsWriter = self._aws_writer
        return writer

    def collector(self, component: str, timeout: float) -> Collector:
        """The dashboard's collector of one component, built once per run."""
        if component not in self._collectors:
            from console.collectors.registry import build_collector

            kube = self.kube().source if component in ("pods", "backups") else None
            self._collectors[component] = build_collector(self.env, component,
                                                          timeout=timeout, kube=kube)
            self.opened.append(f"collector {component}")
        return self._collectors[component]

    async def close(self) -> None:
        """Close everything opened, each failure ignored (closing a broken connection must
        not mask the run's result)."""
        closers: list[Any] = [c.close for c in self._collectors.values()]
        closers += [c.close for c in self._postgres_rw.values()]
        for conn in (self._postgres, self._kube, self._aws):
            if conn is not None:
                closers.append(conn.close)
        if self._aws_writer is not None:
            closers.append(self._aws_writer.close)
        if self._redis is not None:
            closers.append(self._redis.aclose)
        self._collectors, self._postgres_rw, self._postgres = {}, {}, None
        self._kube = self._aws = self._aws_writer = self._redis = None
        for close in closers:
            try:
                await close()
            except Exception:  # noqa: BLE001, S110 - see the docstring
                pass


class Mutations:
    """What a granted step may change: one writer per system. Built by the executor's
    grant, never by a step; each writer is imported and connected when first asked for."""

    def __init__(self, clients: Clients, step_id: str):
        self._clients = clients
        self.step_id = step_id

    async def kube(self) -> KubeWriter:
        """The Kubernetes writer (:class:`~console.execution.kube.writer.KubeWriter`)."""
        api = self._clients.kube()
        settings = self._clients.env.kubernetes
        return KubeWriter(api, settings, KubeReader(api, settings))

    async def aws(self) -> AwsWriter:
        """RDS, Route53, S3 and EC2 changes (``console/execution/writers/aws.py``)."""
        return await self._clients.aws_writer()

    async def sql(self) -> SqlWriter:
        """Statements on the primary: validated identifiers, statements outside a
        transaction, cancel/terminate (``console/execution/writers/sql.py``)."""
        from .writers.sql import SqlWriter

        return SqlWriter(self._clients.postgres_writable, monitor=self._clients.postgres_monitor)

    async def redis(self, *, risk: Literal["change", "destructive"] = "change") -> RedisWriter:
        """Redis commands on the allow-list of ``risk`` (``console/execution/writers/redis.py``)."""
        from .writers.redis import RedisWriter

        return RedisWriter(self._clients.redis(), risk=risk)

    async def http(self) -> WebhookWriter:
        """Webhook posts (Slack, status page) to the URLs the environment's notification
        settings name (``console/execution/writers/http.py``)."""
        from .writers.http import WebhookWriter

        return WebhookWriter(self._clients.env.notifications)

    def process(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                cwd: str | None = None) -> Process:
        """A local program (helm, pg_restore...), argument list only, output streamed;
        no secret variable of the config in its environment (:mod:`.child_env`)."""
        return Process(argv, env=child_environment(self._clients.env, env), cwd=cwd)


class StepContext:
    """What the executor hands to a step's ``plan``, ``run`` and ``verify`` (see the table
    in the module's docstring)."""

    def __init__(self, *, config: Config, env_name: str, env: Environment, read_only: bool,
                 clients: Clients, redactor: Redactor,
                 values: Mapping[str, Any] | None = None, operator: Operator | None = None):
        self.config = config
        self.env_name = env_name
        self.env = env
        self.read_only = read_only
        self._clients = clients  # raw connections: for Mutations only, never for a step
        self.redactor = redactor
        self.operator = operator or current_operator()
        self.values: dict[str, Any] = dict(values or {})
        self.cache: dict[str, Any] = {}  # per-run scratch space shared by steps (e.g. results)
        self._granted: Mutations | None = None
        self._log: SessionLog | None = None
        self._snapshots: dict[str, tuple[float, Snapshot]] = {}
        self.step_id: str | None = None

    # ---- reads ---------------------------------------------------------------------------
    async def kube(self) -> KubeReader:
        return KubeReader(self._clients.kube(), self.env.kubernetes)

    async def postgres(self) -> ReadOnlyPostgres:
        return ReadOnlyPostgres(await self._clients.postgres())

    def redis(self) -> ReadOnlyRedis:
        return ReadOnlyRedis(self._clients.redis())

    async def aws(self) -> AwsReader:
        """AWS reads: RDS, Route53, S3 and EC2 (``console/execution/writers/aws.py``)."""
        return self._clients.aws()

    def read_process(self, argv: Sequence[str], *,
                     env: Mapping[str, str] | None = None) -> Process:
        """A local program that only reads (see READ_PROGRAMS); ``env``: its whole
        environment, less the secret variables of the config (a password goes in a file,
        :mod:`.pgpass`; never in argv)."""
        argv = list(argv)
        program = argv[0].rsplit("/", 1)[-1] if argv else ""
        allowed = READ_PROGRAMS.get(program, frozenset())
        if program in READ_PROGRAMS and (allowed is None or (len(argv) > 1 and argv[1] in allowed)):
            return Process(argv, env=child_environment(self.env, env))
        raise NotPermitted(f"{' '.join(argv[:2])!r} is not a read-only program; a step that "
                           "runs it must be a change step (ctx.mutations.process)")

    async def collect(self, component: str, *, timeout: float | None = None,
                      max_age: float = 0.0) -> Snapshot:
        """One collection of ``component`` (service, pods, database, cache, backups) by the
        dashboard's own collector — only that one is built — bounded by ``timeout``
        (default: ``ui.source_timeout_seconds``). A snapshot this run took less than
        ``max_age`` seconds ago is reused (steps sharing one look)."""
        if component not in COMPONENTS:
            raise KeyError(f"no component {component!r}; known: {', '.join(COMPONENTS)}")
        kept = self._snapshots.get(component)
        if kept is not None and time.monotonic() - kept[0] < max_age:
            return kept[1]
        from console.collectors.registry import collect_bounded

        bound = timeout or self.config.ui.source_timeout_seconds
        snapshot = await collect_bounded(component, self._clients.collector(component, bound),
                                         bound)
        self._snapshots[component] = (time.monotonic(), snapshot)
        return snapshot

    async def health(self, component: str, *, timeout: float | None = None,
                     max_age: float = 0.0) -> ComponentHealth:
        """``component`` collected (see :meth:`collect`) and judged by the environment's
        thresholds, as the dashboard and ``mcp-ops check`` judge it."""
        from console.health.evaluate import evaluate_component

        snapshot = await self.collect(component, timeout=timeout, max_age=max_age)
        return evaluate_component(component, snapshot, self.env.thresholds)

    def note(self, text: str, **data: Any) -> None:
        """A ``note`` record in the session log, fsynced, with this step's id: previous
        values for an undo, who confirmed which checklist item. Redacted like every record."""
        if self._log is not None and not self._log.closed:
            self._log.append("note", {"step_id": self.step_id, "text": text, **data},
                             sync=True)

    @property
    def mutations(self) -> Mutations:
        if self._granted is None:
            raise NotPermitted(
                f"step {self.step_id or '?'} was not granted the means to change anything "
                "(read step, read-only mode, or not confirmed)")
        return self._granted

    # ---- used by the executor and the session only ---------------------------------------
    def _attach_log(self, log: SessionLog) -> None:
        self._log = log

    def _grant(self, step_id: str) -> None:
        self._granted = Mutations(self._clients, step_id)

    def _revoke(self) -> None:
        self._granted = None


WizardContext = StepContext  # the name the executor and the session used before
