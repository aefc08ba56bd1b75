"""The recovery instance and the restore into it.

The pod is the runbook's manifest (``postgres:15-alpine``, password from secret
``postgres-credentials``, data on ``postgres-recovery-pvc``) with what a fresh container
needs to take a restore and then serve the application: the application's role and
database (``POSTGRES_USER``/``POSTGRES_DB`` from the same secret; ``pg_restore -d`` needs the
database to exist), ``PGUSER`` so that commands exec'd in the pod connect as that role, and
``PGDATA`` one level below the mount point (a fresh volume's ``lost+found`` makes initdb
refuse the mount point itself). It is labelled ``app=postgresql, role=recovery``: the
database network policy lets the application in, and the primary's Service does not
select it. A Service ``postgres-recovery`` gives it the stable name the application is
switched to. It gets the primary's requests/limits and storage class (and claim size), so
it is not a BestEffort pod evicted first under pressure — but it is still a stop-gap: a
bare pod with no replica and no backups of its own (the wizard's summary says what must
follow).

A leftover claim or pod from an earlier attempt is reused only if its database is empty;
otherwise the step refuses, or with ``clean_leftover=yes`` drops what is in it first.

The restore streams the chosen S3 dump into ``pg_restore`` over the exec connection's
stdin — nothing is written to local disk — in one transaction, so a corrupt or cut dump
leaves an empty database rather than half of one. ``--no-owner --no-acl``: a GRANT to a role
that does not exist in the fresh instance cannot abort that transaction (the application's
role owns everything it restores). The extensions the dump needs are checked against the
instance first. It runs while the application still serves from the old database; it is
timed, since the outage no longer contains it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import yaml

from console.execution.context import StepContext
from console.execution.inputs import BoolInput
from console.execution.kube import ExecLine, ExecSent, KubeReader, run_in_pod
from console.execution.model import Line, Plan, Progress, StepFailed, StepOutput

from ..library.units import human_size
from .pitr_common import (
    RECOVERY_CLAIM,
    RECOVERY_IMAGE,
    RECOVERY_LABELS,
    RECOVERY_POD,
    RECOVERY_SERVICE,
)
from .s3_dumps import DumpStream

CLAIM_SIZE = "100Gi"
RESTORE_OPTIONS = ("--no-owner", "--no-acl", "--single-transaction", "--exit-on-error",
                   "--verbose")
USER_RELATIONS = ("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                  "c.relnamespace WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND n.nspname "
                  "NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_%'")
CLEAN = ("DO $$DECLARE s text; BEGIN FOR s IN SELECT nspname FROM pg_namespace WHERE nspname "
         "NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg_%' LOOP "
         "EXECUTE format('DROP SCHEMA %I CASCADE', s); END LOOP; "
         "CREATE SCHEMA public; END$$")

CLEAN_LEFTOVER = BoolInput(
    "clean_leftover", "Empty a leftover recovery database before restoring into it",
    default=False, help="no: a recovery database that is not empty (an earlier attempt) "
                        "stops the wizard. yes: drop every schema in it first.")


async def primary_shape(ctx: StepContext, reader: KubeReader) -> dict[str, Any]:
    """The primary's container resources, storage class and claim size (what is found)."""
    k = ctx.env.kubernetes
    shape: dict[str, Any] = {"resources": {}, "storage_class": None, "size": CLAIM_SIZE}
    workload = (await reader.raw("Deployment", k.database_workload)
                or await reader.raw("StatefulSet", k.database_workload))
    if workload is None:
        return shape
    spec = workload["spec"]["template"]["spec"]
    containers = spec.get("containers") or [{}]
    shape["resources"] = containers[0].get("resources") or {}
    claim_spec: dict[str, Any] = {}
    for volume in spec.get("volumes") or []:
        name = (volume.get("persistentVolumeClaim") or {}).get("claimName")
        claim = await reader.raw("PersistentVolumeClaim", name) if name else None
        if claim:
            claim_spec = claim.get("spec") or {}
            break
    else:
        templates = workload["spec"].get("volumeClaimTemplates") or [{}]
        claim_spec = templates[0].get("spec") or {}
    shape["storage_class"] = claim_spec.get("storageClassName")
    shape["size"] = ((claim_spec.get("resources") or {}).get("requests") or {}).get(
        "storage", CLAIM_SIZE)
    return shape


