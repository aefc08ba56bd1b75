"""Node updates, one node at a time: cordon, drain, the OS work by hand, uncordon, Ready.

The runbook drains ``node-1`` and uncordons it, and leaves the rest to the reader. Here the
operator chooses the nodes (default: all of them) and each goes through the same three
steps before the next one is touched:

1. **drain** (``kubectl drain NODE --ignore-daemonsets --delete-emptydir-data``): cordon,
   then evictions through the Eviction API, so the PodDisruptionBudget is honoured — a
   refusal (429) is retried with its reason shown instead of deleting the pod anyway;
   DaemonSet pods stay (their controller would put them straight back), emptyDir data is
   allowed to go as the runbook's flags say. Before it, the service's health is checked:
   a service already degraded is not made worse by taking another node away. Its verify
   reads the node back: cordoned, and no pod left on it but DaemonSet and static pods.
2. **OS work**, by hand (a manual step: ``--set os-update-N-done=yes``).
3. **return**: ``kubectl uncordon``, then wait until the kubelet reports Ready (the runbook
   does not wait), then the health again: if it dropped, the wizard stops here, before the
   next node.

A wizard's steps are fixed, so the nodes are slots: up to :data:`MAX_NODES` per run; the
slots beyond the chosen nodes do not apply and are skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import K8S_NAME, Input, InputError
from console.execution.kube.drain import DrainOptions
from console.execution.kube.ops import Cordon, DrainNode
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput
from console.health.status import Status

from ..library.manual import manual_step
from ..library.plan import kube_plan

MAX_NODES = 12
DRAIN_TIMEOUT = 900.0  # seconds for one node's evictions (PDB retries included)
READY_TIMEOUT = 900.0  # for the kubelet to report Ready after the OS work
HEALTH_COMPONENTS = ("service", "pods")


@dataclass(frozen=True)
class NodesInput(Input):
    """``all`` (every node, in name order) or node names, comma-separated, in that order."""

    kind: str = field(default="nodes", init=False)

    async def options(self, ctx: StepContext) -> list[str]:
        return [n.name for n in await (await ctx.kube()).nodes()]

    async def convert(self, text: str, ctx: StepContext) -> tuple[str, ...]:
        known = await self.options(ctx)
        if text.strip().lower() == "all":
            chosen = known
        else:
            chosen = [part.strip() for part in text.split(",") if part.strip()]
            bad = [n for n in chosen if not K8S_NAME.match(n)]
            if bad:
                raise InputError(f"not node names: {', '.join(map(repr, bad))}")
            unknown = [n for n in chosen if n not in known]
            if unknown:
                raise InputError(f"no such node: {', '.join(unknown)} (nodes: "
                                 f"{', '.join(known) or 'none'})")
            if len(set(chosen)) != len(chosen):
                raise InputError("a node is named twice")
        if not chosen:
            raise InputError("no node chosen (answer all, or node names)")
        if len(chosen) > MAX_NODES:
            raise InputError(f"{len(chosen)} nodes: at most {MAX_NODES} per run; run the "
                             "wizard again for the others")
        return tuple(chosen)

    def show(self, value: object) -> str:
        return ",".join(value) if isinstance(value, tuple) else str(value or "")


NODES = NodesInput("nodes", "Nodes to update, one at a time", default="all",
                   help="all (default), or node names separated by commas, in the order to "
                        "update them; every other node keeps serving meanwhile")


def chosen(values: Mapping[str, Any]) -> tuple[str, ...]:
    nodes = values.get("nodes")
    return nodes if isinstance(nodes, tuple) else ()


def _node(ctx: StepContext, slot: int) -> str:
    nodes = chosen(ctx.values)
    if slot > len(nodes):
        raise StepFailed(f"no node for slot {slot}")
    return nodes[slot - 1]


def _applies(slot: int) -> Callable[[Mapping[str, Any]], bool]:
    return lambda values: len(chosen(values)) >= slot


def _options() -> DrainOptions:
    return DrainOptions(ignore_daemonsets=True, delete_emptydir_data=True,
                        timeout=DRAIN_TIMEOUT)


async def health_gate(ctx: StepContext, where: str) -> AsyncIterator[StepOutput]:
    """The service and its pods judged now; CRITICAL or unreachable stops the wizard."""
    bad = []
    for component in HEALTH_COMPONENTS:
        health = await ctx.health(component)
        yield f"health {component}: {health.status.label}" + (
            f" ({'; '.join(health.reasons[:3])})" if health.reasons else "")
        if health.status >= Status.CRITICAL:
            bad.append(f"{component} {health.status.label}")
    if bad:
        raise StepFailed(f"service health dropped ({', '.join(bad)}): stopping {where}; fix "
                         "it, then retry this step")


async def single_points(ctx: StepContext, node: str) -> list[str]:
    """Warnings for pods on ``node`` whose workload has no other replica: the database
    primary, the cache... are down from their eviction until they run elsewhere (the
    runbook's drain does not say so)."""
    reader = await ctx.kube()
    k = ctx.env.kubernetes
    lines = []
    for pod in await reader.pods(node=node, all_namespaces=True):
        if pod.deleting or pod.mirror or pod.owner_kind == "DaemonSet":
            continue
        for workload, what in ((k.database_workload, "the PostgreSQL primary"),
                               (k.cache_workload, "the Redis master")):
            if pod.namespace == k.namespace and pod.name.startswith(f"{workload}-"):
                lines.append(f"WARNING: {what} ({pod.name}) runs on {node}: it is unavailable "
                             "from its eviction until it runs on another node")
    return lines


def drain_step(slot: int) -> Step:
    def ops(ctx: StepContext) -> list[Any]:
        node = _node(ctx, slot)
        return [Cordon(node), DrainNode(node, _options())]

    def plan(ctx: StepContext) -> Plan:
        nodes = chosen(ctx.values)
        node = _node(ctx, slot)
        return kube_plan(ctx, f"Node {slot} of {len(nodes)}: {node}. Check the service's "
                              "health, then cordon it and evict its pods through the Eviction "
                              "API (PodDisruptionBudget refusals retried with their reason; "
                              "DaemonSet pods left; emptyDir data deleted)", ops(ctx))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        nodes = chosen(ctx.values)
        node = _node(ctx, slot)
        async for line in health_gate(ctx, f"before draining node/{node}"):
            yield line
        yield Progress(slot - 1, len(nodes), "nodes updated")
        for line in await single_points(ctx, node):
            yield line
        writer = await ctx.mutations.kube()
        yield await writer.apply(Cordon(node))
        async for event in writer.drain(node, _options()):
            if event.kind == "skipped":
                yield f"{event.pod}: {event.message}"
            elif event.message and event.kind != "cordoned":  # said just above
                yield event.message
            if event.total:
                yield Progress(event.done, event.total, f"pods evicted from {node}")
                yield Progress(slot - 1 + event.done / event.total, len(nodes),
                               "nodes updated")

    async def verify(ctx: StepContext) -> str:
        node = _node(ctx, slot)
        reader = await ctx.kube()
        info = await reader.node(node)
        if info is None or not info.unschedulable:
            raise StepFailed(f"node/{node} is not cordoned")
        left = [f"{p.namespace}/{p.name}" for p in await reader.pods(node=node,
                                                                      all_namespaces=True)
                if not p.deleting and not p.mirror and p.owner_kind != "DaemonSet"]
        if left:
            raise StepFailed(f"node/{node} still runs {', '.join(left)}")
        return f"node/{node} cordoned, only DaemonSet pods left on it"

    return Step(f"drain-node-{slot}", f"Node update {slot}: drain",
                "System updates: kubectl drain NODE --ignore-daemonsets "
                "--delete-emptydir-data. The runbook drains without looking at the service "
                "first; here a degraded service stops the update before another node goes, "
                "and the PodDisruptionBudget is honoured.",
                Risk.DESTRUCTIVE, plan, run, verify=verify, applies=_applies(slot),
                timeout=DRAIN_TIMEOUT + 60)


def os_step(slot: int) -> Step:
    def items(ctx: StepContext) -> Sequence[str]:
        node = _node(ctx, slot) if len(chosen(ctx.values)) >= slot else f"node {slot}"
        return [f"Apply the OS updates on {node} (cordoned and drained now)",
                f"Reboot {node} if the updates need it"]

    step = manual_step(f"os-update-{slot}", f"Node update {slot}: OS work (by hand)",
                       "Perform OS updates on the node, by hand: it is cordoned and holds no "
                       "application pod. Confirm when done; the next step uncordons it.",
                       items, timeout=60)
    return replace(step, applies=_applies(slot))


def return_step(slot: int) -> Step:
    def plan(ctx: StepContext) -> Plan:
        node = _node(ctx, slot)
        return kube_plan(ctx, f"Uncordon {node}, wait until its kubelet reports Ready, then "
                              "check the service's health before the next node",
                         [Cordon(node, undo=True)],
                         Plan.command("kubectl", "wait", "--for=condition=Ready",
                                      f"node/{node}", f"--timeout={READY_TIMEOUT:g}s"))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        nodes = chosen(ctx.values)
        node = _node(ctx, slot)
        yield await (await ctx.mutations.kube()).apply(Cordon(node, undo=True))
        reader = await ctx.kube()
        deadline = time.monotonic() + READY_TIMEOUT
        said = False
        while True:
            info = await reader.node(node)
            if info is None:
                raise StepFailed(f"node/{node} is gone")
            if info.ready:
                break
            if not said:
                yield f"node/{node} not Ready yet; waiting for its kubelet"
                said = True
            if time.monotonic() > deadline:
                raise StepFailed(f"node/{node} not Ready after {READY_TIMEOUT:g}s: look at "
                                 "the kubelet (journalctl -u kubelet) on the node")
            await asyncio.sleep(1.0)
        yield f"node/{node} Ready and schedulable"
        yield Progress(slot, len(nodes), "nodes updated")
        where = ("before the next node" if slot < len(nodes) else "after the last node")
        async for line in health_gate(ctx, where):
            yield line

    async def verify(ctx: StepContext) -> str:
        node = _node(ctx, slot)
        info = await (await ctx.kube()).node(node)
        if info is None or info.unschedulable or not info.ready:
            raise StepFailed(f"node/{node} is not back: "
                             f"{'cordoned' if info and info.unschedulable else 'not Ready'}")
        return f"node/{node} Ready, schedulable"

    return Step(f"return-node-{slot}", f"Node update {slot}: uncordon, Ready",
                "kubectl uncordon NODE — and, unlike the runbook, wait for Ready and check "
                "the service's health before the next node.",
                Risk.CHANGE, plan, run, verify=verify, applies=_applies(slot),
                timeout=READY_TIMEOUT + 120)


def node_steps() -> list[Step]:
    steps: list[Step] = []
    for slot in range(1, MAX_NODES + 1):
        first = drain_step(slot)
        if slot == 1:  # at least one node is always chosen; its form asks which
            first = replace(first, inputs=(NODES,), applies=None)
        steps += [first, os_step(slot), return_step(slot)]
    return steps
