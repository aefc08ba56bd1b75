"""What the apiserver does to an object between the request body and the store: defaulting,
validation (422 Invalid with field causes) and the status/spec split of the main resource
and its ``/status`` subresource.

Only the defaults and checks that clients observe are modelled: those kubectl prints or
compares (deployment strategy, revision history, image pull policy, service cluster IPs,
secret ``stringData``), and the validation errors an operator can trigger from the runbook
(bad names, negative replicas, HPA bounds, invalid CIDRs in a NetworkPolicy).
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import itertools
import re
from typing import Any

from .resources import ResourceType
from .selectors import matches_selector_object
from .store import ApiError, invalid

Obj = dict[str, Any]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_KEYS = {"namespaces", "services"}  # names that must be DNS-1123 labels
_cluster_ips = itertools.count(10)


def qualified_kind(rt: ResourceType) -> str:
    return f"{rt.kind}.{rt.group}" if rt.group else rt.kind


# ---- defaults -----------------------------------------------------------------------------


def _default_container(ct: Obj) -> None:
    image = str(ct.get("image", ""))
    tag = image.rsplit("/", 1)[-1].partition(":")[2] if "@" not in image else "digest"
    ct.setdefault("imagePullPolicy", "Always" if tag in ("", "latest") else "IfNotPresent")
    ct.setdefault("terminationMessagePath", "/dev/termination-log")
    ct.setdefault("terminationMessagePolicy", "File")
    ct.setdefault("resources", {})
    for port in ct.get("ports") or []:
        port.setdefault("protocol", "TCP")


def default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for ct in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if isinstance(ct, dict):
            _default_container(ct)


def _template_spec(obj: Obj) -> Obj | None:
    spec = (obj.get("spec") or {}).get("template", {}).get("spec")
    return spec if isinstance(spec, dict) else None


def apply_defaults(rt: ResourceType, obj: Obj) -> None:
    """Defaults on create only: objects the controllers and the seed write straight into
    the store are not defaulted, and defaulting them on a later update would change a
    Deployment's template (and so start a rollout) on a mere label patch."""
    spec = obj.setdefault("spec", {}) if rt.key in _HAS_SPEC else obj.get("spec")
    if rt.key == "pods":
        default_pod_spec(spec)
    elif rt.key in ("deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps"):
        if rt.key != "daemonsets.apps":
            spec.setdefault("replicas", 1)
        if rt.key != "replicasets.apps":
            spec.setdefault("revisionHistoryLimit", 10)
        if rt.key == "deployments.apps":
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        if rt.key == "statefulsets.apps":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        if rt.key == "daemonsets.apps":
            spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                               "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        if (tspec := _template_spec(obj)) is not None:
            default_pod_spec(tspec)
    elif rt.key == "services":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("type") != "ExternalName":
            n = next(_cluster_ips)
            spec.setdefault("clusterIP", f"10.96.{n // 250}.{n % 250 + 1}")
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    elif rt.key == "horizontalpodautoscalers.autoscaling":
        spec.setdefault("minReplicas", 1)
    elif rt.key == "networkpolicies.networking.k8s.io":
        spec.setdefault("policyTypes", ["Ingress", "Egress"] if "egress" in spec else ["Ingress"])
    elif rt.key == "secrets":
        obj.setdefault("type", "Opaque")
        fold_string_data(rt, obj)
    elif rt.key == "namespaces":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        obj.setdefault("status", {"phase": "Active"})
        name = obj.get("metadata", {}).get("name", "")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name


def fold_string_data(rt: ResourceType, obj: Obj) -> None:
    """A Secret's write-only ``stringData`` is stored base64-encoded into ``data``."""
    if rt.key != "secrets":
        return
    if not obj.get("stringData"):
        obj.pop("stringData", None)
        return
    data = obj.get("data") or {}
    for key, value in obj.pop("stringData").items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    obj["data"] = data


_HAS_SPEC = {"pods", "deployments.apps", "replicasets.apps", "statefulsets.apps",
             "daemonsets.apps", "services", "horizontalpodautoscalers.autoscaling",
             "networkpolicies.networking.k8s.io"}


# ---- create / update preparation ---------------------------------------------------------------


def prepare_create(rt: ResourceType, obj: Obj) -> None:
    """Server-owned fields are not the client's to set; status starts empty (a pod Pending)."""
    meta = obj.setdefault("metadata", {})
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation",
                "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
        meta.pop(key, None)
    if rt.has_status and rt.key != "namespaces":
        obj.pop("status", None)
    if rt.key == "pods":  # the API server computes the QoS class from the resources
        from .controllers.podspec import qos_class

        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}


