"""Region failover: the guide's "Complete Region Failure" and "Database Failover", in the
order that keeps a second outage away.

Run it against the DR environment (``--env <dr>``): every read and change goes to that
environment's own cluster context, AWS region and database, passed explicitly — never
``kubectl config use-context``, which would silently re-point every other terminal of the
operator. The primary environment is the one whose ``disaster_recovery.environment``
names this one; it is only looked at (its health, during the assessment).

0. Assess (read): primary health; DR readiness — context reachable, newest cross-region
   backup and its age, RDS replica status, the standby's replay position; the data loss to
   expect; the DNS record; go / no-go.
1. Velero restore from the cross-region backup into the DR cluster; follow to Completed.
2. Promote the RDS read replica; wait until it is available **and** the database accepts
   writes. The guide moves DNS first; traffic sent to a read-only database is a second
   outage, so the wizard promotes first.
3. ``postgres-credentials`` in the DR cluster on the promoted endpoint — base64 under
   ``data`` (the guide's plain string there is refused by the API).
4. Restart (or scale up) the DR deployment and follow the rollout.
5. Route53 UPSERT of the service record to the DR target; wait for INSYNC.
6. Verify through the public name; each step's duration, the achieved recovery time, and
   the failback steps for later.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from actions.library.rollout import follow_rollout
from actions.library.units import human_age
from actions.library.velero import Followed, follow, outcome_lines
from console.config.model import Environment
from console.execution.context import StepContext
from console.execution.kube.ops import (
    CreateVeleroRestore,
    PatchObject,
    RolloutRestart,
    ScaleDeployment,
)
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.execution.writers.aws import AwsError, DnsRecord, change_batch

SECRET = "postgres-credentials"
RUN_STEPS = ("assess", "velero-restore", "promote-replica", "update-secret",
             "restart-deployment", "move-dns", "verify")
WAIT_INTERVAL = 2.0  # seconds between RDS / Route53 polls


# ---- helpers --------------------------------------------------------------------------------
def primary_of(ctx: StepContext) -> tuple[str, Environment] | None:
    """The environment this one takes over from (its disaster_recovery names this one)."""
    for name, env in ctx.config.environments.items():
        if env.disaster_recovery.environment == ctx.env_name:
            return name, env
    return None


def kctl(ctx: StepContext, *args: str) -> str:
    """A kubectl command with this environment's context spelled out."""
    k = ctx.env.kubernetes
    context = ["--context", k.context] if k.context else []
    return Plan.command("kubectl", *context, *args)


def aws_cmd(ctx: StepContext, *args: str) -> str:
    return Plan.command("aws", *args, "--region", ctx.env.aws.region)


def shown_op(ctx: StepContext, op: Any) -> str:
    return str(op.shown(ctx.env.kubernetes.context))


def timings(ctx: StepContext) -> dict[str, float]:
    found: dict[str, float] = ctx.cache.setdefault("dr-timings", {})
    return found


def timed(step_id: str, run: Callable[[StepContext], AsyncIterator[StepOutput]]
          ) -> Callable[[StepContext], AsyncIterator[StepOutput]]:
    """Record how long the step took (for the summary's recovery time)."""
    async def wrapped(ctx: StepContext) -> AsyncIterator[StepOutput]:
        began = time.monotonic()
        ctx.cache.setdefault("dr-started", time.time())
        try:
            async for item in run(ctx):
                yield item
        finally:
            timings(ctx)[step_id] = round(time.monotonic() - began, 3)
    return wrapped


async def bounded(ctx: StepContext, what: Awaitable[Any]) -> Any:
    return await asyncio.wait_for(what, ctx.env.kubernetes.request_timeout + 1)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secret_host(secret: dict[str, Any] | None) -> tuple[str, str]:
    data = (secret or {}).get("data") or {}
    host = base64.b64decode(data.get("host", "")).decode() if data.get("host") else ""
    port = base64.b64decode(data.get("port", "")).decode() if data.get("port") else ""
    return host, port


