"""The registry of resource types the emulator serves.

One :class:`ResourceType` per (group, version, plural) — the facts discovery publishes
(kind, singular, short names, scope, verbs, categories, subresources) and that the router
needs to turn a URL into a store key. The store key is version independent (``pods``,
``deployments.apps``, ``backups.velero.io``), so one stored object can be served under two
versions of a group (HPA under autoscaling/v2 and autoscaling/v1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

STANDARD = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NO_COLLECTION_DELETE = ("create", "delete", "get", "list", "patch", "update", "watch")
READ_ONLY = ("get", "list")
CREATE_ONLY = ("create",)
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    """``pods/log``, ``deployments/scale``...; group/version/kind set when the subresource
    speaks another type than its parent (Scale is autoscaling/v1, Eviction policy/v1)."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None
    version: str | None = None


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool = True
    verbs: tuple[str, ...] = STANDARD
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    custom: bool = False  # a CustomResource: no strategic merge patch, CRD-style tables

    @property
    def key(self) -> str:
        """The version-independent store key."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    @property
    def has_status(self) -> bool:
        return self.subresource("status") is not None


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, STATUS_VERBS)


SCALE = Subresource("scale", "Scale", STATUS_VERBS, group="autoscaling", version="v1")


def _rt(group: str, version: str, kind: str, plural: str, **kw) -> ResourceType:
    subs = list(kw.pop("subs", ()))
    if kw.pop("status", False):
        subs.insert(0, _status(kind))
    return ResourceType(group, version, kind, plural, kind.lower(), subresources=tuple(subs), **kw)


_ALL = ("all",)
_HPA = dict(status=True, short_names=("hpa",), categories=_ALL)

RESOURCES: tuple[ResourceType, ...] = (
    # ---- core/v1 ----
    _rt("", "v1", "Namespace", "namespaces", namespaced=False, verbs=NO_COLLECTION_DELETE,
        short_names=("ns",), status=True, subs=[Subresource("finalize", "Namespace", ("update",))]),
    _rt("", "v1", "Node", "nodes", namespaced=False, short_names=("no",), status=True),
    _rt("", "v1", "Pod", "pods", short_names=("po",), categories=_ALL, status=True, subs=[
        Subresource("log", "Pod", ("get",)),
        Subresource("exec", "PodExecOptions", ("create", "get")),
        Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
    ]),
    _rt("", "v1", "Service", "services", short_names=("svc",), categories=_ALL, status=True),
    _rt("", "v1", "Endpoints", "endpoints", short_names=("ep",)),
    _rt("", "v1", "Secret", "secrets"),
    _rt("", "v1", "ConfigMap", "configmaps", short_names=("cm",)),
    _rt("", "v1", "ServiceAccount", "serviceaccounts", short_names=("sa",)),
    _rt("", "v1", "Event", "events", short_names=("ev",)),
    _rt("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
        status=True),
    _rt("", "v1", "PersistentVolume", "persistentvolumes", namespaced=False,
        short_names=("pv",), status=True),
    # ---- apps/v1 ----
    _rt("apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=_ALL,
        status=True, subs=[SCALE]),
    _rt("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=_ALL,
        status=True, subs=[SCALE]),
    _rt("apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=_ALL,
        status=True, subs=[SCALE]),
    _rt("apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=_ALL,
        status=True),
    _rt("apps", "v1", "ControllerRevision", "controllerrevisions"),
    # ---- batch/v1 (the runbook's nightly postgres-backup Job) ----
    _rt("batch", "v1", "Job", "jobs", categories=_ALL, status=True),
    _rt("batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=_ALL, status=True),
    # ---- autoscaling: v2 is preferred; v1 is the same objects, converted ----
    _rt("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", **_HPA),
    _rt("autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", **_HPA),
    # ---- policy, networking ----
    _rt("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
        status=True),
    _rt("coordination.k8s.io", "v1", "Lease", "leases"),
    _rt("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies",
        short_names=("netpol",)),
    _rt("networking.k8s.io", "v1", "Ingress", "ingresses", short_names=("ing",), status=True),
    # ---- authorization / authentication: create-only review objects ----
    _rt("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
        namespaced=False, verbs=CREATE_ONLY),
    _rt("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
        namespaced=False, verbs=CREATE_ONLY),
    _rt("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews",
        namespaced=False, verbs=CREATE_ONLY),
    _rt("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
        verbs=CREATE_ONLY),
    _rt("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
        namespaced=False, verbs=CREATE_ONLY),
    # ---- metrics-server ----
    _rt("metrics.k8s.io", "v1beta1", "PodMetrics", "pods", verbs=READ_ONLY),
    _rt("metrics.k8s.io", "v1beta1", "NodeMetrics", "nodes", namespaced=False,
        verbs=READ_ONLY),
    # ---- Velero custom resources ----
    _rt("velero.io", "v1", "Backup", "backups", custom=True, categories=("velero",)),
    _rt("velero.io", "v1", "Restore", "restores", custom=True, categories=("velero",)),
    _rt("velero.io", "v1", "Schedule", "schedules", custom=True, categories=("velero",)),
    _rt("velero.io", "v1", "BackupStorageLocation", "backupstoragelocations", custom=True,
        short_names=("bsl",), categories=("velero",)),
    # ---- cert-manager custom resources ----
    _rt("cert-manager.io", "v1", "Certificate", "certificates", custom=True, status=True,
        short_names=("cert", "certs"), categories=("cert-manager",)),
    _rt("cert-manager.io", "v1", "Issuer", "issuers", custom=True, status=True,
        categories=("cert-manager",)),
    _rt("cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", custom=True, status=True,
        namespaced=False, categories=("cert-manager",)),
)

# Preferred version first for every group (the order /apis publishes).
GROUP_VERSIONS: dict[str, list[str]] = {}
for _r in RESOURCES:
    _versions = GROUP_VERSIONS.setdefault(_r.group, [])
    if _r.version not in _versions:
        _versions.append(_r.version)


@dataclass
class Registry:
    """Lookup of resource types by URL parts and by store key."""

    types: tuple[ResourceType, ...] = RESOURCES
    _by_url: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    _by_key: dict[str, ResourceType] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rt in self.types:
            self._by_url[(rt.group, rt.version, rt.plural)] = rt
            self._by_key.setdefault(rt.key, rt)  # the preferred version wins

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_url.get((group, version, plural))

    def by_key(self, key: str) -> ResourceType | None:
        return self._by_key.get(key)

    def in_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self.types if rt.group == group and rt.version == version]

    def group_versions(self) -> dict[str, list[str]]:
        return GROUP_VERSIONS


REGISTRY = Registry()
