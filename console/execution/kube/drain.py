"""``kubectl drain``: cordon a node, then evict its pods through the Eviction API.

The rules are kubectl's. Before anything is evicted every pod on the node is sorted:
DaemonSet pods are left (``ignore_daemonsets``; otherwise the drain is refused, as their
controller would put them straight back), mirror pods of static pods are left (the API
cannot remove them), pods with ``emptyDir`` data are evicted only with
``delete_emptydir_data`` (the runbook's ``--delete-emptydir-data``; the data is lost), and
pods no controller will re-create only with ``force``. Any pod that may not go refuses the
whole drain, listed, before the first eviction — the node stays cordoned, as kubectl leaves
it. Evictions go one pod at a time; a ``429`` (a PodDisruptionBudget that would be broken)
is retried with a growing pause, its reason shown, until ``timeout``; an evicted pod is
followed until it is gone from the node. Each step is a :class:`DrainEvent`, so a wizard
can show progress per pod.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from console.collectors.kube_model import PodInfo
from console.sources.kube import KubeError

from ..model import StepFailed

if TYPE_CHECKING:
    from .writer import KubeWriter

CONTROLLERS = ("ReplicaSet", "ReplicationController", "StatefulSet", "Job", "DaemonSet")
EventKind = Literal["cordoned", "skipped", "evicting", "retry", "gone", "done"]


@dataclass(frozen=True)
class DrainOptions:
    ignore_daemonsets: bool = True
    delete_emptydir_data: bool = False
    force: bool = False  # evict pods no controller re-creates (they are gone for good)
    grace_period: int | None = None  # seconds; None: each pod's own
    timeout: float = 300.0
    first_retry: float = 1.0  # pause after the first 429, doubled up to max_retry
    max_retry: float = 5.0


@dataclass(frozen=True)
class DrainEvent:
    kind: EventKind
    pod: str = ""  # namespace/name
    message: str = ""
    done: int = 0  # pods gone so far
    total: int = 0  # pods to evict


def refusal(pod: PodInfo, options: DrainOptions) -> str | None:
    """Why ``pod`` stops a drain with these options (kubectl's wording), or None."""
    if pod.owner_kind == "DaemonSet" and not options.ignore_daemonsets:
        return "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets)"
    if pod.local_storage and not options.delete_emptydir_data and pod.owner_kind != "DaemonSet":
        return "cannot delete Pods with local storage (use --delete-emptydir-data)"
    if pod.owner_kind not in CONTROLLERS and not options.force:
        return ("cannot delete Pods that declare no controller (use --force): nothing would "
                "re-create them")
    return None


def left_alone(pod: PodInfo, options: DrainOptions) -> str | None:
    if pod.mirror:
        return "a static pod's mirror: the kubelet owns it"
    if pod.owner_kind == "DaemonSet" and options.ignore_daemonsets:
        return "DaemonSet-managed"
    return None


async def drain(writer: KubeWriter, node: str,
                options: DrainOptions) -> AsyncIterator[DrainEvent]:
    reader = writer.reader
    deadline = time.monotonic() + options.timeout
    await writer.cordon(node)
    yield DrainEvent("cordoned", message=f"node/{node} cordoned")
    pods = [p for p in await reader.pods(node=node, all_namespaces=True) if not p.deleting]
    evict: list[PodInfo] = []
    refused: list[str] = []
    for pod in pods:
        ref = f"{pod.namespace}/{pod.name}"
        if why := left_alone(pod, options):
            yield DrainEvent("skipped", ref, f"left on the node: {why}")
        elif why := refusal(pod, options):
            refused.append(f"{ref}: {why}")
        else:
            evict.append(pod)
    if refused:
        raise StepFailed(f"node/{node} stays cordoned; not drained: " + "; ".join(refused))
    total = len(evict)
    for done, pod in enumerate(evict):
        ref = f"{pod.namespace}/{pod.name}"
        yield DrainEvent("evicting", ref, f"evicting pod {ref}", done, total)
        pause = options.first_retry
        while True:
            try:
                await writer.evict(pod.name, namespace=pod.namespace,
                                   grace_period=options.grace_period)
                break
            except KubeError as exc:
                if exc.status == 404:
                    break  # gone already
                if exc.status != 429:
                    raise
                reason = "; ".join(exc.causes) or exc.message
                if time.monotonic() + pause > deadline:
                    raise StepFailed(f"drain of node/{node} timed out after "
                                     f"{options.timeout:g}s: {ref} still refused ({reason}); "
                                     "the node stays cordoned") from exc
                yield DrainEvent("retry", ref, f"{exc.message} {reason} — will retry after "
                                               f"{pause:g}s", done, total)
                await asyncio.sleep(pause)
                pause = min(pause * 2, options.max_retry)
        while True:
            still = await reader.pod(pod.name, pod.namespace)
            if still is None or still.node != node:  # gone, or re-created elsewhere
                break
            if time.monotonic() > deadline:
                raise StepFailed(f"pod {ref} still on node/{node} after {options.timeout:g}s")
            await asyncio.sleep(0.2)
        yield DrainEvent("gone", ref, f"pod {ref} evicted", done + 1, total)
    yield DrainEvent("done", message=f"node/{node} drained", done=total, total=total)
