"""Real servers for the collector, health and dashboard tests.

* :class:`HealthServer`: a real aiohttp MCP-server stand-in on a real socket, whose health
  endpoints can be made healthy, slow, failing (HTTP 500) or down, and whose ``/metrics`` is
  produced by prometheus-client from real counters and histograms.
* :func:`hung_server`: a TCP server that accepts connections and never answers, the
  "hung source" of DESIGN.md; :func:`refused_port`: a port that refuses connections.

Servers listen on port 0 and report the port they got: a port found free and then bound
again later can be taken in between by another program on this shared machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path

import servers
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

PG_DSN = f"postgresql://postgres@{servers.PG_HOSTPORT}/test"
REDIS_URL = f"redis://{servers.REDIS_HOSTPORT}/13"


@contextlib.contextmanager
def refused_port():
    """Yields a port on which connections are refused for as long as the block runs.

    A socket is bound to it but never listens: the kernel answers a connection with a
    reset, and, unlike a port that was merely free a moment ago, no other program (another
    engineer's server on this shared machine) can start listening on it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def listening_ports(pid: int) -> list[int]:
    """The TCP ports process ``pid`` listens on, from Linux's /proc: how to learn which
    port a program picked when told to listen on port 0 (so no port is chosen here, freed,
    and raced for)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
    ports = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


class HealthServer:
    """mode: healthy | slow | error | down. ``delay`` is the slow mode's latency."""

    def __init__(self) -> None:
        self.mode = "healthy"
        self.delay = 0.6
        self.registry = CollectorRegistry()
        self.requests = Counter("http_requests", "requests", ["method", "path", "status"],
                                registry=self.registry)
        self.duration = Histogram("http_request_duration_seconds", "latency",
                                  buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
                                  registry=self.registry)
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def record(self, n: int, *, status: int = 200, seconds: float = 0.02) -> None:
        """Count ``n`` requests with the given status and latency."""
        for _ in range(n):
            self.requests.labels("POST", "/mcp", str(status)).inc()
            self.duration.observe(seconds)

    async def _health(self, request: web.Request) -> web.Response:
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "error":
            return web.json_response({"status": "unhealthy"}, status=500)
        return web.json_response({"status": "healthy"})

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry),
                            content_type="text/plain", charset="utf-8")

    async def start(self, port: int = 0) -> HealthServer:
        app = web.Application()
        for path in ("/health", "/health/database", "/health/dependencies"):
            app.router.add_get(path, self._health)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]  # the one the kernel gave, for port 0
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@contextlib.asynccontextmanager
async def hung_server():
    """Yields the port of a server that accepts and then says nothing, ever."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader, writer):
        held.append(writer)
        with contextlib.suppress(Exception):
            await reader.read()  # until the client gives up

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        for w in held:
            w.close()
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


@contextlib.asynccontextmanager
async def emulator(kubeconfig_path, *, seeded: bool = True, speed: float = 1.0):
    """The project's Kubernetes API emulator in this event loop, seeded with the runbook's
    world; yields (cluster, server) after writing an admin kubeconfig to ``kubeconfig_path``."""
    from sandbox.kube.cluster import build_cluster
    from sandbox.kube.server import start_server

    cluster = build_cluster(seeded=seeded, speed=speed)
    await cluster.start()
    server = await start_server(cluster, port=0)
    server.write_kubeconfig(kubeconfig_path)
    try:
        yield cluster, server
    finally:
        await server.stop()
        await cluster.stop()


def start_moto(bucket: str = "pratiko-backups", prefix: str = "live/postgres/"):
    """A moto S3 server over HTTP with one 4 KB dump under ``prefix``; (server, url)."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()  # the port the kernel gave
    url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="eu-west-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    try:  # moto's backends live in the process: a second server sees the first's bucket
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    s3.put_object(Bucket=bucket, Key=f"{prefix}dump-1.sql.gz", Body=b"x" * 4096)
    return server, url


