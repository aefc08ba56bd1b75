"""Helpers shared by the wizard-engine tests (executor, session log, run command, screens).

Configs are written as real YAML files and loaded by the real loader; "trap" servers are
real TCP listeners that count connections, used to prove that a refused step never
reached a client.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import servers

from console.config import Config, load_file

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def write_config(tmp_path: Path, *, kubeconfig: str | None = None, context: str | None = None,
                 pg_dsn: str = f"postgresql://postgres@{servers.PG_HOSTPORT}/test",
                 redis_url: str = f"redis://{servers.REDIS_HOSTPORT}/0", protected: bool = False,
                 read_only: bool = False, namespace: str = "mcp-production",
                 extra_env: str = "") -> Path:
    """A one-environment ("sandbox") config with session logs under tmp_path/sessions."""
    kube = f"kubeconfig: {kubeconfig}, " if kubeconfig else f"kubeconfig: {tmp_path}/absent, "
    kube += f"context: {context}, " if context else ""
    text = textwrap.dedent(f"""\
        version: 1
        default_environment: sandbox
        session_log: {{directory: {tmp_path}/sessions}}
        environments:
          sandbox:
            protected: {str(protected).lower()}
            read_only: {str(read_only).lower()}
            kubernetes: {{{kube}namespace: {namespace}, request_timeout: 3}}
            postgres: {{dsn: "{pg_dsn}", password_env: WZ_TEST_PG_PASSWORD}}
            redis: {{url: "{redis_url}", password_env: WZ_TEST_REDIS_PASSWORD}}
            service: {{base_url: "http://127.0.0.1:9"}}
            notifications: {{slack_webhook_env: WZ_TEST_SLACK}}
        """) + extra_env
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def load_config(path: Path) -> Config:
    return load_file(path)


class Trap:
    """A TCP listener on 127.0.0.1 that accepts, counts and closes every connection."""

    def __init__(self) -> None:
        self.connections = 0
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def __aenter__(self) -> Trap:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            writer.close()

        self.server = await asyncio.start_server(accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


def trap_kubeconfig(path: Path, port: int) -> Path:
    path.write_text(textwrap.dedent(f"""\
        apiVersion: v1
        kind: Config
        clusters:
        - name: trap
          cluster: {{server: "http://127.0.0.1:{port}"}}
        users:
        - name: trap
          user: {{token: trap-token-value}}
        contexts:
        - name: trap
          context: {{cluster: trap, user: trap, namespace: mcp-production}}
        current-context: trap
        """))
    return path


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_OPS_")}
    env.update({"XDG_STATE_HOME": str(tmp_path / "state"), "KUBECACHEDIR": str(tmp_path / "kc"),
                "PYTHONPATH": str(ROOT)})
    env.update(extra)
    return env


class EmulatorProcess:
    """The Kubernetes emulator as its own process (``python -m sandbox.kube``), so
    that CLI subprocesses and the test's own loop can talk to it without sharing a loop."""

    def __init__(self, directory: Path, *, speed: float = 20.0):
        self.directory = directory
        self.kubeconfig = directory / "kubeconfig"
        self.readonly_kubeconfig = directory / "kubeconfig-readonly"
        self.speed = speed
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> EmulatorProcess:
        from sandbox.kube.auth import ADMIN_TOKEN, READONLY_TOKEN

        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [PYTHON, "-m", "sandbox.kube", "--port", "0", "--kubeconfig-out",
             str(self.kubeconfig), "--speed", str(self.speed)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        if "listening" not in line:
            self.process.kill()
            raise RuntimeError(f"emulator did not start: {line}{self.process.stdout.read()}")
        self.readonly_kubeconfig.write_text(
            self.kubeconfig.read_text().replace(ADMIN_TOKEN, READONLY_TOKEN))
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def sandbox_sql(sandbox, query: str, database: str | None = None):
    """One value from the sandbox's own PostgreSQL (``sandbox.info``: what ``mcp-ops sandbox
    serve`` printed), in ``database`` or the one the sandbox's DSN names."""
    import asyncio

    import asyncpg

    async def one():
        dsn = sandbox.info["postgres"]["dsn"]
        if database:
            dsn = dsn.rsplit("/", 1)[0] + "/" + database
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    return asyncio.run(one())