def replica_id(ctx: StepContext) -> str:
    found = ctx.env.aws.rds_dr_replica_id
    if not found:
        raise StepFailed(f"environments.{ctx.env_name}.aws.rds_dr_replica_id is not set")
    return found


def dns_names(ctx: StepContext) -> tuple[str, str, str]:
    aws = ctx.env.aws
    if not (aws.route53_zone_id and aws.route53_record and aws.route53_dr_target):
        raise StepFailed(f"environments.{ctx.env_name}.aws needs route53_zone_id, "
                         "route53_record and route53_dr_target")
    return aws.route53_zone_id, aws.route53_record, aws.route53_dr_target


def dr_record(ctx: StepContext) -> DnsRecord:
    _, record, target = dns_names(ctx)
    return DnsRecord(record, "CNAME", (target,), ttl=int(ctx.cache.get("dns-ttl") or 60))


# ---- 0. assess ------------------------------------------------------------------------------
def assess_plan(ctx: StepContext) -> Plan:
    zone, record, _ = (ctx.env.aws.route53_zone_id or "?", ctx.env.aws.route53_record or "?", "")
    primary = primary_of(ctx)
    return Plan(
        f"Read only: is {primary[0] if primary else 'the primary region'} really down, and is "
        f"{ctx.env_name} ready to take over? Ends with a go / no-go.",
        (kctl(ctx, "get", "backups.velero.io", "-n", ctx.env.kubernetes.velero_namespace),
         aws_cmd(ctx, "rds", "describe-db-instances", "--db-instance-identifier",
                 ctx.env.aws.rds_dr_replica_id or "?"),
         Plan.command("psql", "-c", "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()"),
         Plan.command("aws", "route53", "list-resource-record-sets", "--hosted-zone-id", zone,
                      "--start-record-name", record, "--max-items", "1")))


async def _primary_health(ctx: StepContext) -> tuple[str, str]:
    from console.health.check import check_environment

    primary = primary_of(ctx)
    assert primary is not None  # assess refused to go on without one
    name, env = primary
    report = await check_environment(name, env, timeout=ctx.config.ui.source_timeout_seconds)
    reasons = "; ".join(f"{c.name}: {c.status.name}" for c in report.components)
    return report.status.name, f"{name}: {report.status.name} ({reasons})"


