"""Act where you look: one-step actions on the row under the cursor of a drill-down.

k9s deletes a pod or restarts a deployment from the row under the cursor; pg_activity
cancels or terminates a backend with a y/n. Each action here is a :class:`Wizard` of one
step, run through the runner like any wizard — so it goes through the executor: refused in
read-only mode before any client call, its plan showing the equivalent command, confirmed
by its risk, written to a session log, holding the environment's lease. What it acts on is
fixed when the action is made (the pod, the node, the backend and its query), so the plan
and the confirmation name exactly what the operator chose.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from actions.library import velero_backup_step
from actions.library.plan import apply_all, kube_plan
from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.kube.drain import DrainOptions
from console.execution.kube.ops import (
    Cordon,
    DeleteObject,
    DrainNode,
    KubeOp,
    RolloutRestart,
    RolloutUndo,
    ScaleDeployment,
)
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput, Wizard
from console.execution.writers.sql import SqlWriter

SECTION = "Panel action"


def _one_step(action_id: str, title: str, when: str, step: Step) -> Wizard:
    return Wizard(id=f"action-{action_id}", title=title, section=SECTION, when=when,
                  steps=(step,))


def _kube_action(action_id: str, title: str, explanation: str, ops: Sequence[KubeOp],
                 summary: str, *, risk: Risk = Risk.CHANGE, timeout: float = 120.0) -> Wizard:
    def plan(ctx: StepContext) -> Plan:
        return kube_plan(ctx, summary, ops)

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        async for line in apply_all(ctx, ops):
            yield line

    return _one_step(action_id, title, explanation,
                     Step(action_id, title, explanation, risk, plan, run, timeout=timeout))


# ---- pods and the deployment -------------------------------------------------------------
def delete_pod(namespace: str, pod: str) -> Wizard:
    return _kube_action(
        "delete-pod", f"Delete pod {pod}",
        "The pod is deleted with its grace period; its ReplicaSet starts a new one. A pod "
        "that is not owned by a controller is gone for good.",
        [DeleteObject("Pod", pod, namespace)], f"Delete pod {pod} in {namespace}")


def restart_deployment(namespace: str, deployment: str) -> Wizard:
    return _kube_action(
        "rollout-restart", f"Restart deployment {deployment}",
        "A rolling restart: new pods replace the old ones within the deployment's surge and "
        "unavailability limits, as `kubectl rollout restart` does.",
        [RolloutRestart(deployment, namespace)], f"Rolling restart of deployment/{deployment}")


def undo_deployment(namespace: str, deployment: str, revision: str | None) -> Wizard:
    was = f" (now at revision {revision})" if revision else ""
    return _kube_action(
        "rollout-undo", f"Roll back deployment {deployment}",
        "The deployment goes back to its previous revision's pod template; the current one "
        "stays in the history, so this can itself be undone.",
        [RolloutUndo(deployment, namespace)],
        f"Roll deployment/{deployment} back to its previous revision{was}")


def scale_deployment(namespace: str, deployment: str, current: int, delta: int) -> Wizard:
    target = max(current + delta, 0)
    return _kube_action(
        "scale", f"Scale deployment {deployment} to {target}",
        f"From {current} to {target} replicas. An HPA whose minimum is above the new count "
        "(or maximum below it) scales it back: change the HPA with the scaling wizard to "
        "keep it.", [ScaleDeployment(deployment, namespace, target)],
        f"Scale deployment/{deployment} from {current} to {target} replicas")


def cordon_node(node: str, *, undo: bool) -> Wizard:
    verb = "Uncordon" if undo else "Cordon"
    return _kube_action(
        "uncordon" if undo else "cordon", f"{verb} node {node}",
        "New pods may be scheduled on the node again." if undo else
        "No new pod is scheduled on the node; the pods on it keep running.",
        [Cordon(node, undo=undo)], f"{verb} node/{node}")


def drain_node(node: str) -> Wizard:
    options = DrainOptions(delete_emptydir_data=True)  # as the runbook drains
    return _kube_action(
        "drain", f"Drain node {node}",
        "Cordon the node and evict its pods (DaemonSet pods stay; a PodDisruptionBudget's "
        "refusal is retried, its reason shown): the runbook's drain with "
        "--ignore-daemonsets --delete-emptydir-data. Uncordon it when the work is done.",
        [Cordon(node), DrainNode(node, options)], f"Cordon and drain node/{node}",
        risk=Risk.DESTRUCTIVE, timeout=options.timeout + 30)


# ---- database backends ---------------------------------------------------------------------
def _backend(action_id: str, title: str, explanation: str, pid: int, query: str,
             age: str, risk: Risk, sql: str, terminate: bool) -> Wizard:
    shown = " ".join(query.split())[:200] or "(no query)"

    def plan(ctx: StepContext) -> Plan:
        return Plan(f"{title}: backend {pid}, running for {age}: {shown}",
                    (Plan.command("psql", "-c", sql),))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        writer = await ctx.mutations.sql()
        done = await (writer.terminate_backend(pid) if terminate else writer.cancel_backend(pid))
        if not done:
            raise StepFailed(f"backend {pid} is gone or not ours to signal (nothing done)")
        yield f"backend {pid} {'terminated' if terminate else 'cancelled'}"

    return _one_step(action_id, f"{title} {pid}", explanation,
                     Step(action_id, f"{title} {pid}", explanation, risk, plan, run,
                          timeout=30))


def cancel_backend(pid: int, query: str, age: str) -> Wizard:
    return _backend(
        "cancel-backend", "Cancel the query of backend",
        "pg_cancel_backend: the running statement stops with an error, the session and its "
        "transaction stay (a blocker inside an open transaction keeps its locks: terminate "
        "it then).", pid, query, age, Risk.CHANGE, SqlWriter.cancel_backend_sql(pid),
        terminate=False)


def terminate_backend(pid: int, query: str, age: str) -> Wizard:
    return _backend(
        "terminate-backend", "Terminate backend",
        "pg_terminate_backend: the session ends, its open transaction is rolled back and its "
        "locks are released; the application sees a dropped connection.", pid, query, age,
        Risk.DESTRUCTIVE, SqlWriter.terminate_backend_sql(pid), terminate=True)


# ---- backups -------------------------------------------------------------------------------
def backup_now(namespace: str) -> Wizard:
    name = f"manual-backup-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    step = velero_backup_step(
        "backup-now", "Take a Velero backup now",
        "A Velero backup of the namespace, followed to Completed and verified (no errors, "
        "every item backed up).", name=lambda ctx: name, namespaces=lambda ctx: [namespace])
    return _one_step("backup-now", f"Back up {namespace} now", step.explanation, step)


# ---- cache -----------------------------------------------------------------------------------
def reset_slowlog() -> Wizard:
    def plan(ctx: StepContext) -> Plan:
        return Plan("Empty Redis's slow log (SLOWLOG RESET)",
                    (Plan.command("redis-cli", "SLOWLOG", "RESET"),))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        reply = await (await ctx.mutations.redis()).command("SLOWLOG", "RESET")
        yield f"slow log reset ({reply!r})"

    explanation = ("The slow log's entries are dropped, so the next slow commands stand out; "
                   "nothing else changes.")
    return _one_step("slowlog-reset", "Reset the Redis slow log", explanation,
                     Step("slowlog-reset", "Reset the Redis slow log", explanation, Risk.CHANGE,
                          plan, run, timeout=30))


@dataclass(frozen=True)
class KeyPatternInput(Input):
    """A Redis glob pattern that names a part of the keyspace (never the whole of it)."""

    kind: str = field(default="key pattern", init=False)

    async def convert(self, text: str, ctx: StepContext) -> Any:
        text = str(await super().convert(text, ctx))
        if " " in text:
            raise InputError("a key pattern has no spaces")
        if set(text) <= {"*", "?"}:
            raise InputError(f"{text!r} matches every key: that is FLUSHDB (use the Redis "
                             "troubleshooting wizard)")
        return text


PATTERN = KeyPatternInput("pattern", "Keys to delete (a pattern, e.g. session:*)",
                          help="SCAN MATCH syntax: * any characters, ? one character")


def delete_keys() -> Wizard:
    """Count first (shown), then SCAN + UNLINK in batches: the server never blocks."""

    def plan(ctx: StepContext) -> Plan:
        pattern = ctx.values.get("pattern") or "<pattern>"
        return Plan(f"Count the keys matching {pattern!r} and their memory, then delete them "
                    "with SCAN + UNLINK in batches of 500",
                    (Plan.command("redis-cli", "--scan", "--pattern", pattern),
                     "redis-cli --scan --pattern " + pattern + " | xargs -n 500 redis-cli UNLINK"))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        pattern = ctx.values["pattern"]
        writer = await ctx.mutations.redis()
        size = await writer.count_pattern(pattern)
        yield f"{size.keys} keys match {pattern!r}, about {size.bytes / 2**20:.1f} MiB"
        if not size.keys:
            return
        removed = 0
        async for removed in writer.unlink_pattern(pattern):
            yield Progress(min(removed, size.keys), size.keys, "keys unlinked")
        yield f"{removed} keys unlinked"

    explanation = ("Deletes one part of the cache, the keys matching the pattern; the "
                   "application reads them again from the database (a burst of misses). "
                   "UNLINK frees memory in the background, so a big pattern does not stall "
                   "Redis the way DEL or FLUSHDB would.")
    return _one_step("delete-keys", "Delete cache keys by pattern", explanation,
                     Step("delete-keys", "Delete cache keys by pattern", explanation,
                          Risk.DESTRUCTIVE, plan, run, inputs=(PATTERN,), timeout=600))