def _secret_env(ctx: StepContext, name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {
        "name": ctx.env.kubernetes.database_secret, "key": key}}}


def manifests(ctx: StepContext, shape: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The claim, the pod and its Service, in creation order (``shape``: the primary's)."""
    ns = ctx.env.kubernetes.namespace
    shape = shape or ctx.cache.get("pitr.shape") or {}
    meta = {"namespace": ns, "labels": dict(RECOVERY_LABELS)}
    claim: dict[str, Any] = {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": RECOVERY_CLAIM, **meta},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": shape.get("size") or CLAIM_SIZE}}}}
    if shape.get("storage_class"):
        claim["spec"]["storageClassName"] = shape["storage_class"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": RECOVERY_POD, **meta},
           "spec": {"containers": [{
               "name": "postgres", "image": RECOVERY_IMAGE,
               "env": [_secret_env(ctx, "POSTGRES_PASSWORD", "password"),
                       _secret_env(ctx, "POSTGRES_USER", "username"),
                       _secret_env(ctx, "POSTGRES_DB", "database"),
                       _secret_env(ctx, "PGUSER", "username"),
                       {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
               "ports": [{"name": "postgres", "containerPort": 5432}],
               **({"resources": shape["resources"]} if shape.get("resources") else {}),
               "volumeMounts": [{"name": "recovery-data",
                                 "mountPath": "/var/lib/postgresql/data"}]}],
               "volumes": [{"name": "recovery-data",
                            "persistentVolumeClaim": {"claimName": RECOVERY_CLAIM}}]}}
    service = {"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": RECOVERY_SERVICE, **meta},
               "spec": {"selector": {"app": "postgresql", "role": "recovery"},
                        "ports": [{"name": "postgres", "port": 5432, "targetPort": 5432}]}}
    return [claim, pod, service]


# ---- create the recovery instance ------------------------------------------------------
def plan_instance(ctx: StepContext) -> Plan:
    ns = ctx.env.kubernetes.namespace
    text = yaml.safe_dump_all(manifests(ctx), sort_keys=False).rstrip()
    shape = ctx.cache.get("pitr.shape") or {}
    sized = (f"the primary's resources {shape.get('resources') or '(none found)'}, storage "
             f"class {shape.get('storage_class') or '(default)'}" if shape
             else "the primary's resources and storage class")
    return Plan(f"While the application still runs: create {RECOVERY_CLAIM}, pod "
                f"{RECOVERY_POD} ({RECOVERY_IMAGE}, {sized}) and Service {RECOVERY_SERVICE} "
                f"in {ns} (each only if missing), wait until PostgreSQL accepts connections, "
                "and check its database is empty (a leftover is refused, or emptied with "
                "clean_leftover=yes)",
                (f"kubectl apply -n {ns} -f - <<EOF\n{text}\nEOF",
                 Plan.command("kubectl", "wait", "--for=condition=Ready", f"pod/{RECOVERY_POD}",
                              "-n", ns, "--timeout=300s"),
                 Plan.command("kubectl", "exec", "-n", ns, RECOVERY_POD, "--", "pg_isready",
                              "-d", ctx.env.postgres.database)))


async def run_instance(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    writer = await ctx.mutations.kube()
    ctx.cache.setdefault("pitr.started", time.time())  # the whole recovery, for comparison
    shape = ctx.cache["pitr.shape"] = await primary_shape(ctx, reader)
    yield (f"sized as the primary ({ctx.env.kubernetes.database_workload}): resources "
           f"{shape['resources'] or '(none: BestEffort)'}, storage class "
           f"{shape['storage_class'] or '(cluster default)'}, {shape['size']}")
    for manifest in manifests(ctx, shape):
        kind, name = manifest["kind"], manifest["metadata"]["name"]
        existing = await reader.raw(kind, name)
        if existing is None:
            await writer.create(manifest)
            yield f"{kind.lower()}/{name} created"
        else:
            state = (existing.get("status") or {}).get("phase", "present")
            yield f"{kind.lower()}/{name} already exists ({state}): reused"
    async for item in wait_until_ready(ctx, reader, timeout=300):
        yield item
    async for item in ensure_empty(ctx, reader):
        yield item


def psql_in_pod(ctx: StepContext, sql: str, *, read_only: bool = True) -> list[str]:
    """psql in the recovery pod, tuples only; a read-only session unless told."""
    session = ["-c", "SET default_transaction_read_only = on"] if read_only else []
    return ["psql", "-d", ctx.env.postgres.database, "-X", "-q", "-A", "-t", "-v",
            "ON_ERROR_STOP=1", *session, "-c", sql]


async def user_relations(ctx: StepContext, reader: KubeReader) -> int:
    code, lines = await run_in_pod(reader.exec_target(RECOVERY_POD,
                                                      psql_in_pod(ctx, USER_RELATIONS)))
    out = [line.text.strip() for line in lines if line.stream == "stdout" and line.text.strip()]
    if code != 0 or not out or not out[-1].isdigit():
        raise StepFailed(f"could not look into the recovery database (exit {code}): "
                         + " ".join(line.text for line in lines)[:200])
    return int(out[-1])


async def ensure_empty(ctx: StepContext, reader: KubeReader) -> AsyncIterator[StepOutput]:
    """A leftover database from an earlier attempt: refuse, or clean when asked to."""
    found = await user_relations(ctx, reader)
    if found == 0:
        yield f"the recovery database {ctx.env.postgres.database} is empty"
        return
    if not ctx.values.get("clean_leftover"):
        raise StepFailed(f"the recovery database in {RECOVERY_POD} is not empty ({found} "
                         "relations: an earlier attempt?). Look at it, then run again with "
                         "--set clean_leftover=yes to empty it, or delete pod/"
                         f"{RECOVERY_POD} and pvc/{RECOVERY_CLAIM}")
    async for item in empty_recovery_database(ctx, reader):
        yield item
    yield f"leftover recovery database emptied ({found} relations dropped; clean_leftover=yes)"


async def empty_recovery_database(ctx: StepContext, reader: KubeReader) -> AsyncIterator[StepOutput]:
    writer = await ctx.mutations.kube()
    execution = writer.exec(RECOVERY_POD, psql_in_pod(ctx, CLEAN, read_only=False))
    async for item in execution:
        if isinstance(item, ExecLine):
            yield Line(item.text, item.stream)
    left = await user_relations(ctx, reader)
    if execution.code != 0 or left:
        raise StepFailed(f"emptying the recovery database failed ({left} relations left)")


async def wait_until_ready(ctx: StepContext, reader: KubeReader, *,
                           timeout: float) -> AsyncIterator[StepOutput]:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        pod = await reader.pod(RECOVERY_POD)
        phase = (pod.phase if pod else "") or "Pending"
        waiting = pod.waiting_reason if pod else ""
        shown = f"pod/{RECOVERY_POD}: {phase}" + (f" ({waiting})" if waiting else "")
        if shown != last:
            yield shown
            last = shown
        if phase in ("Failed", "Succeeded"):
            raise StepFailed(f"pod/{RECOVERY_POD} is {phase}: delete it (and check its log) "
                             "before trying again")
        if phase == "Running":
            code, lines = await run_in_pod(reader.exec_target(
                RECOVERY_POD, ["pg_isready", "-d", ctx.env.postgres.database]))
            if code == 0:
                yield f"PostgreSQL in {RECOVERY_POD}: " + " ".join(line.text for line in lines)
                return
        if time.monotonic() > deadline:
            raise StepFailed(f"pod/{RECOVERY_POD} not ready after {timeout:.0f}s ({shown})")
        await asyncio.sleep(0.5)


async def verify_instance(ctx: StepContext) -> str:
    pod = await (await ctx.kube()).pod(RECOVERY_POD)
    if not pod or pod.phase != "Running":
        raise StepFailed(f"pod/{RECOVERY_POD} is not Running")
    return f"pod/{RECOVERY_POD} Running on {pod.node or '?'}"


# ---- restore ---------------------------------------------------------------------------
def restore_command(ctx: StepContext) -> list[str]:
    return ["pg_restore", "-d", ctx.env.postgres.database, *RESTORE_OPTIONS]


def plan_restore(ctx: StepContext) -> Plan:
    a, ns = ctx.env.aws, ctx.env.kubernetes.namespace
    key = ctx.values.get("dump") or "<no dump chosen>"
    return Plan(f"While the application still runs on the old database: check the extensions "
                f"the dump needs, then stream s3://{a.s3_backup_bucket}/{key} into pg_restore "
                f"in {RECOVERY_POD} (database {ctx.env.postgres.database}, one transaction: all "
                "or nothing; --no-owner --no-acl: no GRANT to a missing role can abort it), "
                "timed",
                (Plan.command("aws", "s3", "cp", f"s3://{a.s3_backup_bucket}/{key}", "-")
                 + " | " + Plan.command("kubectl", "exec", "-i", "-n", ns, RECOVERY_POD, "--",
                                        *restore_command(ctx)),))


async def run_restore(ctx: StepContext) -> AsyncIterator[StepOutput]:
    key = ctx.values.get("dump")
    if not key:
        raise StepFailed("no dump chosen (the S3 listing was empty or unreadable)")
    writer = await ctx.mutations.kube()
    reader = await ctx.kube()
    async for line in check_extensions(ctx, reader):
        yield line
    # The instance step found the database empty in this session, so what is there now is
    # this session's own earlier restore: a console killed mid-restore leaves pg_restore
    # running in the pod (as kubectl exec does), and with the whole dump in its stdin it
    # commits. Restoring over it would stop at the first CREATE TABLE.
    found = await user_relations(ctx, reader)
    if found:
        yield (f"the recovery database already holds {found} relations: this session's "
               "interrupted restore went on in the pod; emptying it and restoring again")
        async for emptying in empty_recovery_database(ctx, reader):
            yield emptying
    started = time.monotonic()
    dump = DumpStream(ctx, key)
    # the size (a HEAD, for the progress) is asked while the exec connection opens and
    # the object already streams, rather than before
    sizing = asyncio.create_task(dump.find_size())
    total: int | None = None
    execution = writer.exec(RECOVERY_POD, restore_command(ctx), stdin=dump.chunks())
    errors: list[str] = []
    try:
        async for item in execution:
            if total is None and sizing.done():
                total = sizing.result() or 0
                yield f"restoring {key} ({human_size(total)}) into {RECOVERY_POD}"
            if isinstance(item, ExecSent):
                yield Progress(item.sent, total or None, "bytes sent")
            elif isinstance(item, ExecLine):
                yield Line(item.text, item.stream)
                if "error" in item.text.lower():
                    errors.append(item.text)
        if total is None:
            total = await sizing or 0
            yield f"restored {key} ({human_size(total)}) into {RECOVERY_POD}"
            yield Progress(execution.sent, total or None, "bytes sent")
    finally:
        sizing.cancel()  # still asking when the exec failed; a done one is left as it is
        with contextlib.suppress(BaseException):
            await sizing
    yield f"{human_size(execution.sent)} of {human_size(total)} sent"
    if execution.code != 0:
        why = errors[-1] if errors else "see the output above"
        raise StepFailed(f"pg_restore exited {execution.code}: {why}")
    seconds = time.monotonic() - started
    ctx.cache["pitr.restore_seconds"] = seconds
    ctx.note("restore timed", seconds=round(seconds, 2), dump=key)
    yield f"pg_restore finished: exit 0 after {seconds:.1f}s (the application kept running)"


async def check_extensions(ctx: StepContext, reader: KubeReader) -> AsyncIterator[str]:
    needed = ctx.cache.get("pitr.extensions")
    if needed is None:
        yield "extensions: not known in this run (resumed?); pg_restore will stop on a missing one"
        return
    if not needed:
        yield "extensions: the dump needs none"
        return
    code, lines = await run_in_pod(reader.exec_target(RECOVERY_POD, psql_in_pod(
        ctx, "SELECT name FROM pg_available_extensions")))
    available = {line.text.strip() for line in lines if line.stream == "stdout"}
    missing = [e for e in needed if e not in available]
    if code != 0 or missing:
        raise StepFailed(f"the recovery instance lacks extensions the dump needs: "
                         f"{', '.join(missing) or '(could not list them)'}; use an image "
                         "that has them")
    yield f"extensions the dump needs are available: {', '.join(needed)}"