def keep_status(rt: ResourceType, new: Obj, old: Obj) -> Obj:
    """A write to the main resource of a type with a /status subresource cannot change
    status: the stored status is carried over."""
    if rt.has_status:
        new = dict(new)
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    return new


def only_status(new: Obj, old: Obj) -> Obj:
    """A write to /status changes status only (and the labels/annotations, like the real one)."""
    result = copy.deepcopy(old)
    result["status"] = copy.deepcopy(new.get("status", {}))
    meta = new.get("metadata") or {}
    if meta.get("resourceVersion"):
        result["metadata"]["resourceVersion"] = meta["resourceVersion"]
    return result


# ---- validation --------------------------------------------------------------------------------


def _name_causes(rt: ResourceType, name: str) -> list[tuple[str, str]]:
    if rt.key in _LABEL_KEYS:
        if len(name) > 63 or not _LABEL.match(name):
            return [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must '
                                      "consist of lower case alphanumeric characters or '-', and must "
                                      "start and end with an alphanumeric character")]
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        return [("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                                  "consist of lower case alphanumeric characters, '-' or '.', and must "
                                  "start and end with an alphanumeric character")]
    return []


def _pod_spec_causes(spec: Obj | None, prefix: str) -> list[tuple[str, str]]:
    if not isinstance(spec, dict):
        return [(prefix, "Required value")]
    containers = spec.get("containers")
    if not containers:
        return [(f"{prefix}.containers", "Required value")]
    causes = []
    for i, ct in enumerate(containers):
        if not ct.get("name"):
            causes.append((f"{prefix}.containers[{i}].name", "Required value"))
        if not ct.get("image"):
            causes.append((f"{prefix}.containers[{i}].image", "Required value"))
    return causes


def _cidr_causes(spec: Obj) -> list[tuple[str, str]]:
    causes = []
    for direction, peer_key in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(spec.get(direction) or []):
            for j, peer in enumerate(rule.get(peer_key) or []):
                block = peer.get("ipBlock")
                if not block:
                    continue
                path = f"spec.{direction}[{i}].{peer_key}[{j}].ipBlock"
                try:
                    net = ipaddress.ip_network(str(block.get("cidr", "")), strict=False)
                except ValueError:
                    causes.append((f"{path}.cidr", f'Invalid value: "{block.get("cidr")}": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'))
                    continue
                for k, exc in enumerate(block.get("except") or []):
                    try:
                        sub = ipaddress.ip_network(str(exc), strict=False)
                        if sub.version != net.version or not sub.subnet_of(net):
                            causes.append((f"{path}.except[{k}]", f'Invalid value: "{exc}": must be a strict subset of `cidr`'))
                    except ValueError:
                        causes.append((f"{path}.except[{k}]", f'Invalid value: "{exc}": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'))
    return causes


def validate(rt: ResourceType, obj: Obj) -> None:
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    causes = _name_causes(rt, name) if name else []
    spec = obj.get("spec") or {}
    if rt.key in ("deployments.apps", "replicasets.apps", "statefulsets.apps"):
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 0:
            causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
    if rt.key in ("deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps"):
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector:
            causes.append(("spec.selector", "Required value"))
        elif not matches_selector_object(selector, labels):
            causes.append(("spec.template.metadata.labels",
                           f"Invalid value: {labels}: `selector` does not match template `labels`"))
        causes += _pod_spec_causes((spec.get("template") or {}).get("spec"), "spec.template.spec")
    elif rt.key == "pods":
        causes += _pod_spec_causes(spec, "spec")
    elif rt.key == "horizontalpodautoscalers.autoscaling":
        lo, hi = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not isinstance(lo, int) or lo < 1:
            causes.append(("spec.minReplicas", f"Invalid value: {lo}: must be greater than or equal to 1"))
        if not isinstance(hi, int) or (isinstance(lo, int) and hi < lo):
            causes.append(("spec.maxReplicas", f"Invalid value: {hi}: must be greater than or equal to `minReplicas`"))
    elif rt.key == "poddisruptionbudgets.policy":
        if "minAvailable" in spec and "maxUnavailable" in spec:
            causes.append(("spec", "Invalid value: minAvailable and maxUnavailable cannot be both set"))
    elif rt.key == "networkpolicies.networking.k8s.io":
        causes += _cidr_causes(spec)
    if causes:
        raise invalid(qualified_kind(rt), name, causes)


def check_immutable(rt: ResourceType, new: Obj, old: Obj) -> None:
    if rt.key in ("deployments.apps", "replicasets.apps", "statefulsets.apps", "daemonsets.apps"):
        if (new.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            raise invalid(qualified_kind(rt), new["metadata"]["name"],
                          [("spec.selector", "Invalid value: field is immutable")])


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)
