"""The plan's equivalent shell commands, rendered from the arguments the writers get.

A step's plan shows the command an operator would type from the runbook, so it can be
checked against the guide. Each function here takes the same values the writer is called
with — the Route53 change batch from :func:`~console.execution.writers.aws.change_batch`, a
statement from a ``SqlWriter.*_sql`` twin, a body from ``WebhookWriter.payload`` — so the
shown command cannot drift from what runs.

Commands are argument tuples (``tuple[str, ...]``), never shell strings; :func:`display`
joins one for the screen with :func:`shlex.quote`. Secrets never appear: a DSN is rendered
without its password (``psql`` asks for it or reads ``PGPASSWORD``), ``redis-cli`` gets
``--askpass`` when a password is configured, and a webhook URL is shown as ``"$VARIABLE"``
(an :class:`EnvRef`), never its value.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from console.config.model import (
    ENV_VAR,
    AwsSettings,
    Environment,
    NotificationSettings,
    PostgresSettings,
    RedisSettings,
)

from .writers.aws import zone_id_of
from .writers.http import Channel, webhook_variable

__all__ = [
    "Argv", "EnvRef", "aws_ec2_describe", "aws_rds_describe", "aws_rds_promote",
    "aws_rds_wait_available", "aws_route53_change", "aws_route53_wait_insync", "aws_s3_cp",
    "aws_s3_ls", "curl_post", "display", "psql", "redis_cli", "s3_url",
]

Argv = tuple[str, ...]


class EnvRef(str):
    """An argument that is an environment variable's reference, ``$NAME``: displayed as
    ``"$NAME"`` so a shell expands it, while its value is never known here."""

    def __new__(cls, name: str) -> EnvRef:
        if not ENV_VAR.match(name):
            raise ValueError(f"{name!r} is not an environment variable name")
        return super().__new__(cls, f"${name}")

    @property
    def variable(self) -> str:
        return self[1:]


def display(argv: Sequence[str]) -> str:
    """One line to show (and paste into a shell): each argument quoted as needed."""
    return " ".join(f'"{arg}"' if isinstance(arg, EnvRef) else shlex.quote(arg) for arg in argv)


# ---- aws -----------------------------------------------------------------------------------

def _aws(service: str, operation: str, *args: str, settings: AwsSettings | None) -> Argv:
    argv = ["aws", service, operation, *args]
    if settings is not None:
        # route53 is global, but the CLI still refuses to run without a region
        argv += ["--region", settings.region]
        if settings.profile:
            argv += ["--profile", settings.profile]
        if settings.endpoint_url:
            argv += ["--endpoint-url", settings.endpoint_url]
    return tuple(argv)


def aws_rds_promote(identifier: str, settings: AwsSettings | None = None) -> Argv:
    """``AwsWriter.promote_read_replica(identifier)``."""
    return _aws("rds", "promote-read-replica", "--db-instance-identifier", identifier,
                settings=settings)


def aws_rds_describe(identifier: str, settings: AwsSettings | None = None) -> Argv:
    """``AwsReader.db_instance(identifier)``."""
    return _aws("rds", "describe-db-instances", "--db-instance-identifier", identifier,
                settings=settings)


def aws_rds_wait_available(identifier: str, settings: AwsSettings | None = None) -> Argv:
    """``AwsReader.wait_db_available(identifier)``."""
    return _aws("rds", "wait", "db-instance-available", "--db-instance-identifier", identifier,
                settings=settings)


def aws_route53_change(zone_id: str, batch: Mapping[str, Any],
                       settings: AwsSettings | None = None) -> Argv:
    """``AwsWriter.upsert_record``: ``batch`` is ``AwsWriter.change_batch(record, comment)``,
    inline where the runbook has ``file://dr-dns-change.json``."""
    return _aws("route53", "change-resource-record-sets", "--hosted-zone-id", zone_id_of(zone_id),
                "--change-batch", json.dumps(batch, separators=(",", ":")), settings=settings)


def aws_route53_wait_insync(change_id: str, settings: AwsSettings | None = None) -> Argv:
    """``AwsReader.wait_change_insync(change_id)``."""
    return _aws("route53", "wait", "resource-record-sets-changed", "--id",
                change_id.rsplit("/", 1)[-1], settings=settings)


def s3_url(bucket: str, key: str = "") -> str:
    return f"s3://{bucket}/{key}"


def aws_s3_ls(bucket: str, prefix: str = "", settings: AwsSettings | None = None, *,
              human_readable: bool = True) -> Argv:
    """``AwsReader.list_objects(bucket, prefix)`` (every object under the prefix)."""
    flags = ("--recursive", "--human-readable") if human_readable else ("--recursive",)
    return _aws("s3", "ls", s3_url(bucket, prefix), *flags, settings=settings)


