"""The ``service-outage`` wizard — the guide's "Service Outage Response".

1. *Assess* (read): the health check as ``mcp-ops check`` makes it, the nodes, and every pod
   in every namespace that is not Ready — the runbook's ``kubectl get pods -A | grep -v
   Running`` hides a pod that is Running but not Ready (a crash loop between crashes, a
   failing readiness probe), which is exactly the pod that does not serve. The list is read
   in pages (``limit``/``continue``), so a cluster of any size is read whole.
2. *Divert traffic* (change, a choice): apply the maintenance page named in
   ``maintenance.mode_manifest`` (its content shown in the plan first), or point the
   service's DNS record (``aws.route53_record``) at ``aws.route53_staging_target``; or
   nothing.
3. *Root cause* (read): the rollout history with change causes, the namespace's events by
   time (newest last, warnings marked), and the EC2 instances tagged with the environment
   and their state.
4. *Recover* (change, a choice): ``rollout undo`` (to the previous revision), ``rollout
   restart``, or a hand-over to the ``velero-restore`` or ``dr-failover`` wizard with the
   environment filled in; then the health check must pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from console.collectors import kube_parse
from console.execution.context import StepContext
from console.execution.inputs import ChoiceInput
from console.execution.kube.ops import CreateObject, KubeOp, RolloutRestart, RolloutUndo
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status

from .library import diagnosis_step, follow_rollout, health_check_step, kube_plan

PAGE = 500


# ---- 1. assess --------------------------------------------------------------------------
async def all_pods(ctx: StepContext) -> list[Any]:
    """Every pod of the cluster, page by page."""
    reader = await ctx.kube()
    pods: list[Any] = []
    token: str | None = None
    now = datetime.now(UTC)
    while True:
        kwargs: dict[str, Any] = {"limit": PAGE}
        if token:
            kwargs["_continue"] = token
        body = await reader.get("CoreV1Api", "list_pod_for_all_namespaces", **kwargs)
        pods += [kube_parse.pod(o, now, None, None) for o in body.get("items", [])]
        token = (body.get("metadata") or {}).get("continue")
        if not token:
            return pods


async def assess(ctx: StepContext) -> list[Finding]:
    out: list[Finding] = []
    for component in ("service", "pods"):
        health = await ctx.health(component)
        for finding in health.findings:
            out.append(finding)
    reader = await ctx.kube()
    nodes = await reader.nodes()
    for node in nodes:
        if not node.ready:
            out.append(Finding("nodes", f"node.{node.name}", Status.CRITICAL,
                               f"node {node.name} NotReady"))
    ready_nodes = sum(1 for n in nodes if n.ready)
    out.append(Finding("nodes", "nodes", Status.HEALTHY if ready_nodes == len(nodes)
                       else Status.WARNING, f"{ready_nodes}/{len(nodes)} nodes Ready"))
    return out + pod_findings(await all_pods(ctx))


def pod_findings(pods: list[Any]) -> list[Finding]:
    """Every pod not Ready (completed ones aside), and how many are."""
    out: list[Finding] = []
    bad = [p for p in pods if not p.is_ready and p.phase != "Succeeded"]
    for pod in bad:
        # kubectl's STATUS column is the waiting reason when there is one, else the phase
        hidden = " — Running but not Ready: `grep -v Running` hides it" \
            if pod.phase == "Running" and not pod.waiting_reason else ""
        why = pod.waiting_reason or pod.phase
        out.append(Finding("pods", f"pod.{pod.namespace}.{pod.name}", Status.CRITICAL,
                           f"{pod.namespace}/{pod.name}: {why}, {pod.restarts} restarts"
                           f"{hidden}"))
    out.append(Finding("pods", "all", Status.HEALTHY if not bad else Status.WARNING,
                       f"{len(pods) - len(bad)}/{len(pods)} pods Ready in all namespaces"))
    return out


def assess_commands(ctx: StepContext) -> list[str]:
    return ["mcp-ops check " + ctx.env_name + " --format json",
            Plan.command("kubectl", "get", "nodes"),
            Plan.command("kubectl", "get", "pods", "-A", "--chunk-size=500", "-o",
                         "custom-columns=NS:.metadata.namespace,NAME:.metadata.name,"
                         "PHASE:.status.phase,READY:.status.conditions[?(@.type==\"Ready\")]"
                         ".status") + " | grep -v True"]


# ---- 2. divert --------------------------------------------------------------------------
def maintenance_docs(ctx: StepContext) -> list[dict[str, Any]]:
    path = ctx.env.maintenance.mode_manifest
    if not path:
        raise StepFailed("maintenance.mode_manifest is not set in the config")
    docs = [d for d in yaml.safe_load_all(Path(path).expanduser().read_text()) if d]
    if not all(isinstance(d, dict) and d.get("kind") for d in docs):
        raise StepFailed(f"{path}: not a Kubernetes manifest")
    return docs


def divert_ops(ctx: StepContext) -> list[KubeOp]:
    if ctx.values.get("divert") != "maintenance":
        return []
    ns = ctx.env.kubernetes.namespace
    return [CreateObject(doc, namespace=ns, apply=True) for doc in maintenance_docs(ctx)]


def plan_divert(ctx: StepContext) -> Plan:
    choice = ctx.values.get("divert") or "none"
    if choice == "maintenance":
        return kube_plan(ctx, "Apply the maintenance page "
                              f"({ctx.env.maintenance.mode_manifest}), shown here in full",
                         divert_ops(ctx))
    if choice == "fallback":
        a = ctx.env.aws
        return Plan(f"Point {a.route53_record} at {a.route53_staging_target} (the configured "
                    "fallback), TTL 60",
                    (Plan.command("aws", "route53", "change-resource-record-sets",
                                  "--hosted-zone-id", a.route53_zone_id or "<zone>",
                                  "--change-batch", "UPSERT CNAME "
                                  f"{a.route53_record} -> {a.route53_staging_target}"),))
    return Plan("Divert nothing (answer divert=maintenance or divert=fallback to divert)")


async def run_divert(ctx: StepContext) -> AsyncIterator[StepOutput]:
    choice = ctx.values.get("divert") or "none"
    if choice == "none":
        yield "no traffic diverted"
        return
    if choice == "maintenance":
        writer = await ctx.mutations.kube()
        for op in divert_ops(ctx):
            yield await writer.apply(op)
        return
    from console.execution.writers.aws import DnsRecord

    a = ctx.env.aws
    if not (a.route53_zone_id and a.route53_record and a.route53_staging_target):
        raise StepFailed("aws.route53_zone_id, route53_record and route53_staging_target "
                         "must be set to divert by DNS")
    reader = await ctx.aws()
    before = await reader.record(a.route53_zone_id, a.route53_record, "CNAME")
    ctx.note("DNS record before the diversion", record=a.route53_record,
             values=list(before.values) if before else None)
    aws = await ctx.mutations.aws()
    change = await aws.upsert_record(
        a.route53_zone_id, DnsRecord(a.route53_record, "CNAME", (a.route53_staging_target,),
                                     ttl=60), comment="mcp-ops service-outage: divert")
    yield f"{a.route53_record} -> {a.route53_staging_target} (change {change.id} {change.status})"


# ---- 3. root cause ---------------------------------------------------------------------
def plan_cause(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan("Recent changes, events by time, and the environment's EC2 instances",
                (Plan.command("kubectl", "rollout", "history", f"deployment/{k.deployment}",
                              "-n", k.namespace),
                 Plan.command("kubectl", "get", "events", "-n", k.namespace,
                              "--sort-by=.lastTimestamp"),
                 Plan.command("aws", "ec2", "describe-instances", "--filters",
                              f"Name=tag:Environment,Values={ctx.env.aws.ec2_environment_tag}")))


async def run_cause(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    history = await reader.rollout_history()
    current = (await reader.deployment()).revision if history else None
    yield "REVISION  CHANGE-CAUSE"
    for rev in history:
        mark = "  <- current" if str(rev.number) == str(current) else ""
        yield f"{rev.number:<9} {rev.change_cause or '<none>'}  {', '.join(rev.images)}{mark}"
    events = sorted(await reader.events(), key=lambda e: -e.age_seconds)[-25:]
    yield "events, oldest first (last 25):"
    for e in events:
        flag = "!" if e.type == "Warning" else " "
        yield f"{flag} {e.age_seconds:>6.0f}s ago  {e.reason:<18} {e.object}: {e.message}"
    tag = ctx.env.aws.ec2_environment_tag
    try:
        instances = await (await ctx.aws()).instances({"tag:Environment": [tag]})
    except Exception as exc:  # noqa: BLE001 - AWS unreachable is a finding, not a crash
        yield f"EC2: could not list instances tagged Environment={tag}: {exc}"
        return
    yield f"EC2 instances tagged Environment={tag}: {len(instances)}"
    for inst in instances:
        yield f"  {inst.id} {inst.name or ''} {inst.type} {inst.state} {inst.availability_zone or ''}"
    stopped = [i for i in instances if i.state != "running"]
    if stopped:
        yield "not running: " + ", ".join(f"{i.id} ({i.state})" for i in stopped)


# ---- 4. recover ----------------------------------------------------------------------------
def recover_ops(ctx: StepContext) -> list[KubeOp]:
    k = ctx.env.kubernetes
    choice = ctx.values.get("recover")
    if choice == "undo":
        return [RolloutUndo(k.deployment, k.namespace)]
    if choice == "restart":
        return [RolloutRestart(k.deployment, k.namespace)]
    return []


def handover(ctx: StepContext) -> str | None:
    choice = ctx.values.get("recover")
    if choice == "velero-restore":
        return f"mcp-ops run velero-restore --env {ctx.env_name}"
    if choice == "dr-failover":
        dr = ctx.env.disaster_recovery.environment or "<disaster_recovery.environment>"
        return f"mcp-ops run dr-failover --env {dr}"
    return None


def plan_recover(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    if (command := handover(ctx)) is not None:
        return Plan(f"Hand over to another wizard, environment filled in: {command}",
                    (command,))
    ops = recover_ops(ctx)
    if not ops:
        return Plan("Recover nothing here (answer recover=undo|restart|velero-restore|"
                    "dr-failover)")
    return kube_plan(ctx, f"{ops[0].command()} and follow the rollout to Ready", ops,
                     Plan.command("kubectl", "rollout", "status", f"deployment/{k.deployment}",
                                  "-n", k.namespace))


async def run_recover(ctx: StepContext) -> AsyncIterator[StepOutput]:
    if (command := handover(ctx)) is not None:
        ctx.note("handed over", command=command)
        yield f"hand-over: run `{command}` next (this wizard changes nothing more)"
        return
    ops = recover_ops(ctx)
    if not ops:
        yield "nothing recovered here"
        return
    writer = await ctx.mutations.kube()
    for op in ops:
        yield await writer.apply(op)
    async for item in follow_rollout(ctx, timeout=240):
        yield item


DIVERT = ChoiceInput("divert", "Divert traffic", choices=("none", "maintenance", "fallback"),
                     default="none",
                     help="maintenance: apply maintenance.mode_manifest; fallback: point the "
                          "DNS record at aws.route53_staging_target")
RECOVER = ChoiceInput("recover", "Recovery", default="undo",
                      choices=("undo", "restart", "velero-restore", "dr-failover", "none"),
                      help="undo: rollout undo to the previous revision; restart: rollout "
                           "restart; velero-restore / dr-failover: hand over to that wizard")

WIZARD = Wizard(
    id="service-outage",
    title="Complete service outage",
    section="Emergency Procedures › Service Outage Response",
    when="The service is down for everyone: assess, divert traffic, find the cause, recover.",
    steps=(
        diagnosis_step(
            "assess", "Immediate assessment",
            "The health check, the nodes and every pod not Ready in any namespace. The "
            "runbook's `kubectl get pods -A | grep -v Running` hides pods that are Running "
            "but not Ready — a crash loop between crashes, a failing readiness probe — the "
            "very pods that do not serve. Read page by page, so any cluster is read whole.",
            diagnose=assess, commands=assess_commands, timeout=120,
            summary="Health check, nodes, every pod not Ready in any namespace"),
        Step("divert", "Divert traffic",
             "The maintenance page from the config (its manifest shown first) or the DNS "
             "record pointed at the configured fallback, so users see something while the "
             "cause is found.",
             Risk.CHANGE, plan_divert, run_divert, inputs=(DIVERT,),
             applies=lambda v: v.get("divert", "none") != "none"),
        Step("root-cause", "Root cause",
             "What changed (rollout history and its change causes), what happened (events "
             "by time, warnings marked) and the machines under it (EC2 instances tagged with "
             "the environment, their state).",
             Risk.READ, plan_cause, run_cause, timeout=60),
        Step("recover", "Recover",
             "Undo the last rollout (the usual cause), restart, or hand over to the "
             "Velero-restore or DR-failover wizard with the environment filled in.",
             Risk.DESTRUCTIVE, plan_recover, run_recover, inputs=(RECOVER,),
             applies=lambda v: v.get("recover", "undo") != "none", timeout=300),
        health_check_step("The service answers again and its pods are Ready.",
                          step_id="verify", title="Verify the recovery"),
    ))