async def assess(ctx: StepContext) -> AsyncIterator[StepOutput]:
    if primary_of(ctx) is None:
        takers = [f"{name} -> {env.disaster_recovery.environment}"
                  for name, env in ctx.config.environments.items()
                  if env.disaster_recovery.environment]
        raise StepFailed(f"no-go: {ctx.env_name} is no environment's disaster recovery "
                         "(run the failover against the DR environment"
                         + (f": {', '.join(takers)}" if takers else "") + "). Nothing was changed.")
    nogo: list[str] = []
    status, line = await _primary_health(ctx)
    yield f"primary region: {line}"
    if status == "HEALTHY":
        nogo.append("the primary region is healthy: failing over would cause the outage")
    # DR cluster reachable, newest cross-region backup
    k = ctx.env.kubernetes
    try:
        backups = await bounded(ctx, (await ctx.kube()).backups())
        yield f"DR cluster (context {k.context}): reachable"
        host, port = secret_host(await bounded(ctx, (await ctx.kube()).secret(SECRET)))
        ctx.cache["secret-before"] = host
        yield f"DR secret/{SECRET}: host {host or '(none)'}" + (f":{port}" if port else "")
    except Exception as exc:  # noqa: BLE001 - a no-go reason, not a crash
        backups = []
        nogo.append(f"DR cluster (context {k.context}) unreachable: {type(exc).__name__}: {exc}")
        yield f"DR cluster (context {k.context}): UNREACHABLE ({type(exc).__name__}: {exc})"
    wanted = ctx.env.disaster_recovery.cross_region_backup
    usable = [b for b in backups if b.phase in ("Completed", "PartiallyFailed")
              and (b.name == wanted or "cross-region" in b.name)]
    usable.sort(key=lambda b: b.created_at or datetime.min.replace(tzinfo=UTC))
    if usable:
        newest = usable[-1]
        ctx.cache["backup"] = newest.name
        yield (f"newest cross-region backup: {newest.name}, {newest.phase}, "
               f"{human_age(newest.age_hours)} old, {newest.items_done} items")
    elif backups or not nogo:
        nogo.append("no Completed cross-region Velero backup in the DR cluster")
        yield "newest cross-region backup: none Completed"
    # RDS replica
    aws = await ctx.aws()
    try:
        replica = await aws.db_instance(replica_id(ctx))
        ctx.cache["endpoint"] = replica.endpoint_host
        ctx.cache["endpoint-port"] = replica.endpoint_port
        role = (f"replica of {replica.read_replica_source}" if replica.read_replica_source
                else "already a standalone primary")
        yield (f"RDS {replica.identifier}: {replica.status}, {role}, endpoint "
               f"{replica.endpoint}")
        if replica.status != "available":
            nogo.append(f"RDS {replica.identifier} is {replica.status}, not available")
    except AwsError as exc:
        nogo.append(f"RDS replica: {exc}")
        yield f"RDS replica: {exc}"
    # the database behind it: replay position = the data loss to expect
    try:
        db = await ctx.postgres()
        row = await db.fetchrow(
            "SELECT pg_is_in_recovery() AS recovery, pg_last_xact_replay_timestamp() AS replayed,"
            " pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS"
            " applied, now() AS now")
        if row["recovery"]:
            replayed = row["replayed"]
            lag = (row["now"] - replayed).total_seconds() if replayed else None
            ctx.cache["lag-seconds"] = lag
            yield (f"standby: in recovery, WAL received up to {row['received']}, applied up to "
                   f"{row['applied']}; last transaction replayed "
                   + (f"{lag:.1f} s ago ({replayed:%H:%M:%S} UTC)" if lag is not None
                      else "never"))
            yield ("data loss to expect: what the primary committed after "
                   + (f"{replayed:%H:%M:%S} UTC" if replayed else "the base backup")
                   + " and had not shipped"
                   + (" (everything received is applied)" if row["received"] == row["applied"]
                      else f" plus WAL received but not applied ({row['received']} > "
                           f"{row['applied']})"))
        else:
            yield "standby: not in recovery (already promoted): no further data loss"
    except Exception as exc:  # noqa: BLE001 - a no-go reason
        nogo.append(f"DR database does not answer: {type(exc).__name__}: {exc}")
        yield f"DR database: does not answer ({type(exc).__name__}: {exc})"
    # DNS
    try:
        zone, record, target = dns_names(ctx)
        current = await aws.record(zone, record, "CNAME")
        ctx.cache["dns-before"] = current.values[0] if current and current.values else None
        ctx.cache["dns-ttl"] = current.ttl if current else 60
        yield (f"DNS {record}: CNAME {ctx.cache['dns-before']} (TTL {ctx.cache['dns-ttl']} s); "
               f"DR target {target}")
    except (AwsError, StepFailed) as exc:
        nogo.append(f"DNS: {exc}")
        yield f"DNS: {exc}"
    if nogo:
        for reason in nogo:
            yield f"NO-GO: {reason}"
        raise StepFailed("no-go: " + "; ".join(nogo) + ". Nothing was changed.")
    yield "GO: the DR region can take over"


# ---- 1. Velero restore ----------------------------------------------------------------------
def restore_op(ctx: StepContext) -> CreateVeleroRestore:
    backup = ctx.cache.get("backup") or ctx.env.disaster_recovery.cross_region_backup
    name = ctx.cache.setdefault("restore", f"dr-failover-{datetime.now(UTC):%Y%m%d%H%M%S}")
    return CreateVeleroRestore(name, backup)


