"""Cluster faults, settable at run time: crashloops, OOM kills, bad images, sick nodes,
load, failing Velero runs and expiring certificates.

These are the incidents the runbook's wizards are rehearsed against. A fault is state kept
in ``cluster.extras["chaos"]`` that the controllers consult on every sync; setting one
wakes the controllers concerned so it shows within an emulated second or two, exactly as
the symptom would appear on a real cluster (CrashLoopBackOff with rising restarts,
``lastState.terminated.reason: OOMKilled``, ErrImagePull, NotReady nodes, ...).
HTTP-level faults (latency, error codes, hangs) belong to the API server, not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store import Obj
from . import podspec


@dataclass
class CrashTarget:
    namespace: str
    pod: str | None = None  # one pod by name, or...
    selector: dict[str, str] | None = None  # ...every pod with these labels (incl. new ones)
    container: str | None = None  # None: every container of the pod
    reason: str = "Error"  # or OOMKilled

    def matches(self, pod: Obj, container: str) -> bool:
        meta = pod.get("metadata", {})
        if meta.get("namespace") != self.namespace:
            return False
        if self.container and self.container != container:
            return False
        if self.pod is not None:
            return meta.get("name") == self.pod
        return podspec.labels_match({"matchLabels": self.selector or {}}, meta.get("labels"))


@dataclass
class LoadRule:
    factor: float
    memory: float | None = None
    namespace: str | None = None
    selector: dict[str, str] | None = None

    def matches(self, pod: Obj) -> bool:
        meta = pod.get("metadata", {})
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        return podspec.labels_match({"matchLabels": self.selector or {}}, meta.get("labels"))


@dataclass
class ChaosState:
    crashes: list[CrashTarget] = field(default_factory=list)
    oom_once: set[tuple[str, str]] = field(default_factory=set)
    bad_images: set[str] = field(default_factory=set)
    node_status: dict[str, str] = field(default_factory=dict)  # node -> "False" | "Unknown"
    load: list[LoadRule] = field(default_factory=list)
    velero_outcome: dict[str, str] = field(default_factory=dict)  # "backups"/"restores"
    broken_certificates: set[tuple[str, str]] = field(default_factory=set)

    def crash_reason(self, pod: Obj, container: str) -> str | None:
        for target in reversed(self.crashes):
            if target.matches(pod, container):
                return target.reason
        return None

    def load_for(self, pod: Obj) -> tuple[float, float]:
        """(cpu factor, memory factor) for a pod; the most recent matching rule wins."""
        for rule in reversed(self.load):
            if rule.matches(pod):
                memory = rule.memory if rule.memory is not None else 1.0 + (rule.factor - 1) * 0.3
                return rule.factor, memory
        return 1.0, 1.0


def state(cluster) -> ChaosState:
    return cluster.extras.setdefault("chaos", ChaosState())


def _wake(cluster, *resources: str) -> None:
    controllers = cluster.extras.get("controllers")
    if controllers is not None:
        for resource in resources:
            controllers.poke(resource)


# ---- pods ------------------------------------------------------------------------------
def crashloop(cluster, namespace: str, *, pod: str | None = None,
              selector: dict[str, str] | None = None, container: str | None = None,
              reason: str = "Error") -> None:
    """Make matching containers exit (code 1, or 137 for OOMKilled) a few seconds after
    every start, so they go into CrashLoopBackOff with a rising restartCount."""
    if pod is None and selector is None:
        raise ValueError("crashloop needs a pod name or a label selector")
    state(cluster).crashes.append(CrashTarget(namespace, pod, selector, container, reason))
    _wake(cluster, "pods")


def oom_kill(cluster, namespace: str, pod: str, *, repeat: bool = False) -> None:
    """OOM-kill a pod's containers once (restart, ``lastState`` OOMKilled, exit 137), or
    on every start when ``repeat``."""
    if repeat:
        crashloop(cluster, namespace, pod=pod, reason="OOMKilled")
        return
    state(cluster).oom_once.add((namespace, pod))
    _wake(cluster, "pods")


def mark_image_bad(cluster, image: str) -> None:
    """Pulls of ``image`` fail (ErrImagePull / ImagePullBackOff), so a rollout to it
    never becomes available and hits its progress deadline."""
    state(cluster).bad_images.add(image)
    _wake(cluster, "pods")


def set_node_ready(cluster, node: str, status: str = "True") -> None:
    """``"False"``: kubelet reports NotReady; ``"Unknown"``: kubelet stopped reporting
    (unreachable); ``"True"``: healthy again."""
    if status not in ("True", "False", "Unknown"):
        raise ValueError("node Ready status must be True, False or Unknown")
    if status == "True":
        state(cluster).node_status.pop(node, None)
    else:
        state(cluster).node_status[node] = status
    _wake(cluster, "nodes", "pods")


def set_load(cluster, factor: float, *, memory: float | None = None,
             namespace: str | None = None, selector: dict[str, str] | None = None) -> None:
    """Multiply the CPU usage of matching pods by ``factor`` (memory by ``memory``, or a
    gentler rise derived from ``factor``). ``factor=1`` with no scope resets the load."""
    chaos = state(cluster)
    if namespace is None and selector is None and factor == 1.0 and memory is None:
        chaos.load.clear()
    else:
        chaos.load.append(LoadRule(factor, memory, namespace, selector))
    metrics = cluster.extras.get("controllers")
    if metrics is not None:
        metrics.metrics.wake()


def set_velero_outcome(cluster, outcome: str | None, *, kind: str = "all") -> None:
    """Make new Velero Backups/Restores end ``PartiallyFailed`` or ``Failed`` (None:
    Completed). ``kind``: ``backups``, ``restores`` or ``all``. An annotation
    ``sandbox.mcp-ops/outcome`` on one object overrides this."""
    if outcome not in (None, "Completed", "PartiallyFailed", "Failed"):
        raise ValueError("outcome must be Completed, PartiallyFailed or Failed")
    kinds = ("backups", "restores") if kind == "all" else (kind,)
    for k in kinds:
        if outcome in (None, "Completed"):
            state(cluster).velero_outcome.pop(k, None)
        else:
            state(cluster).velero_outcome[k] = outcome


def expire_certificate(cluster, namespace: str, name: str, days: float) -> None:
    """Make a Certificate expire ``days`` from now with automatic renewal failing, until an
    operator renews it by hand (the runbook's ``kubectl annotate``)."""
    from .certificates import set_expiry

    state(cluster).broken_certificates.add((namespace, name))
    set_expiry(cluster, namespace, name, days)


def heal(cluster) -> None:
    """Clear every fault set here."""
    cluster.extras["chaos"] = ChaosState()
    _wake(cluster, "nodes", "pods", "certificates.cert-manager.io")
