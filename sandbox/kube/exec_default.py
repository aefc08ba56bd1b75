"""The handler that answers exec when no registered one matches.

It is a small set of programs, chosen by the pod's role (``pod_roles.py``): every pod has
``env``, ``printenv``, ``hostname``, ``cat``, ``echo``, ``date``, ``sleep``, ``seq``,
``true``/``false``, ``id``/``whoami``; MCP-server pods add ``curl`` (``exec_curl.py``),
Redis pods ``redis-cli`` (``exec_redis.py``), PostgreSQL pods ``psql``/``pg_dump``/
``pg_restore``, which fail the way the real clients do when no server is reachable —
the sandbox registers real ones (``exec_subprocess.py``). Shells are refused with exit
126 (we emulate programs, not a shell); anything else is exit 127 "command not found".
"""

from __future__ import annotations

import base64
import shlex
from datetime import UTC, datetime
from typing import Any

from . import pod_roles
from .exec_curl import CurlTransport, run_curl
from .exec_handlers import ExecContext, ExecHandler
from .exec_redis import run_redis_cli

SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"}
CURL_FORMAT = (
    "     time_namelookup:  %{time_namelookup}s\\n        time_connect:  %{time_connect}s\\n"
    "     time_appconnect:  %{time_appconnect}s\\n    time_pretransfer:  %{time_pretransfer}s\\n"
    "       time_redirect:  %{time_redirect}s\\n  time_starttransfer:  %{time_starttransfer}s\\n"
    "                     ----------\\n          time_total:  %{time_total}s\\n"
)
_PG_SOCKET_ERROR = (
    '{prog}: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" '
    "failed: No such file or directory\n\tIs the server running locally and accepting "
    "connections on that socket?\n"
)
_PG_HINT = ("(emulated pod: no PostgreSQL is wired to it; the sandbox connects one with "
            "exec_subprocess.postgres_client_handler)\n")


def _files(ctx: ExecContext) -> dict[str, str]:
    files = {"/etc/hostname": ctx.pod_name + "\n",
             "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n',
             "/etc/resolv.conf": f"search {ctx.namespace}.svc.cluster.local svc.cluster.local "
                                 "cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"}
    if pod_roles.pod_role(ctx.pod, ctx.container) == pod_roles.MCP:
        files["/app/curl-format.txt"] = CURL_FORMAT
    return files


def read_pod_file(ctx: ExecContext, path: str) -> bytes | None:
    """A file of the emulated container (a relative path is under the workdir /app)."""
    files = _files(ctx)
    text = files.get(path) if path.startswith("/") else files.get("/app/" + path)
    return text.encode() if text is not None else None


_read_file = read_pod_file


def curl_handler(transport: CurlTransport) -> ExecHandler:
    """A handler whose ``curl`` in MCP-server pods gets its answers from ``transport``
    (see ``exec_curl.py``); every other command is the default handler's."""

    async def handler(ctx: ExecContext) -> int:
        if ctx.program == "curl" and pod_roles.pod_role(ctx.pod, ctx.container) == pod_roles.MCP:
            return await run_curl(ctx, lambda path: read_pod_file(ctx, path), transport)
        return await default_handler(ctx)

    return handler


def _env_value(ctx: ExecContext, item: dict[str, Any]) -> str | None:
    if "value" in item:
        return str(item["value"])
    source = item.get("valueFrom") or {}
    if "fieldRef" in source:
        path = source["fieldRef"].get("fieldPath", "")
        return {"metadata.name": ctx.pod_name, "metadata.namespace": ctx.namespace,
                "spec.nodeName": ctx.pod.get("spec", {}).get("nodeName", ""),
                "status.podIP": ctx.pod.get("status", {}).get("podIP", "")}.get(path)
    for ref_key, resource in (("secretKeyRef", "secrets"), ("configMapKeyRef", "configmaps")):
        ref = source.get(ref_key)
        if ref:
            obj = ctx.cluster.store.peek(resource, ctx.namespace, ref.get("name", "")) or {}
            if resource == "secrets" and ref.get("key") in (obj.get("data") or {}):
                return base64.b64decode(obj["data"][ref["key"]]).decode(errors="replace")
            return (obj.get("stringData") or obj.get("data") or {}).get(ref.get("key"))
    return None


def _env_from(ctx: ExecContext, source: dict[str, Any]) -> dict[str, str]:
    """All keys of the ConfigMap or Secret an ``envFrom`` entry names, with its prefix."""
    prefix = source.get("prefix", "")
    for ref_key, resource in (("configMapRef", "configmaps"), ("secretRef", "secrets")):
        ref = source.get(ref_key)
        if not ref:
            continue
        obj = ctx.cluster.store.peek(resource, ctx.namespace, ref.get("name", "")) or {}
        data = dict(obj.get("data") or {})
        if resource == "secrets":
            data = {k: base64.b64decode(v).decode(errors="replace") for k, v in data.items()}
        return {prefix + k: str(v) for k, v in data.items()}
    return {}