def restore_plan(ctx: StepContext) -> Plan:
    op = restore_op(ctx)
    return Plan(f"Restore {op.backup} into the DR cluster ({ctx.env.kubernetes.context}) and "
                f"follow it to Completed. Objects already there (the secret) are kept. Undo: "
                f"delete what it created — kubectl --context {ctx.env.kubernetes.context} "
                f"delete deployment,service,configmap -l velero.io/restore-name={op.name} "
                f"-n {ctx.env.kubernetes.namespace}",
                (shown_op(ctx, op),
                 Plan.command("velero", "restore", "describe", op.name,
                              "--kubecontext", ctx.env.kubernetes.context or "")))


async def restore(ctx: StepContext) -> AsyncIterator[StepOutput]:
    op = restore_op(ctx)
    k = ctx.env.kubernetes
    if await (await ctx.kube()).restore(op.name) is None:
        yield await (await ctx.mutations.kube()).apply(op)
    seen = Followed()
    async for item in follow(ctx, "Restore", op.name, timeout=900, seen=seen):
        yield item
    final = seen.restore
    assert final is not None
    for line in outcome_lines(final):
        yield line
    if final.phase != "Completed":
        raise StepFailed(f"restore {op.name} ended {final.phase}: the DR cluster is partly "
                         "restored; see `velero restore describe` and retry")
    ctx.note("restored", restore=op.name, backup=op.backup, context=k.context)


# ---- 2. promote -----------------------------------------------------------------------------
def promote_plan(ctx: StepContext) -> Plan:
    ident = ctx.env.aws.rds_dr_replica_id or "?"
    return Plan(f"Promote RDS read replica {ident} to a standalone primary; wait until RDS "
                "says available AND the database accepts writes (pg_is_in_recovery() false). "
                "Before DNS moves: traffic sent to a read-only database is a second outage. "
                "Cannot be undone: a promoted instance never becomes a replica again "
                "(failback builds a new replica from it).",
                (aws_cmd(ctx, "rds", "promote-read-replica", "--db-instance-identifier", ident),
                 aws_cmd(ctx, "rds", "wait", "db-instance-available",
                         "--db-instance-identifier", ident)))


async def promote(ctx: StepContext) -> AsyncIterator[StepOutput]:
    ident = replica_id(ctx)
    writer = await ctx.mutations.aws()
    current = await writer.db_instance(ident)
    if current.read_replica_source is None and current.available:
        yield f"{ident} is already a standalone primary: nothing to promote"
    else:
        try:
            answered = await writer.promote_read_replica(ident)
        except AwsError as exc:
            raise StepFailed(f"RDS refused to promote {ident}: {exc}. The replica is unchanged "
                             "(still a read replica); DNS and the DR secret were not touched."
                             ) from exc
        yield f"promote-read-replica accepted: {ident} is {answered.status}"
        ctx.note("promoted", instance=ident, source=current.read_replica_source)
        try:
            async for polled in writer.wait_db_available(ident, timeout=1800,
                                                         interval=WAIT_INTERVAL):
                yield f"{ident}: {polled.status}"
        except AwsError as exc:
            raise StepFailed(f"{ident} did not become available: {exc}") from exc
    endpoint = (await writer.db_instance(ident)).endpoint
    yield f"endpoint: {endpoint}"
    deadline = time.monotonic() + 120
    while True:
        try:
            db = await ctx.postgres()
            # out of recovery = accepts writes (the console's own session is read-only by
            # design, so that is not asked of it)
            if not await db.fetchval("SELECT pg_is_in_recovery()"):
                break
            why = "still in recovery (read-only)"
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            why = f"{type(exc).__name__}: {exc}"
        if time.monotonic() > deadline:
            raise StepFailed(f"{ident} is available in RDS but its database does not accept "
                             f"writes: {why}")
        yield f"database: {why}; waiting"
        await asyncio.sleep(1)
    yield "database accepts writes (out of recovery: a primary)"


