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
switched to.

The restore streams the chosen S3 dump into ``pg_restore`` over the exec connection's
stdin — nothing is written to local disk — in one transaction, so a corrupt or cut dump
leaves an empty database rather than half of one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import yaml

from console.execution.context import StepContext
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
RESTORE_OPTIONS = ("--clean", "--if-exists", "--no-owner", "--single-transaction", "--verbose")


def _secret_env(ctx: StepContext, name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {
        "name": ctx.env.kubernetes.database_secret, "key": key}}}


def manifests(ctx: StepContext) -> list[dict[str, Any]]:
    """The claim, the pod and its Service, in creation order."""
    ns = ctx.env.kubernetes.namespace
    meta = {"namespace": ns, "labels": dict(RECOVERY_LABELS)}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": RECOVERY_CLAIM, **meta},
             "spec": {"accessModes": ["ReadWriteOnce"],
                      "resources": {"requests": {"storage": CLAIM_SIZE}}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": RECOVERY_POD, **meta},
           "spec": {"containers": [{
               "name": "postgres", "image": RECOVERY_IMAGE,
               "env": [_secret_env(ctx, "POSTGRES_PASSWORD", "password"),
                       _secret_env(ctx, "POSTGRES_USER", "username"),
                       _secret_env(ctx, "POSTGRES_DB", "database"),
                       _secret_env(ctx, "PGUSER", "username"),
                       {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
               "ports": [{"name": "postgres", "containerPort": 5432}],
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
    return Plan(f"Create {RECOVERY_CLAIM}, pod {RECOVERY_POD} ({RECOVERY_IMAGE}) and Service "
                f"{RECOVERY_SERVICE} in {ns} (each only if missing), wait until the pod is "
                "Running and PostgreSQL accepts connections",
                (f"kubectl apply -n {ns} -f - <<EOF\n{text}\nEOF",
                 Plan.command("kubectl", "wait", "--for=condition=Ready", f"pod/{RECOVERY_POD}",
                              "-n", ns, "--timeout=300s"),
                 Plan.command("kubectl", "exec", "-n", ns, RECOVERY_POD, "--", "pg_isready",
                              "-d", ctx.env.postgres.database)))


async def run_instance(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    writer = await ctx.mutations.kube()
    for manifest in manifests(ctx):
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
    return Plan(f"Stream s3://{a.s3_backup_bucket}/{key} into pg_restore in {RECOVERY_POD} "
                f"(database {ctx.env.postgres.database}, one transaction: all or nothing)",
                (Plan.command("aws", "s3", "cp", f"s3://{a.s3_backup_bucket}/{key}", "-")
                 + " | " + Plan.command("kubectl", "exec", "-i", "-n", ns, RECOVERY_POD, "--",
                                        *restore_command(ctx)),))


async def run_restore(ctx: StepContext) -> AsyncIterator[StepOutput]:
    key = ctx.values.get("dump")
    if not key:
        raise StepFailed("no dump chosen (the S3 listing was empty or unreadable)")
    writer = await ctx.mutations.kube()
    async with DumpStream(ctx, key) as dump:
        total = dump.size or 0
        yield f"restoring {key} ({human_size(total)}) into {RECOVERY_POD}"
        execution = writer.exec(RECOVERY_POD, restore_command(ctx), stdin=dump.chunks())
        errors: list[str] = []
        async for item in execution:
            if isinstance(item, ExecSent):
                yield Progress(item.sent, total or None, "bytes sent")
            elif isinstance(item, ExecLine):
                yield Line(item.text, item.stream)
                if "error" in item.text.lower():
                    errors.append(item.text)
    yield f"{human_size(execution.sent)} of {human_size(total)} sent"
    if execution.code != 0:
        why = errors[-1] if errors else "see the output above"
        raise StepFailed(f"pg_restore exited {execution.code}: {why}")
    yield "pg_restore finished: exit 0"
