"""What the configured credentials themselves could change, asked at start-up.

Read-only mode is enforced by the executor whatever the credentials can do; this probe
tells the operator the second half of the story — whether the credentials could write if
the console let them — so that a NOC screen can be given credentials that cannot write at
all, and a wrongly privileged one is noticed:

- Kubernetes: a SelfSubjectRulesReview for the namespace; any rule with a write verb.
- PostgreSQL: the role's attributes (superuser, createrole, createdb), whether the server
  is a standby, CREATE on the database and schema, and tables it may modify.
- Redis: ``ACL WHOAMI`` and ``ACL GETUSER``: whether ``@write`` commands are allowed.

A system that cannot be asked is "unknown", never "read-only".

When every system's credentials are read-only the console behaves as in read-only mode
(:meth:`ProbeReport.refusal`): a wizard's change step is refused before any of its client
calls (:class:`~console.execution.session.WizardRun` probes before the first change step),
and the console's header shows READ-ONLY with ``creds:ro``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from .redis_acl import acl_can_write

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection", "*"})
# every identity may "create" these reviews of itself; they change nothing
SELF_REVIEWS = frozenset({"selfsubjectaccessreviews", "selfsubjectrulesreviews",
                          "selfsubjectreviews"})


@dataclass(frozen=True)
class Capability:
    system: str
    can_write: bool | None  # None: could not be determined
    detail: str

    def describe(self) -> str:
        verdict = {True: "CAN WRITE", False: "read-only", None: "unknown"}[self.can_write]
        return f"{self.system}: {verdict} ({self.detail})"


@dataclass(frozen=True)
class ProbeReport:
    capabilities: tuple[Capability, ...]

    @property
    def credentials_can_write(self) -> bool | None:
        """True if any system's credentials can write; False only if none can (all known)."""
        values = [c.can_write for c in self.capabilities]
        if any(v is True for v in values):
            return True
        return False if values and all(v is False for v in values) else None

    def header_text(self, enforced: bool) -> str:
        mode = "read-only enforced by the console" if enforced else "console may change things"
        creds = {True: "credentials CAN write", False: "credentials are read-only",
                 None: "credentials' rights unknown"}[self.credentials_can_write]
        return f"{mode}; {creds}"

    def lines(self) -> list[str]:
        return [c.describe() for c in self.capabilities]

    def refusal(self) -> str | None:
        """Why a change step must not start: every system's credentials are known to be
        read-only, so the platform would refuse whatever it tried — say so before it tries
        anything. Credentials that can write, or whose rights are unknown, refuse nothing."""
        if self.credentials_can_write is not False:
            return None
        return ("read-only credentials: " + "; ".join(self.lines())
                + " — no change step is started with them")


async def probe_kubernetes(env: Any) -> Capability:
    from console.sources.kube import KubeSource

    namespace = env.kubernetes.namespace
    # the dashboard's kind of source: a usual kubeconfig needs no kubernetes-asyncio import
    # (~0.5 s on the event loop while the first keys wait)
    source = KubeSource(env.kubernetes)
    try:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
                "spec": {"namespace": namespace}}
        # an error status (401, 403, 5xx) raises KubeError: its body has no rules, and an
        # empty rule list read from it would pass for "read-only"
        review = await source.ask(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", body)
    finally:
        await source.close()
    status = review.get("status") or {}
    rules = status.get("resourceRules") or []
    writable = sorted({f"{'/'.join(resources)}:{','.join(r.get('verbs') or [])}"
                       for r in rules if WRITE_VERBS & set(r.get("verbs") or [])
                       and (resources := [x for x in r.get("resources") or ["*"]
                                          if x not in SELF_REVIEWS])})
    if writable:
        shown = "; ".join(writable[:3]) + (" …" if len(writable) > 3 else "")
        return Capability("kubernetes", True, f"namespace {namespace}: {shown}")
    if status.get("incomplete"):
        # the authorizer could not list every rule (a webhook authorizer, say): the rules
        # missing from the answer may well allow writes
        reason = status.get("evaluationError") or "the rules review is incomplete"
        return Capability("kubernetes", None, f"namespace {namespace}: {reason}")
    return Capability("kubernetes", False, f"namespace {namespace}: get/list/watch only")


POSTGRES_QUERY = """
SELECT r.rolname, r.rolsuper, r.rolcreaterole, r.rolcreatedb, pg_is_in_recovery() AS standby,
       has_database_privilege(current_database(), 'CREATE') AS db_create,
       has_schema_privilege('public', 'CREATE') AS schema_create,
       (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg_toast%'
           AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                OR has_table_privilege(c.oid, 'DELETE')
                OR has_table_privilege(c.oid, 'TRUNCATE'))) AS writable_tables
FROM pg_roles r WHERE r.rolname = current_user
"""


async def probe_postgres(env: Any) -> Capability:
    from console.sources.postgres import connect

    conn = await connect(env.postgres)
    try:
        row = await conn.fetchrow(POSTGRES_QUERY)
    finally:
        await conn.close()
    who = f"role {row['rolname']}"
    if row["standby"]:
        return Capability("postgres", False, f"{who} on a standby (recovery): no writes")
    powers = [name for name, key in (("superuser", "rolsuper"), ("createrole", "rolcreaterole"),
                                     ("createdb", "rolcreatedb"), ("CREATE on database", "db_create"),
                                     ("CREATE on schema public", "schema_create")) if row[key]]
    if row["writable_tables"]:
        powers.append(f"may modify {row['writable_tables']} table(s)")
    if powers:
        return Capability("postgres", True, f"{who}: {', '.join(powers)}")
    return Capability("postgres", False, f"{who}: SELECT only")


def redis_acl_can_write(rules: str, selectors: tuple[str, ...] = ()) -> bool:
    """Replay an ACL command rule string (``+@all -@dangerous``), and any selectors', for
    write access (see :mod:`console.execution.redis_acl`)."""
    return acl_can_write(rules, selectors)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _as_dict(value: Any) -> dict:
    """RESP2 gives a flat [key, value, key, value...] list where RESP3 gives a map."""
    if isinstance(value, list):
        return {_text(k): v for k, v in zip(value[::2], value[1::2], strict=False)}
    return {_text(k): v for k, v in (value or {}).items()}


async def probe_redis(env: Any) -> Capability:
    from console.sources.redis import client

    redis = client(env.redis)
    try:
        user = await redis.execute_command("ACL", "WHOAMI")
        info = await redis.execute_command("ACL", "GETUSER", user)
    finally:
        await redis.aclose()
    info = _as_dict(info)
    commands = _text(info.get("commands"))
    selectors = tuple(_text(_as_dict(sel).get("commands")) for sel in info.get("selectors") or [])
    can = redis_acl_can_write(commands, selectors)
    shown = commands or "(no commands)"
    if selectors:
        shown += "; selectors: " + " | ".join(selectors)
    return Capability("redis", can, f"user {_text(user)}: {shown}")


async def _guard(system: str, probe: Any, env: Any, timeout: float) -> Capability:
    try:
        return await asyncio.wait_for(probe(env), timeout)
    except TimeoutError:
        return Capability(system, None, f"no answer within {timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - any failure means "could not tell"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Capability(system, None, text[:200])


async def probe_environment(env: Any, *, timeout: float = 5.0) -> ProbeReport:
    """Probe every system concurrently; never raises."""
    results = await asyncio.gather(
        _guard("kubernetes", probe_kubernetes, env, timeout),
        _guard("postgres", probe_postgres, env, timeout),
        _guard("redis", probe_redis, env, timeout),
    )
    return ProbeReport(tuple(results))