def aws_s3_cp(source: str, destination: str, settings: AwsSettings | None = None) -> Argv:
    """``put_object`` (a local file to ``s3_url(bucket, key)``) or ``stream_object`` (an
    ``s3://`` URL to a file, or ``-`` for standard output)."""
    return _aws("s3", "cp", source, destination, settings=settings)


_SHORTHAND_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/*?@+")


def aws_ec2_describe(filters: Mapping[str, Sequence[str]] | None = None,
                     settings: AwsSettings | None = None) -> Argv:
    """``AwsReader.instances(filters)``: the runbook's ``Name=tag:Environment,Values=...``
    shorthand, or JSON when a value holds a comma, space or quote."""
    args: list[str] = []
    if filters:
        items = [(name, list(values)) for name, values in filters.items()]
        if all(set(n) <= _SHORTHAND_SAFE and all(v and set(v) <= _SHORTHAND_SAFE for v in vs)
               for n, vs in items):
            args = ["--filters", *(f"Name={n},Values={','.join(vs)}" for n, vs in items)]
        else:
            args = ["--filters", json.dumps([{"Name": n, "Values": vs} for n, vs in items],
                                            separators=(",", ":"))]
    return _aws("ec2", "describe-instances", *args, settings=settings)


# ---- psql, redis-cli -----------------------------------------------------------------------

def psql(statement: str, *, env: Environment | PostgresSettings, dsn: str | None = None) -> Argv:
    """``psql -h HOST -p PORT -U USER -d DB -c STATEMENT`` for the environment's primary
    (or ``dsn``), never with a password. Other DSN parameters (sslmode...) are not shown."""
    settings = env.postgres if isinstance(env, Environment) else env
    parts = urlsplit(dsn or settings.dsn)
    query = dict(parse_qsl(parts.query))
    netloc = parts.netloc.rsplit("@", 1)
    userinfo = netloc[0] if len(netloc) == 2 else ""
    hosts, ports = [], []
    for item in (netloc[-1].split(",") if netloc[-1] else []):
        if item.startswith("["):  # [::1]:5432
            host, _, rest = item[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = item.partition(":")
        hosts.append(unquote(host))
        ports.append(port)
    host_arg = query.get("host") or ",".join(hosts)
    port_arg = query.get("port") or (",".join(ports) if any(ports) else "")
    user = query.get("user") or unquote(userinfo.split(":", 1)[0])
    database = query.get("dbname") or unquote(parts.path.lstrip("/"))
    argv = ["psql"]
    for flag, value in (("-h", host_arg), ("-p", port_arg), ("-U", user), ("-d", database)):
        if value:
            argv += [flag, value]
    return (*argv, "-c", statement)


def redis_cli(*args: str, env: Environment | RedisSettings) -> Argv:
    """``redis-cli -h HOST -p PORT [-n DB] ARGS`` for the environment's Redis; ``--tls`` for
    rediss://, ``-s PATH`` for unix://, ``--askpass`` when a password is configured."""
    settings = env.redis if isinstance(env, Environment) else env
    parts = urlsplit(settings.url)
    query = dict(parse_qsl(parts.query))
    argv = ["redis-cli"]
    if parts.scheme == "unix":
        argv += ["-s", parts.path]
        database = query.get("db", "0")
    else:
        argv += ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 6379)]
        database = parts.path.lstrip("/") or query.get("db", "0")
        if parts.scheme == "rediss":
            argv.append("--tls")
    if parts.username:
        argv += ["--user", unquote(parts.username)]
    if settings.password_env:
        argv.append("--askpass")
    if database not in ("", "0"):
        argv += ["-n", database]
    return (*argv, *(str(a) for a in args))


# ---- curl ----------------------------------------------------------------------------------

def curl_post(channel: Channel, payload: Mapping[str, Any], *,
              settings: NotificationSettings | Environment | None = None) -> Argv:
    """The runbook's ``curl -X POST -H 'Content-type: application/json' --data '...'
    $STATUS_PAGE_WEBHOOK``, with ``payload`` from ``WebhookWriter.payload`` and ``--fail``
    (the writer also treats a non-2xx answer as a failure). The URL stays ``"$VARIABLE"``."""
    if isinstance(settings, Environment):
        settings = settings.notifications
    variable = webhook_variable(settings or NotificationSettings(), channel)
    if not variable:
        raise ValueError(f"no variable is named for the {channel} webhook")
    return ("curl", "--fail", "-X", "POST", "-H", "Content-type: application/json",
            "--data", json.dumps(payload, separators=(",", ":")), EnvRef(variable))
