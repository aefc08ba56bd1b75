"""Checking the recovered data, and switching the application to it once accepted.

Verification runs the operator's queries (default: the guide's count on ``critical_table``)
with ``psql`` inside the recovery pod, in a read-only session, and shows the results. The
switch step's plan repeats them, so confirming the switch *is* accepting them: declining
stops the wizard before anything points at the recovered data.

The switch patches the credentials secret's ``host`` to the recovery Service — base64, as
a Secret's ``data`` must be (the guide's ``-p '{"data":{"host":"new-primary-endpoint"}}'``
would store garbage) — after keeping the previous host in a secret of its own for the way
back. The diff shown names the keys that change with masked values (a short fingerprint
tells whether two values are equal without showing either). The switch is also recorded on
the application's Deployment (annotations ``mcp-ops.pratiko.ai/database-switched-to`` and
``-at``), where the console's own database view reads it to follow the application (or to
say that it still watches the old primary): see ``console.collectors.database_switch``.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from console.collectors.database_switch import SWITCHED_AT, SWITCHED_TO
from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.kube import KubeReader, run_in_pod
from console.execution.kube.ops import Annotate, PatchObject
from console.execution.model import Plan, StepFailed, StepOutput

from ..library.plan import commands
from .pitr_common import HOST_KEY, RECOVERY_POD, previous_host_secret, recovery_host

DEFAULT_QUERIES = "SELECT count(*) FROM critical_table"
READ_STATEMENT = re.compile(r"^\s*(SELECT|WITH|TABLE|VALUES|SHOW)\b", re.IGNORECASE)
READ_ONLY_SESSION = "SET default_transaction_read_only = on"


def split_queries(text: str) -> list[str]:
    """Statements separated by ``;`` (a ``;`` inside quotes does not split)."""
    queries: list[str] = []
    current: list[str] = []
    quote = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in ("'", '"'):
            quote = ch
        elif ch == ";":
            queries.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    queries.append("".join(current).strip())
    return [q for q in queries if q]


@dataclass(frozen=True)
class QueriesInput(Input):
    """Read-only SQL statements (SELECT, WITH, TABLE, VALUES, SHOW), ``;``-separated."""

    kind: str = field(default="read-only SQL", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        text = await super().convert(text, ctx)
        queries = split_queries(text)
        if not queries:
            raise InputError("at least one query is needed")
        for query in queries:
            if not READ_STATEMENT.match(query):
                raise InputError(f"{query[:40]!r} is not a read-only query (SELECT, WITH, "
                                 "TABLE, VALUES or SHOW)")
        return "; ".join(queries)


QUERIES = QueriesInput("verify_queries", "Verification queries", default=DEFAULT_QUERIES,
                       help="Run in the recovered database, read only; ';' separates them.")


def psql_command(ctx: StepContext, query: str) -> list[str]:
    return ["psql", "-d", ctx.env.postgres.database, "-X", "-q", "-A", "-P", "footer=off",
            "-v", "ON_ERROR_STOP=1",
            "-c", READ_ONLY_SESSION, "-c", query]


# ---- verify ----------------------------------------------------------------------------
def plan_verify(ctx: StepContext) -> Plan:
    ns = ctx.env.kubernetes.namespace
    queries = split_queries(ctx.values.get("verify_queries") or DEFAULT_QUERIES)
    return Plan(f"Run {len(queries)} read-only verification quer{'y' if len(queries) == 1 else 'ies'}"
                f" in {RECOVERY_POD} and show the results for you to accept at the switch",
                tuple(Plan.command("kubectl", "exec", "-n", ns, RECOVERY_POD, "--", "psql",
                                   "-d", ctx.env.postgres.database, "-c", q) for q in queries))


async def run_verify(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    results: list[tuple[str, str]] = []
    for query in split_queries(ctx.values.get("verify_queries") or DEFAULT_QUERIES):
        code, lines = await run_in_pod(reader.exec_target(RECOVERY_POD,
                                                          psql_command(ctx, query)))
        yield f"{query}"
        for line in lines:
            yield f"  {line.text}"
        if code != 0:
            errors = [line.text for line in lines if "ERROR" in line.text]
            raise StepFailed(f"verification query failed (exit {code}): "
                             + (errors or [line.text for line in lines] or [query])[0].strip())
        rows = [line.text for line in lines if line.stream == "stdout"]
        results.append((query, " / ".join(rows[1:] if len(rows) > 1 else rows)))
    ctx.cache["pitr.verification"] = results
    ctx.cache["pitr.diff"] = await secret_diff(ctx, reader)
    yield "results to accept: " + "; ".join(f"{q} → {r}" for q, r in results)


# ---- switch ----------------------------------------------------------------------------
def fingerprint(value: bytes | None) -> str:
    if value is None:
        return "(absent)"
    return f"•••• sha256:{hashlib.sha256(value).hexdigest()[:8]}"


def diff_lines(name: str, data: dict[str, str], changes: dict[str, bytes]) -> list[str]:
    """``kubectl diff`` for a Secret with every value masked."""
    lines = [f"secret/{name} (values masked):"]
    for key in sorted(set(data) | set(changes)):
        old = base64.b64decode(data[key]) if key in data else None
        if key in changes and changes[key] != old:
            lines.append(f"  ~ {key:<12} {fingerprint(old)} -> {fingerprint(changes[key])}")
        else:
            lines.append(f"    {key:<12} unchanged")
    return lines


async def secret_diff(ctx: StepContext, reader: KubeReader) -> list[str]:
    secret = await reader.secret(ctx.env.kubernetes.database_secret)
    if secret is None:
        return [f"secret/{ctx.env.kubernetes.database_secret} not found"]
    return diff_lines(ctx.env.kubernetes.database_secret, secret.get("data") or {},
                      {HOST_KEY: recovery_host(ctx).encode()})


def switch_patch(ctx: StepContext) -> dict[str, Any]:
    return {"data": {HOST_KEY: base64.b64encode(recovery_host(ctx).encode()).decode()}}


def switch(ctx: StepContext) -> PatchObject:
    """``kubectl patch secret postgres-credentials --type merge``: the host, base64."""
    k = ctx.env.kubernetes
    return PatchObject("Secret", k.database_secret, k.namespace, switch_patch(ctx), "merge")


def record_switch(ctx: StepContext, host: str | None) -> Annotate:
    """The switch on the Deployment, for the console's database view (None: forget it)."""
    k = ctx.env.kubernetes
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Annotate("Deployment", k.deployment, k.namespace,
                    {SWITCHED_TO: host, SWITCHED_AT: None if host is None else at})


