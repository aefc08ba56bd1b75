"""Stopping and restoring the application's traffic around a database recovery.

Stop: the replica count is remembered (annotation ``mcp-ops.pratiko.ai/pitr-replicas-before``
on the Deployment, written *before* scaling, kept as it is when a retry finds the
deployment already at 0), then the deployment goes to 0 and the step waits until no pod is
left. The HPA is not touched: Kubernetes disables an autoscaler whose target is at 0
replicas ("scaling is disabled since the replica count of the target is zero") and
re-enables it when replicas come back; the step still watches that nothing scales the
deployment up while it waits.

The moment traffic stops is kept too (annotation ``mcp-ops.pratiko.ai/pitr-stopped-at``,
epoch seconds), so the outage — replicas 0 until every replica is ready again — is measured
and printed when the application is back, next to the restore time it no longer contains.

Back: scale to the remembered count, follow the rollout, and drop the annotations. The way
back does the same after putting the previous database host back into the credentials
secret, if the switch had happened.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from console.config.model import KubernetesSettings
from console.execution.context import StepContext
from console.execution.kube.ops import Annotate, ScaleDeployment
from console.execution.model import Plan, Progress, StepFailed, StepOutput

from ..library.plan import commands
from ..library.rollout import follow_rollout
from .pitr_common import (
    HOST_KEY,
    REMEMBERED,
    previous_host_secret,
    recovery_host,
    remembered_replicas,
)
from .pitr_verify import record_switch

POLL_SECONDS = 0.5
STOPPED_AT = "mcp-ops.pratiko.ai/pitr-stopped-at"


def _k(ctx: StepContext) -> KubernetesSettings:
    return ctx.env.kubernetes


def _scale(ctx: StepContext, replicas: int) -> ScaleDeployment:
    k = _k(ctx)
    return ScaleDeployment(k.deployment, k.namespace, replicas)


def _remember(ctx: StepContext, replicas: int | None) -> Annotate:
    k = _k(ctx)
    return Annotate("Deployment", k.deployment, k.namespace,
                    {REMEMBERED: None if replicas is None else str(replicas)})


def _stopped_at(ctx: StepContext, at: float | None) -> Annotate:
    k = _k(ctx)
    return Annotate("Deployment", k.deployment, k.namespace,
                    {STOPPED_AT: None if at is None else f"{at:.3f}"})


def _forget(ctx: StepContext) -> Annotate:
    k = _k(ctx)
    return Annotate("Deployment", k.deployment, k.namespace, {REMEMBERED: None, STOPPED_AT: None})


# ---- stop ------------------------------------------------------------------------------
def plan_stop(ctx: StepContext) -> Plan:
    k = _k(ctx)
    return Plan(f"Remember the replica count of deployment/{k.deployment} (annotation "
                f"{REMEMBERED}), scale it to 0 and wait until no pod ({k.app_selector}) is "
                "left; the HPA is disabled while the target is at 0",
                (Plan.command("kubectl", "annotate", f"deployment/{k.deployment}", "-n",
                              k.namespace, f"{REMEMBERED}=<current replicas>"),
                 *commands(ctx, [_scale(ctx, 0)]),
                 Plan.command("kubectl", "wait", "--for=delete", "pod", "-l", k.app_selector,
                              "-n", k.namespace, "--timeout=300s")))


async def run_stop(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = _k(ctx)
    deployment = await (await ctx.kube()).deployment()
    current = deployment.desired
    remembered = remembered_replicas(deployment.annotations)
    writer = await ctx.mutations.kube()
    if remembered is None:
        remembered = current
        if current == 0:
            remembered = k.normal_replicas
            yield (f"deployment/{k.deployment} is already at 0 with nothing remembered; it will "
                   f"come back at the configured normal count, {remembered}")
        await writer.apply(_remember(ctx, remembered))
        yield f"remembered: deployment/{k.deployment} had {remembered} replicas"
    else:
        yield f"already remembered from an earlier attempt: {remembered} replicas"
    if current != 0:
        if STOPPED_AT not in deployment.annotations:
            await writer.apply(_stopped_at(ctx, time.time()))
        await writer.apply(_scale(ctx, 0))
        yield (f"deployment/{k.deployment} scaled to 0 (was {current}) at "
               f"{datetime.now(UTC):%H:%M:%S} UTC: the outage starts")
    async for item in wait_for_no_pods(ctx, timeout=240):
        yield item


async def wait_for_no_pods(ctx: StepContext, *, timeout: float) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    first: int | None = None
    last = None
    deadline = time.monotonic() + timeout
    while True:
        pods = await reader.pods()
        first = len(pods) if first is None else first
        yield Progress(first - len(pods), first or 1, "pods stopped")
        if len(pods) != last:
            yield f"pods left: {len(pods)}"
            last = len(pods)
        desired = (await reader.deployment()).desired
        if desired != 0:
            raise StepFailed(f"spec.replicas went back to {desired} while waiting: something "
                             "(an HPA with minReplicas 0 enabled, or another operator) scales "
                             "the deployment; stop it before recovering")
        if not pods:
            yield "no application pod left: traffic is stopped"
            return
        if time.monotonic() > deadline:
            raise StepFailed(f"{len(pods)} pods still there after {timeout:.0f}s")
        await asyncio.sleep(POLL_SECONDS)


async def verify_stopped(ctx: StepContext) -> str:
    reader = await ctx.kube()
    deployment = await reader.deployment()
    if deployment.desired != 0 or await reader.pods():
        raise StepFailed("the application is not at 0 replicas")
    return f"0 replicas, {remembered_replicas(deployment.annotations)} remembered"


# ---- back up again ---------------------------------------------------------------------
async def _target(ctx: StepContext) -> tuple[int, str]:
    deployment = await (await ctx.kube()).deployment()
    remembered = remembered_replicas(deployment.annotations)
    if remembered is not None:
        return remembered, f"the remembered count ({REMEMBERED})"
    return _k(ctx).normal_replicas, "the configured normal count (nothing was remembered)"


def plan_restart(ctx: StepContext) -> Plan:
    k = _k(ctx)
    return Plan(f"Scale deployment/{k.deployment} back to the replica count remembered before "
                "traffic was stopped, follow the rollout until every replica is ready, and "
                "forget the remembered count",
                (Plan.command("kubectl", "scale", f"deployment/{k.deployment}",
                              "--replicas=<remembered>", "-n", k.namespace),
                 Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}",
                              "-n", k.namespace),
                 *commands(ctx, [_forget(ctx)])))


async def scale_back(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = _k(ctx)
    replicas, why = await _target(ctx)
    writer = await ctx.mutations.kube()
    await writer.apply(_scale(ctx, replicas))
    yield f"deployment/{k.deployment} scaled to {replicas}: {why}"
    async for item in follow_rollout(ctx, replicas=replicas):
        yield item
    deployment = await (await ctx.kube()).deployment()
    stopped = deployment.annotations.get(STOPPED_AT)
    if stopped:
        outage = time.time() - float(stopped)
        ctx.cache["pitr.outage_seconds"] = outage
        restore = ctx.cache.get("pitr.restore_seconds")
        ctx.note("outage measured", outage_seconds=round(outage, 2),
                 restore_seconds=None if restore is None else round(restore, 2))
        yield (f"OUTAGE: {outage:.1f}s from 0 replicas to {replicas}/{replicas} ready"
               + (f"; the restore ({restore:.1f}s) ran before it, while the application "
                  "still served" if restore is not None else ""))
        started = ctx.cache.get("pitr.started")
        if started is not None:
            whole = time.time() - float(started)
            ctx.cache["pitr.whole_seconds"] = whole
            yield (f"the whole recovery took {whole:.1f}s (instance, restore, verification, "
                   f"switch, restart); the application was down for {outage:.1f}s of it "
                   f"({100 * outage / whole:.0f} %)")
    await writer.apply(_forget(ctx))
    yield (f"{REMEMBERED} and {STOPPED_AT} removed: the recovery's replica count is no longer "
           "needed")


async def verify_running(ctx: StepContext) -> str:
    deployment = await (await ctx.kube()).deployment()
    if not deployment.rollout_complete or deployment.desired == 0:
        raise StepFailed(f"deployment not back: {deployment.rollout_text}")
    return f"{deployment.ready}/{deployment.desired} replicas ready"


# ---- the way back ----------------------------------------------------------------------
def plan_way_back(ctx: StepContext) -> Plan:
    k = _k(ctx)
    return Plan(f"Go back to the old database: if secret/{k.database_secret} was switched to "
                f"{recovery_host(ctx)}, put the previous host back (kept in secret/"
                f"{previous_host_secret(ctx)}); then scale deployment/{k.deployment} to the "
                "remembered count and follow the rollout. The recovery pod is left for "
                "inspection.",
                (Plan.command("kubectl", "patch", "secret", k.database_secret, "-n",
                              k.namespace, "--type", "merge", "-p",
                              '{"data":{"host":"<previous host, base64>"}}'),
                 *commands(ctx, [record_switch(ctx, None)]),
                 *plan_restart(ctx).commands))


async def run_way_back(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = _k(ctx)
    reader = await ctx.kube()
    secret = await reader.secret(k.database_secret) or {}
    host = base64.b64decode((secret.get("data") or {}).get(HOST_KEY, "")).decode()
    kept = await reader.secret(previous_host_secret(ctx))
    if host == recovery_host(ctx):
        if kept is None or HOST_KEY not in (kept.get("data") or {}):
            raise StepFailed(f"secret/{k.database_secret} points at the recovery database "
                             f"but secret/{previous_host_secret(ctx)} with the previous host "
                             "is missing: set the host by hand")
        writer = await ctx.mutations.kube()
        await writer.patch_secret(k.database_secret, {HOST_KEY: kept["data"][HOST_KEY]})
        yield (f"secret/{k.database_secret}: host switched back to the previous database "
               "(value masked)")
        await writer.apply(record_switch(ctx, None))
        yield (f"deployment/{k.deployment}: the switch's record removed (the console watches "
               "postgres.dsn again)")
    else:
        yield f"secret/{k.database_secret} still points at the old database: left untouched"
    async for item in scale_back(ctx):
        yield item