async def promote_verify(ctx: StepContext) -> str:
    inst = await (await ctx.aws()).db_instance(replica_id(ctx))
    if inst.read_replica_source is not None or not inst.available:
        raise StepFailed(f"{inst.identifier} is {inst.status}, replica of "
                         f"{inst.read_replica_source}")
    return f"{inst.identifier} is a standalone primary at {inst.endpoint}"


# ---- 3. secret ------------------------------------------------------------------------------
def secret_op(ctx: StepContext) -> PatchObject:
    host = ctx.cache.get("endpoint")
    port = str(ctx.cache.get("endpoint-port") or 5432)
    return PatchObject("Secret", SECRET, ctx.env.kubernetes.namespace,
                       {"data": {"host": b64(host) if host else "<base64 of the endpoint>",
                                 "port": b64(port)}}, patch_type="merge")


def secret_plan(ctx: StepContext) -> Plan:
    before = ctx.cache.get("secret-before")
    undo = (f"patch host back to {before} (base64 {b64(before)})" if before else
            "patch host back to the host it had (the step notes it in the session log)")
    return Plan(f"Point secret/{SECRET} in the DR cluster at the promoted database "
                f"({ctx.cache.get('endpoint') or 'the RDS endpoint of the replica'}). The values "
                "go base64-encoded: the guide's example puts a plain string under data, which "
                f"the API rejects. Undo: {undo}.",
                (shown_op(ctx, secret_op(ctx)),))