def environment(ctx: ExecContext) -> dict[str, str]:
    """The container's environment: Kubernetes' own variables plus the pod spec's."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOSTNAME": ctx.pod_name, "HOME": "/root",
           "KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443",
           "KUBERNETES_PORT": "tcp://10.96.0.1:443"}
    for container in ctx.pod.get("spec", {}).get("containers", []):
        if container.get("name") == ctx.container:
            for source in container.get("envFrom") or []:
                env.update(_env_from(ctx, source))
            for item in container.get("env") or []:
                value = _env_value(ctx, item)
                if value is not None:
                    env[item["name"]] = value
    return env


async def _cat(ctx: ExecContext, args: list[str]) -> int:
    if not args or args == ["-"]:
        async for chunk in ctx.stdin:
            await ctx.stdout.write(chunk)
        return 0
    status = 0
    for path in args:
        data = _read_file(ctx, path)
        if data is None:
            await ctx.stderr.write(f"cat: {path}: No such file or directory\n")
            status = 1
        else:
            await ctx.stdout.write(data)
    return status


async def _seq(ctx: ExecContext, args: list[str]) -> int:
    try:
        numbers = [int(a) for a in args]
    except ValueError:
        await ctx.stderr.write(f"seq: invalid argument: {shlex.join(args)}\n")
        return 1
    first, last = (1, numbers[0]) if len(numbers) == 1 else (numbers[0], numbers[-1])
    batch: list[str] = []
    for n in range(first, last + 1):
        batch.append(f"{n}\n")
        if len(batch) >= 2000:
            await ctx.stdout.write("".join(batch))
            batch.clear()
    await ctx.stdout.write("".join(batch))
    return 0


async def default_handler(ctx: ExecContext) -> int:
    if not ctx.command:
        await ctx.stderr.write("error: you must specify at least one command for the container\n")
        return 1
    prog, args = ctx.program, ctx.command[1:]
    role = pod_roles.pod_role(ctx.pod, ctx.container)
    if prog in SHELLS:
        await ctx.stderr.write(
            f"{prog}: this emulated container runs programs, not a shell; exec the program "
            f"directly, e.g. kubectl exec {ctx.pod_name} -- env\n")
        return 126
    if prog in ("env", "printenv"):
        env = environment(ctx)
        wanted = [k for k in args if not k.startswith("-")] if prog == "printenv" else []
        if wanted:
            await ctx.stdout.write("".join(f"{env[k]}\n" for k in wanted if k in env))
            return 0 if all(k in env for k in wanted) else 1
        await ctx.stdout.write("".join(f"{k}={v}\n" for k, v in env.items()))
        return 0
    simple = {"hostname": ctx.pod_name + "\n", "whoami": "root\n",
              "id": "uid=0(root) gid=0(root) groups=0(root)\n", "true": "",
              "echo": " ".join(a for a in args if a != "-n") + ("" if "-n" in args else "\n"),
              "date": datetime.fromtimestamp(ctx.cluster.clock.now(), UTC)
              .strftime("%a %b %d %H:%M:%S UTC %Y\n")}
    if prog in simple:
        await ctx.stdout.write(simple[prog])
        return 0
    if prog == "false":
        return 1
    if prog == "cat":
        return await _cat(ctx, args)
    if prog == "seq":
        return await _seq(ctx, args)
    if prog == "sleep":
        try:
            seconds = float(args[0].rstrip("s")) if args else -1.0
        except ValueError:
            seconds = -1.0
        if seconds < 0:
            await ctx.stderr.write(f"sleep: invalid time interval '{args[0] if args else ''}'\n")
            return 1
        await ctx.cluster.clock.sleep(seconds)  # emulated seconds: a sped-up clock sleeps less
        return 0
    if prog == "curl" and role == pod_roles.MCP:
        return await run_curl(ctx, lambda path: _read_file(ctx, path))
    if prog == "redis-cli" and role == pod_roles.REDIS:
        return await run_redis_cli(ctx)
    if prog in ("psql", "pg_dump", "pg_restore", "pg_isready") and role == pod_roles.POSTGRES:
        if prog == "pg_isready":
            await ctx.stdout.write("/var/run/postgresql:5432 - no response\n")
            return 2
        await ctx.stderr.write(_PG_SOCKET_ERROR.format(prog=prog) + _PG_HINT)
        return 2 if prog == "psql" else 1
    await ctx.stderr.write(f"{ctx.command[0]}: command not found\n")
    return 127