def live_environment(service_url: str, moto_url: str, kubeconfig, **overrides) -> dict:
    """An environment section pointing at the real services of this machine."""
    env = {
        "description": "services on this machine",
        "kubernetes": {"kubeconfig": str(kubeconfig), "request_timeout": 5},
        "postgres": {"dsn": PG_DSN},
        "redis": {"url": REDIS_URL},
        "service": {"base_url": service_url},
        "aws": {"endpoint_url": moto_url, "s3_backup_prefix": "live/postgres/"},
    }
    for key, value in overrides.items():
        env[key] = {**env.get(key, {}), **value}
    return env


class HangingProxy:
    """A TCP proxy to ``target_port`` that can be told to hang: from then on it accepts and
    holds connections but forwards nothing either way, like a database whose host froze."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hang = False
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> HangingProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader, writer) -> None:
        self._writers.append(writer)
        if self.hang:
            with contextlib.suppress(Exception):
                await reader.read()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.append(up_writer)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    async def _pipe(self, reader, writer) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while self.hang:  # frozen: hold the bytes, send nothing
                await asyncio.sleep(0.05)
            writer.write(data)
            await writer.drain()
        writer.close()

    async def stop(self) -> None:
        for w in self._writers:
            w.close()
        if self._server is not None:
            self._server.close()


@contextlib.asynccontextmanager
async def row_lock_chain(tag: str):
    """A session holding a row lock in an open transaction and one waiting for it, on a
    table of this test's own. Yields (holder, waiter, blocked): the two asyncpg connections
    and the waiter's pending UPDATE. At the end the holder is dropped (whether or not the
    test terminated it), the waiter gets its lock and the table goes."""
    import asyncpg

    holder, waiter = await asyncpg.connect(PG_DSN), await asyncpg.connect(PG_DSN)
    table = f"mcp_ops_{tag}_{os.getpid()}"
    update = f"UPDATE {table} SET id = 1 WHERE id = 1"
    await holder.execute(f"CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY)")
    await holder.execute(f"INSERT INTO {table} VALUES (1) ON CONFLICT DO NOTHING")
    await holder.execute("BEGIN")
    await holder.execute(update)
    blocked = asyncio.create_task(waiter.execute(update))
    try:
        yield holder, waiter, blocked
    finally:
        if not holder.is_closed():
            holder.terminate()  # the server rolls back: the chain ends whatever happened
        with contextlib.suppress(Exception):
            await asyncio.wait_for(blocked, 10)
        await waiter.execute(f"DROP TABLE IF EXISTS {table}")
        await waiter.close()


@contextlib.asynccontextmanager
async def select_only_role(stem: str, table: str = "accounts"):
    """A database and a login role of the test's own (unique names, dropped afterwards,
    whatever happens): the role may only SELECT ``table``, and PUBLIC has no CREATE on the
    database or its public schema. Nothing else on the shared server changes. Yields
    (dsn, role)."""
    import uuid

    import asyncpg

    tag = uuid.uuid4().hex[:8]
    db, role = f"{stem}_db_{tag}", f"{stem}_reader_{tag}"
    admin = await asyncpg.connect(PG_DSN, timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{db}"')
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        conn = await asyncpg.connect(PG_DSN.rsplit("/", 1)[0] + f"/{db}", timeout=10)
        try:
            await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
            await conn.execute(f'REVOKE CREATE ON DATABASE "{db}" FROM PUBLIC')
            await conn.execute(f"CREATE TABLE {table} (id int)")
            await conn.execute(f'GRANT SELECT ON {table} TO "{role}"')
        finally:
            await conn.close()
        yield f"postgresql://{role}@{servers.PG_HOSTPORT}/{db}", role
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


@contextlib.asynccontextmanager
async def read_only_redis_user(stem: str):
    """A Redis ACL user of the test's own that may only read (and say who it is), deleted
    afterwards. Yields its name."""
    import uuid

    import redis.asyncio as aioredis

    name = f"{stem}_{uuid.uuid4().hex[:8]}"
    admin = aioredis.Redis(host="127.0.0.1", port=servers.REDIS_PORT)
    await admin.execute_command("ACL", "SETUSER", name, "reset", "on", "nopass", "~*", "&*",
                                "-@all", "+@read", "+acl|whoami", "+acl|getuser", "+client",
                                "+ping", "+info")
    try:
        yield name
    finally:
        await admin.execute_command("ACL", "DELUSER", name)
        await admin.aclose()