async def update_secret(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    before, _ = secret_host(await reader.secret(SECRET))
    ctx.cache["secret-before"] = before
    ctx.note("previous secret host", secret=SECRET, host=before)
    if not ctx.cache.get("endpoint"):
        inst = await (await ctx.aws()).db_instance(replica_id(ctx))
        ctx.cache["endpoint"], ctx.cache["endpoint-port"] = inst.endpoint_host, inst.endpoint_port
    yield f"secret/{SECRET}: host was {before}"
    yield await (await ctx.mutations.kube()).apply(secret_op(ctx))
    after, port = secret_host(await reader.secret(SECRET))
    if after != ctx.cache["endpoint"]:
        raise StepFailed(f"secret/{SECRET} reads back host {after!r}, not {ctx.cache['endpoint']}")
    yield f"secret/{SECRET}: host is now {after}:{port} (read back)"


# ---- 4. deployment --------------------------------------------------------------------------
def restart_plan(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan(f"Restart deployment/{k.deployment} in the DR cluster so every pod reads the "
                f"new secret (scaled to {k.normal_replicas} first if it is at 0), and follow "
                f"the rollout. Undo: {kctl(ctx, 'scale', f'deployment/{k.deployment}', '--replicas=0', '-n', k.namespace)}",
                (shown_op(ctx, ScaleDeployment(k.deployment, k.namespace, k.normal_replicas)),
                 shown_op(ctx, RolloutRestart(k.deployment, k.namespace)),
                 kctl(ctx, "rollout", "status", f"deployment/{k.deployment}", "-n", k.namespace)))


async def restart(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = ctx.env.kubernetes
    try:
        deployment = await (await ctx.kube()).deployment()
    except Exception as exc:  # noqa: BLE001 - said plainly
        raise StepFailed(f"deployment/{k.deployment} is not in the DR cluster ({exc}); "
                         "the Velero restore should have created it") from exc
    writer = await ctx.mutations.kube()
    if deployment.desired == 0:
        yield await writer.apply(ScaleDeployment(k.deployment, k.namespace, k.normal_replicas))
    yield await writer.apply(RolloutRestart(k.deployment, k.namespace))
    async for item in follow_rollout(ctx):
        yield item


# ---- 5. DNS ---------------------------------------------------------------------------------
def dns_plan(ctx: StepContext) -> Plan:
    zone, record, target = (ctx.env.aws.route53_zone_id or "?", ctx.env.aws.route53_record
                            or "?", ctx.env.aws.route53_dr_target or "?")
    try:
        batch = change_batch(dr_record(ctx), f"dr-failover to {ctx.env_name}")
    except (StepFailed, ValueError):
        batch = {}
    before = ctx.cache.get("dns-before") or "the value the assessment read"
    text = json.dumps(batch, separators=(",", ":"))
    return Plan(f"UPSERT {record} CNAME -> {target} and wait until INSYNC. Change batch: "
                f"{text}. Undo: the same UPSERT with {before}.",
                (Plan.command("aws", "route53", "change-resource-record-sets",
                              "--hosted-zone-id", zone, "--change-batch", text),
                 Plan.command("aws", "route53", "wait", "resource-record-sets-changed",
                              "--id", "<change id>")))


async def move_dns(ctx: StepContext) -> AsyncIterator[StepOutput]:
    zone, record, target = dns_names(ctx)
    writer = await ctx.mutations.aws()
    before = await writer.record(zone, record, "CNAME")
    ctx.note("previous DNS record", record=record,
             value=before.values[0] if before and before.values else None)
    batch = change_batch(dr_record(ctx), f"dr-failover to {ctx.env_name}")
    yield "change batch: " + json.dumps(batch)
    try:
        info = await writer.upsert_record(zone, dr_record(ctx), f"dr-failover to {ctx.env_name}")
    except AwsError as exc:
        still = before.values[0] if before and before.values else "nothing"
        raise StepFailed(f"Route53 refused the change: {exc}. DNS is unchanged: {record} still "
                         f"points at {still}. The DR region is serving on its own address; "
                         "retry this step or change the record by hand.") from exc
    yield f"change {info.id}: {info.status}"
    async for polled in writer.wait_change_insync(info.id, timeout=600, interval=WAIT_INTERVAL):
        yield f"change {polled.id}: {polled.status}"
    after = await writer.record(zone, record, "CNAME")
    yield f"{record} now CNAME {after.values[0] if after and after.values else '?'}"


# ---- 6. verify + summary --------------------------------------------------------------------
def verify_plan(ctx: StepContext) -> Plan:
    url = ctx.env.service.public_url or ctx.env.service.base_url
    return Plan(f"Ask the public name ({url}) for /health and /health/database; sum up the "
                "recovery time and the failback steps.",
                (Plan.command("curl", "-fsS", url + ctx.env.service.health_path),
                 Plan.command("curl", "-fsS", url + ctx.env.service.database_health_path)))


def failback_steps(ctx: StepContext) -> list[str]:
    primary = primary_of(ctx)
    name = primary[0] if primary else "the primary region"
    aws = ctx.env.aws
    return [
        f"when {name} is back: keep its old database out of service (it diverged at the "
        "failure; never point traffic at it again)",
        f"aws rds create-db-instance-read-replica in {name}'s region from "
        f"{aws.rds_dr_replica_id} (the new primary); wait until its lag is near 0",
        f"restore {name}'s cluster (Velero) with its secret on that replica, scaled to 0",
        "in a quiet window: stop writes, promote the replica there, patch its secret, "
        "restart its deployment",
        f"UPSERT {aws.route53_record} back to {ctx.cache.get('dns-before') or 'the primary LB'}"
        ", wait INSYNC, verify through the public name",
        f"then scale {ctx.env_name}'s deployment back to 0 and rebuild the cross-region "
        "replica and backups",
    ]


async def verify(ctx: StepContext) -> AsyncIterator[StepOutput]:
    s = ctx.env.service
    url = s.public_url or s.base_url
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=s.timeout + 2) as client:
        while True:
            problems = []
            for path in (s.health_path, s.database_health_path):
                try:
                    answer = await client.get(url + path)
                    served = answer.headers.get("x-served-by", "")
                    body = answer.text[:200]
                    if answer.status_code != 200:
                        problems.append(f"{path}: HTTP {answer.status_code} {body}")
                    else:
                        yield f"{url}{path}: 200" + (f" (served by {served})" if served else "")
                except httpx.HTTPError as exc:
                    problems.append(f"{path}: {type(exc).__name__}: {exc}")
            if not problems:
                break
            if time.monotonic() > deadline:
                raise StepFailed("the public name does not answer healthy: " + "; ".join(problems))
            yield "not yet: " + "; ".join(problems)
            await asyncio.sleep(2)
    done = timings(ctx)
    done["verify"] = round(time.monotonic() - ctx.cache.setdefault("verify-began",
                                                                   time.monotonic()), 3)
    yield "step durations:"
    for step_id in RUN_STEPS:
        if step_id in done:
            yield f"  {step_id:<20} {done[step_id]:8.2f} s"
    total = time.time() - float(ctx.cache.get("dr-started", time.time()))
    yield f"achieved recovery time (assessment to verified): {total:.1f} s"
    ctx.note("recovery time", seconds=round(total, 3), steps=done)
    yield "failback, later:"
    for n, item in enumerate(failback_steps(ctx), 1):
        yield f"  {n}. {item}"


async def _verify_started(ctx: StepContext) -> AsyncIterator[StepOutput]:
    ctx.cache["verify-began"] = time.monotonic()
    async for item in verify(ctx):
        yield item


WIZARD = Wizard(
    id="dr-failover",
    title="Disaster recovery failover",
    section="Backup and Recovery › Disaster Recovery Scenarios",
    when="The region is down: activate the DR environment, promote the replica, move DNS.",
    steps=(
        Step("assess", "Assess: primary down, DR ready? (go / no-go)",
             "The guide starts by switching context; first make sure the primary is really "
             "down and DR can take over, and how much data the replica's lag will cost.",
             Risk.READ, assess_plan, timed("assess", assess), timeout=120),
        Step("velero-restore", "Restore the cross-region backup into DR",
             "velero restore create --from-backup=latest-cross-region-backup, in the DR "
             "cluster's context passed explicitly (never kubectl config use-context).",
             Risk.DESTRUCTIVE, restore_plan, timed("velero-restore", restore), timeout=960),
        Step("promote-replica", "Promote the RDS read replica",
             "aws rds promote-read-replica. The guide moves DNS before this; the wizard promotes "
             "first, because sending traffic to a read-only database is a second outage.",
             Risk.DESTRUCTIVE, promote_plan, timed("promote-replica", promote),
             verify=promote_verify, timeout=1980),
        Step("update-secret", "Point postgres-credentials at the new primary",
             "kubectl patch secret postgres-credentials: the guide's example puts a plain "
             "string under data, which the API rejects; the value is written base64-encoded.",
             Risk.DESTRUCTIVE, secret_plan, timed("update-secret", update_secret), timeout=60),
        Step("restart-deployment", "Restart the DR deployment",
             "kubectl rollout restart deployment/mcp-server-production, followed to the end, "
             "so every pod connects to the promoted database.",
             Risk.DESTRUCTIVE, restart_plan, timed("restart-deployment", restart), timeout=600),
        Step("move-dns", "Move DNS to the DR region",
             "aws route53 change-resource-record-sets: UPSERT the service record to the DR "
             "target, after the database and the pods are ready for the traffic.",
             Risk.DESTRUCTIVE, dns_plan, timed("move-dns", move_dns), timeout=660),
        Step("verify", "Verify and sum up",
             "Through the public name, as users reach it; the achieved recovery time and the "
             "failback the operator will need.",
             Risk.READ, verify_plan, _verify_started, timeout=120),
    ),
)
