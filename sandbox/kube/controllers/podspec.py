"""Pod templates: API defaults, the template hash, and pods stamped from a template.

A Deployment finds "its" ReplicaSet by comparing pod templates, and ``kubectl rollout
undo`` writes an old ReplicaSet's template back into the Deployment. If one side carried
the API server's defaults and the other did not, the comparison would fail and a rollback
would create a new ReplicaSet instead of reusing the old one. So templates are always
compared and hashed after :func:`default_pod_spec` has filled in what the apiserver would.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from ..store import Obj
from . import quantity

HASH_LABEL = "pod-template-hash"
# the alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes)
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

_rand = random.Random()


def random_suffix(length: int = 5) -> str:
    return "".join(_rand.choice(SAFE_ALPHABET) for _ in range(length))


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def safe_encode(text: str) -> str:
    """Map every character into the safe alphabet, so hashes never spell words."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def _default_probe(probe: Obj | None) -> None:
    if not probe:
        return
    probe.setdefault("timeoutSeconds", 1)
    probe.setdefault("periodSeconds", 10)
    probe.setdefault("successThreshold", 1)
    probe.setdefault("failureThreshold", 3)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")
        probe["httpGet"].setdefault("path", "/")


def _default_container(c: Obj) -> None:
    image = c.get("image", "")
    tag = image.rsplit("/", 1)[-1]
    latest = "@" not in image and (":" not in tag or tag.endswith(":latest"))
    c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    resources = c.setdefault("resources", {})
    for part in ("requests", "limits"):
        if isinstance(resources.get(part), dict):
            resources[part] = {k: quantity.canonical(v) for k, v in resources[part].items()}
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for name in ("readinessProbe", "livenessProbe", "startupProbe"):
        _default_probe(c.get(name))


def default_pod_spec(spec: Obj) -> Obj:
    """Fill in, in place, the fields the apiserver defaults on every pod spec."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for c in spec.get("initContainers") or []:
        _default_container(c)
    for c in spec.get("containers") or []:
        _default_container(c)
    for vol in spec.get("volumes") or []:
        if "secret" in vol:
            vol["secret"].setdefault("defaultMode", 420)
        if "configMap" in vol:
            vol["configMap"].setdefault("defaultMode", 420)
    return spec


def normalized_template(template: Obj) -> Obj:
    """A defaulted copy of a pod template without the ``pod-template-hash`` label."""
    t = copy.deepcopy(template or {})
    meta = t.setdefault("metadata", {})
    labels = dict(meta.get("labels") or {})
    labels.pop(HASH_LABEL, None)
    meta["labels"] = labels
    if not meta.get("annotations"):
        meta.pop("annotations", None)
    meta.pop("creationTimestamp", None)
    default_pod_spec(t.setdefault("spec", {}))
    return t


def templates_equal(a: Obj, b: Obj) -> bool:
    return normalized_template(a) == normalized_template(b)


def template_hash(template: Obj, collision_count: int = 0) -> str:
    """The ``pod-template-hash`` of a template: FNV-1a over its canonical JSON (plus the
    collision count), written in the safe alphabet."""
    canonical = json.dumps(normalized_template(template), sort_keys=True, separators=(",", ":"))
    data = canonical.encode()
    if collision_count:
        data += str(collision_count).encode()
    return safe_encode(str(_fnv32a(data)))


def owner_ref(owner: Obj, *, block: bool = True) -> Obj:
    ref: dict[str, Any] = {
        "apiVersion": owner.get("apiVersion", "v1"),
        "kind": owner.get("kind", ""),
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def pod_from_template(template: Obj, *, name: str, namespace: str, owner: Obj,
                      extra_labels: dict[str, str] | None = None) -> Obj:
    """A new Pending pod stamped from ``template`` and controlled by ``owner``."""
    t = copy.deepcopy(template or {})
    meta = t.get("metadata") or {}
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    pod_meta: Obj = {"name": name, "namespace": namespace, "labels": labels,
                     "ownerReferences": [owner_ref(owner)]}
    if meta.get("annotations"):
        pod_meta["annotations"] = dict(meta["annotations"])
    spec = default_pod_spec(t.get("spec") or {})
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    spec.setdefault("priority", 0)
    spec.setdefault("tolerations", [
        {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
         "effect": "NoExecute", "tolerationSeconds": 300},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
         "effect": "NoExecute", "tolerationSeconds": 300},
    ])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos_class(spec)},
    }


def qos_class(spec: Obj) -> str:
    containers = spec.get("containers") or []
    if not any((c.get("resources") or {}).get("requests") or (c.get("resources") or {}).get(
            "limits") for c in containers):
        return "BestEffort"
    for c in containers:
        res = c.get("resources") or {}
        limits = res.get("limits") or {}
        requests = res.get("requests") or limits
        for kind in ("cpu", "memory"):
            if kind not in limits or requests.get(kind) != limits.get(kind):
                return "Burstable"
    return "Guaranteed"


# ---- reading pod state ---------------------------------------------------------------
def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in obj.get("status", {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return None


def is_ready(pod: Obj) -> bool:
    cond = condition(pod, "Ready")
    return bool(cond and cond.get("status") == "True")


def is_terminating(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def is_active(pod: Obj) -> bool:
    """Counts towards a controller's replicas: not finished and not being deleted."""
    return not is_terminating(pod) and pod.get("status", {}).get("phase") not in (
        "Succeeded", "Failed")


def labels_match(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """A LabelSelector (matchLabels + matchExpressions) against a label set. An empty
    selector matches everything, as for PodDisruptionBudgets and NetworkPolicies."""
    labels = labels or {}
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
