"""The Kubernetes snapshot: the deployment, its HPA, pods, nodes and Warning events.

Plain values only (no client objects), so the snapshot can be rendered, judged, printed as
JSON and compared in tests without the Kubernetes client.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .base import Snapshot


@dataclass(frozen=True, kw_only=True)
class DeploymentInfo:
    name: str
    desired: int = 0
    updated: int = 0
    ready: int = 0
    available: int = 0
    revision: str = ""
    image: str = ""
    rollout: str = ""  # the Progressing condition's reason, e.g. NewReplicaSetAvailable
    rollout_message: str = ""
    namespace: str = ""
    current: int = 0  # status.replicas: every pod of every revision, old ones included
    generation: int = 0
    observed_generation: int = 0
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    uid: str = ""
    resource_version: str = ""

    @property
    def rollout_complete(self) -> bool:
        """``kubectl rollout status`` is done: the controller saw the latest spec and every
        desired replica is updated, ready and available, with no old one left."""
        return (self.observed_generation >= self.generation and self.updated >= self.desired
                and self.ready >= self.desired and self.available >= self.desired
                and self.current == self.desired)

    @property
    def rollout_text(self) -> str:
        return (f"{self.ready}/{self.desired} ready, {self.updated} updated, "
                f"{self.current} total, {self.available} available")


@dataclass(frozen=True, kw_only=True)
class HpaInfo:
    name: str
    current: int = 0
    desired: int = 0
    min: int = 0
    max: int = 0
    cpu_target_pct: int | None = None
    cpu_current_pct: int | None = None
    # spec.metrics as "cpu", "memory", "pods/http_requests"...; the CPU entry's index in it
    metrics: tuple[str, ...] = ()
    cpu_metric_index: int | None = None


@dataclass(frozen=True, kw_only=True)
class PodInfo:
    name: str
    phase: str = ""
    ready: int = 0  # ready containers
    containers: int = 0
    restarts: int = 0
    waiting_reason: str = ""  # e.g. CrashLoopBackOff, ImagePullBackOff
    last_termination: str = ""  # e.g. OOMKilled, Error
    age_seconds: float = 0.0
    node: str = ""
    deleting: bool = False
    cpu_m: float | None = None  # usage from metrics.k8s.io, millicores
    memory_bytes: float | None = None
    cpu_request_m: float | None = None
    cpu_limit_m: float | None = None
    memory_request_bytes: float | None = None
    memory_limit_bytes: float | None = None
    restarts_rising: bool = False  # restarts went up since the previous poll
    namespace: str = ""
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    owner_kind: str = ""  # the controlling owner: ReplicaSet, DaemonSet, StatefulSet, Job...
    owner_name: str = ""
    local_storage: bool = False  # an emptyDir volume: its data goes with the pod
    mirror: bool = False  # a static pod's mirror: the API cannot evict or delete it
    images: tuple[str, ...] = ()

    @property
    def is_ready(self) -> bool:
        return self.phase == "Running" and self.containers > 0 and self.ready == self.containers

    @property
    def cpu_pct(self) -> float | None:
        """Usage against the request (what the HPA and the guide use), else the limit."""
        base = self.cpu_request_m or self.cpu_limit_m
        return 100.0 * self.cpu_m / base if base and self.cpu_m is not None else None

    @property
    def memory_pct(self) -> float | None:
        """Usage against the limit (what gets a pod OOMKilled), else the request."""
        base = self.memory_limit_bytes or self.memory_request_bytes
        return 100.0 * self.memory_bytes / base if base and self.memory_bytes is not None else None


@dataclass(frozen=True, kw_only=True)
class NodeInfo:
    name: str
    ready: bool = False
    unschedulable: bool = False
    pressures: tuple[str, ...] = ()  # MemoryPressure, DiskPressure, PIDPressure
    cpu_pct: float | None = None  # usage against allocatable
    memory_pct: float | None = None
    disk_pct: float | None = None  # root filesystem used, from the kubelet's Summary API


@dataclass(frozen=True, kw_only=True)
class EventInfo:
    object: str  # Kind/name
    reason: str
    message: str
    count: int = 1
    age_seconds: float = 0.0
    type: str = ""  # Normal | Warning


@dataclass(frozen=True, kw_only=True)
class CertificateInfo:
    """The service's cert-manager Certificate (``kubernetes.certificate``)."""

    name: str
    days_left: float | None = None  # until status.notAfter
    ready: bool = False


@dataclass(frozen=True, kw_only=True)
class KubeSnapshot(Snapshot):
    namespace: str = ""
    deployment: DeploymentInfo | None = None  # None: not found (see deployment_note)
    deployment_note: str = ""
    hpa: HpaInfo | None = None
    pods: tuple[PodInfo, ...] = ()
    nodes: tuple[NodeInfo, ...] = ()
    events: tuple[EventInfo, ...] = ()
    metrics_error: str | None = None  # metrics.k8s.io unavailable; usage figures empty
    # optional collections that could not be read (hpa, nodes and events are shown
    # without them; nodes are cluster-scoped, which namespace-only credentials cannot list)
    hpa_error: str | None = None
    nodes_error: str | None = None
    events_error: str | None = None
    disk_error: str | None = None  # the kubelets' Summary API (nodes/proxy) not readable
    certificate: CertificateInfo | None = None  # None: no cert-manager or no such certificate

    @property
    def ready_pods(self) -> int:
        return sum(1 for p in self.pods if p.is_ready)

    def _avg(self, values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return sum(known) / len(known) if known else None

    @property
    def avg_cpu_pct(self) -> float | None:
        return self._avg([p.cpu_pct for p in self.pods if not p.deleting])

    @property
    def avg_memory_pct(self) -> float | None:
        return self._avg([p.memory_pct for p in self.pods if not p.deleting])
