"""Label and field selectors, parsed from query strings and matched against objects.

Label selectors take the full apimachinery grammar (``a=b``, ``a==b``, ``a!=b``,
``a in (x,y)``, ``a notin (x)``, ``a``, ``!a``, ``a>1``, ``a<1``). Field selectors take
``=``, ``==`` and ``!=`` on the fields the real apiserver indexes for each type; any other
field is refused with 400, as kubectl users would see from a real cluster. LabelSelector
*objects* (``matchLabels`` / ``matchExpressions`` in deployments, PDBs...) are matched by
:func:`matches_selector_object`, which the controllers and eviction share.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .store import ApiError

Obj = dict[str, Any]
Requirement = tuple[str, str, tuple[str, ...]]  # key, operator, values


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_SET_RE = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$")
_CMP_RE = re.compile(r"^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$")


def parse_label_selector(text: str | None) -> list[Requirement]:
    requirements: list[Requirement] = []
    for part in _split_top_level(text or ""):
        if m := _SET_RE.match(part):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            requirements.append((m.group(1), m.group(2), values))
        elif part.startswith("!"):
            requirements.append((part[1:].strip(), "!", ()))
        elif m := _CMP_RE.match(part):
            op = "=" if m.group(2) == "==" else m.group(2)
            requirements.append((m.group(1), op, (m.group(3).strip(),)))
        elif re.fullmatch(r"[A-Za-z0-9._/-]+", part):
            requirements.append((part, "exists", ()))
        else:
            raise bad_request(f"unable to parse requirement: {part!r}")
    return requirements


def _label_ok(req: Requirement, labels: dict[str, str]) -> bool:
    key, op, values = req
    present = key in labels
    value = labels.get(key)
    if op == "=" or op == "in":
        return present and value in values
    if op == "!=" or op == "notin":
        return not present or value not in values
    if op == "exists":
        return present
    if op == "!":
        return not present
    try:  # < and > compare integers
        return present and (int(value) < int(values[0]) if op == "<" else int(value) > int(values[0]))
    except (TypeError, ValueError):
        return False


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(_label_ok(r, labels) for r in requirements)


def matches_selector_object(selector: Obj | None, labels: dict[str, str] | None) -> bool:
    """A metav1.LabelSelector; an empty selector matches everything, None matches nothing."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        op = ops.get(expr.get("operator", ""))
        if op is None:
            return False
        if not _label_ok((expr["key"], op, tuple(expr.get("values") or ())), labels):
            return False
    return True


def selector_object_to_string(selector: Obj | None) -> str:
    """The query-string form of a LabelSelector (what a Scale's status.selector holds)."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), expr.get("values") or []
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(sorted(values))})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


# ---- field selectors ------------------------------------------------------------------


def _path(*keys: str) -> Callable[[Obj], str]:
    def get(obj: Obj) -> str:
        cur: Any = obj
        for k in keys:
            cur = cur.get(k) if isinstance(cur, dict) else None
        if isinstance(cur, bool):
            return "true" if cur else "false"
        return "" if cur is None else str(cur)

    return get


_COMMON = {"metadata.name": _path("metadata", "name"),
           "metadata.namespace": _path("metadata", "namespace")}
_INVOLVED = {f"involvedObject.{f}": _path("involvedObject", f)
             for f in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion",
                       "fieldPath")}
FIELDS: dict[str, dict[str, Callable[[Obj], str]]] = {
    "pods": {
        "spec.nodeName": _path("spec", "nodeName"),
        "spec.restartPolicy": _path("spec", "restartPolicy"),
        "spec.schedulerName": _path("spec", "schedulerName"),
        "spec.serviceAccountName": _path("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda o: "true" if (o.get("spec") or {}).get("hostNetwork") else "false",
        "status.phase": _path("status", "phase"),
        "status.podIP": _path("status", "podIP"),
        "status.nominatedNodeName": _path("status", "nominatedNodeName"),
    },
    "events": {
        **_INVOLVED,
        "reason": _path("reason"),
        "type": _path("type"),
        "source": _path("source", "component"),
        "reportingComponent": _path("reportingComponent"),
    },
    "nodes": {"spec.unschedulable": lambda o: "true" if (o.get("spec") or {}).get("unschedulable") else "false"},
    "secrets": {"type": _path("type")},
    "namespaces": {"status.phase": _path("status", "phase")},
    "replicasets.apps": {"status.replicas": _path("status", "replicas")},
    "jobs.batch": {"status.successful": _path("status", "succeeded")},
}

FieldRequirement = tuple[Callable[[Obj], str], str, str]  # getter, op, value


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text: str | None, resource_key: str) -> list[FieldRequirement]:
    allowed = {**_COMMON, **FIELDS.get(resource_key, {})}
    requirements: list[FieldRequirement] = []
    for part in re.split(r"(?<!\\),", text or ""):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^=!]+)(!=|==|=)(.*)$", part)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3).strip())
        getter = allowed.get(field)
        if getter is None:
            raise bad_request(f'field label not supported: {field}')
        requirements.append((getter, "!=" if op == "!=" else "=", value))
    return requirements


def fields_match(requirements: list[FieldRequirement], obj: Obj) -> bool:
    for getter, op, value in requirements:
        if (getter(obj) == value) != (op == "="):
            return False
    return True


class Filter:
    """Label and field requirements of one request, applied to objects."""

    def __init__(self, label_selector: str | None, field_selector: str | None, resource_key: str):
        self.labels = parse_label_selector(label_selector)
        self.fields = parse_field_selector(field_selector, resource_key)

    def __call__(self, obj: Obj) -> bool:
        if self.labels and not labels_match(self.labels, (obj.get("metadata") or {}).get("labels")):
            return False
        return not self.fields or fields_match(self.fields, obj)