def plan_switch(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    results = ctx.cache.get("pitr.verification")
    shown = ("; ".join(f"{q} → {r}" for q, r in results) if results
             else "see the verification step's output")
    diff = ctx.cache.get("pitr.diff") or []
    return Plan(f"ACCEPT the verification ({shown}) and switch the application to the "
                f"recovered database: secret/{k.database_secret} host -> {recovery_host(ctx)} "
                f"(previous host kept in secret/{previous_host_secret(ctx)}). "
                + " ".join(diff) + f" The switch is recorded on deployment/{k.deployment} "
                "so the console's database view follows it.",
                commands(ctx, [switch(ctx), record_switch(ctx, recovery_host(ctx))]))


async def run_switch(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = ctx.env.kubernetes
    reader = await ctx.kube()
    secret = await reader.secret(k.database_secret)
    if secret is None:
        raise StepFailed(f"secret/{k.database_secret} not found")
    data = secret.get("data") or {}
    for line in diff_lines(k.database_secret, data, {HOST_KEY: recovery_host(ctx).encode()}):
        yield line
    target = switch_patch(ctx)["data"][HOST_KEY]
    writer = await ctx.mutations.kube()
    if data.get(HOST_KEY) == target:
        yield "already switched (an earlier attempt): nothing to change"
        await writer.apply(record_switch(ctx, recovery_host(ctx)))
        return
    kept = {HOST_KEY: data.get(HOST_KEY, "")}
    if await reader.secret(previous_host_secret(ctx)) is None:
        await writer.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                             "metadata": {"name": previous_host_secret(ctx),
                                          "labels": {"app.kubernetes.io/managed-by": "mcp-ops"}},
                             "data": kept})
    else:
        await writer.patch_secret(previous_host_secret(ctx), kept)
    yield f"previous host kept in secret/{previous_host_secret(ctx)}"
    await writer.apply(switch(ctx))
    yield f"secret/{k.database_secret} patched: the application will use {recovery_host(ctx)}"
    await writer.apply(record_switch(ctx, recovery_host(ctx)))
    yield (f"deployment/{k.deployment} annotated {SWITCHED_TO}={recovery_host(ctx)}: the "
           "console's database view follows it (postgres.recovery_dsn) or says it still "
           "watches the old primary")


async def verify_switch(ctx: StepContext) -> str:
    secret = await (await ctx.kube()).secret(ctx.env.kubernetes.database_secret)
    got = base64.b64decode(((secret or {}).get("data") or {}).get(HOST_KEY, "")).decode()
    if got != recovery_host(ctx):
        raise StepFailed("the secret's host does not read back as the recovery host")
    return "secret host reads back as the recovery Service (base64 decoded)"
