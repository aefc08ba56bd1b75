"""The three patch formats of the Kubernetes API, chosen by Content-Type.

- strategic merge (``application/strategic-merge-patch+json``): lists of objects merge by
  a per-field key (containers by name, container ports by containerPort, service ports by
  port, conditions by type...), other lists are replaced whole, and the directives
  ``$patch`` (replace|delete|merge), ``$retainKeys``, ``$setElementOrder/<field>`` and
  ``$deleteFromPrimitiveList/<field>`` are honoured. Built-in types only: like a real
  server, a custom resource refuses it with 415.
- JSON merge patch, RFC 7386 (``application/merge-patch+json``).
- JSON patch, RFC 6902 (``application/json-patch+json``).

The merge keys come from the Go struct tags of the core types; without an OpenAPI schema
the field *name* decides, and for ``ports`` the element shape (containerPort or port).
"""

from __future__ import annotations

import copy
from typing import Any

from .store import ApiError

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
    "conditions": "type", "ownerReferences": "uid", "taints": "key", "addresses": "type",
    "topologySpreadConstraints": "topologyKey", "resourceClaims": "name", "secrets": "name",
    "podIPs": "ip", "hostIPs": "ip",
}
PRIMITIVE_MERGE_LISTS = {"finalizers"}  # patchStrategy=merge on a list of strings
ORDER_PREFIX = "$setElementOrder/"
DELETE_PREFIX = "$deleteFromPrimitiveList/"


class _Delete:
    """Marker for a map removed by ``$patch: delete``."""


DELETE = _Delete()


def unsupported_media_type(content_type: str, custom: bool) -> ApiError:
    accepted = [JSON_PATCH, MERGE, APPLY] + ([] if custom else [STRATEGIC])
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(accepted)}",
    )


def _merge_key(field: str, original: list | None, patch: list) -> str | None:
    if field == "ports":
        sample = [e for e in (patch or []) + (original or []) if isinstance(e, dict)]
        return "containerPort" if any("containerPort" in e for e in sample) else "port"
    return MERGE_KEYS.get(field)


def _is_directive(key: str) -> bool:
    return key in ("$patch", "$retainKeys") or key.startswith((ORDER_PREFIX, DELETE_PREFIX))


def _strip(value: Any) -> Any:
    """A patch value with every directive removed (what a replaced field becomes)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not _is_directive(k) and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch"))]
    return value


def strategic_merge(original: dict, patch: dict) -> dict:
    """Apply a strategic merge patch to an object; returns a new object."""
    if not isinstance(patch, dict):
        raise ApiError(400, "BadRequest", "strategic merge patch must be a JSON object")
    result = _merge_map(original, patch)
    if result is DELETE:
        raise ApiError(422, "Invalid", "a patch may not delete the whole object")
    return result


def _merge_map(original: dict, patch: dict) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return DELETE
    if directive not in (None, "merge"):
        raise ApiError(400, "BadRequest", f"unknown patch type: {directive}")
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    orders, removals = {}, {}
    for key, value in patch.items():
        if key.startswith(ORDER_PREFIX):
            orders[key[len(ORDER_PREFIX):]] = value
        elif key.startswith(DELETE_PREFIX):
            removals[key[len(DELETE_PREFIX):]] = value
        elif _is_directive(key):
            continue
        elif value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _merge_map(result.get(key) if isinstance(result.get(key), dict) else {}, value)
            if merged is DELETE:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(key, result.get(key), value)
        else:
            result[key] = value
    for field, values in removals.items():
        if isinstance(result.get(field), list):
            result[field] = [v for v in result[field] if v not in values]
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _apply_order(field, result[field], order)
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"] or [])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_list(field: str, original: list | None, patch: list) -> list:
    original = original if isinstance(original, list) else []
    if any(isinstance(e, dict) and e.get("$patch") == "replace" for e in patch):
        return _strip(patch)
    key = _merge_key(field, original, patch)
    if key is None:
        if field in PRIMITIVE_MERGE_LISTS:
            return original + [v for v in patch if v not in original]
        return _strip(patch)
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict):
            raise ApiError(400, "BadRequest", f"{field}: expected a list of objects")
        if key not in item:
            if item.get("$patch") == "delete":
                result = [e for e in result if not _subset(item, e)]
                continue
            raise ApiError(400, "BadRequest", f"map: {item} does not contain declared merge key: {key}")
        idx = next((i for i, e in enumerate(result) if isinstance(e, dict) and e.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            result.append(_merge_map({}, item))
        else:
            result[idx] = _merge_map(result[idx], item)
    return result


def _subset(pattern: dict, element: Any) -> bool:
    return isinstance(element, dict) and all(
        element.get(k) == v for k, v in pattern.items() if k != "$patch"
    )


def _apply_order(field: str, items: list, order: list) -> list:
    """``$setElementOrder``: the listed elements first in the given order, the rest after
    in their previous order."""
    if not order:
        return items
    if isinstance(order[0], dict):
        key = next(iter(order[0]))
        rank = {o.get(key): i for i, o in enumerate(order) if isinstance(o, dict)}

        def position(item: Any) -> int:
            return rank.get(item.get(key) if isinstance(item, dict) else None, len(rank))
    else:
        rank = {v: i for i, v in enumerate(order)}

        def position(item: Any) -> int:
            return rank.get(item, len(rank))

    return sorted(items, key=position)  # sorted() is stable: unlisted keep their order


# ---- RFC 7386 ---------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---- RFC 6902 ---------------------------------------------------------------------------


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _unprocessable(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str], path: str) -> tuple[Any, str]:
    cur = doc
    for tok in tokens[:-1]:
        try:
            cur = cur[int(tok)] if isinstance(cur, list) else cur[tok]
        except (KeyError, IndexError, ValueError, TypeError):
            raise _unprocessable(f"doc is missing path: {path!r}") from None
    return cur, tokens[-1]


def _index(container: list, token: str, path: str, for_add: bool = False) -> int:
    if for_add and token == "-":
        return len(container)
    try:
        idx = int(token)
    except ValueError:
        raise _unprocessable(f"invalid array index in {path!r}") from None
    limit = len(container) if for_add else len(container) - 1
    if idx < 0 or idx > limit:
        raise _unprocessable(f"array index out of bounds in {path!r}")
    return idx


def _get(doc: Any, path: str) -> Any:
    cur = doc
    for tok in _pointer(path):
        try:
            cur = cur[int(tok)] if isinstance(cur, list) else cur[tok]
        except (KeyError, IndexError, ValueError, TypeError):
            raise _unprocessable(f"doc is missing path: {path!r}") from None
    return cur


def _remove(doc: Any, path: str) -> Any:
    parent, tok = _parent(doc, _pointer(path), path)
    if isinstance(parent, list):
        return parent.pop(_index(parent, tok, path))
    if not isinstance(parent, dict) or tok not in parent:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return parent.pop(tok)


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, tok = _parent(doc, tokens, path)
    if isinstance(parent, list):
        parent.insert(_index(parent, tok, path, for_add=True), value)
    elif isinstance(parent, dict):
        parent[tok] = value
    else:
        raise _unprocessable(f"doc is missing path: {path!r}")
    return doc


def json_patch(document: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise ApiError(400, "BadRequest", "json patch must be a JSON array of operations")
    doc = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ApiError(400, "BadRequest", f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            if _pointer(path):
                _remove(doc, path)
            doc = _add(doc, path, copy.deepcopy(op.get("value")))
        elif kind in ("move", "copy"):
            value = _get(doc, op.get("from", ""))
            if kind == "move":
                _remove(doc, op["from"])
            doc = _add(doc, path, copy.deepcopy(value))
        elif kind == "test":
            if _get(doc, path) != op.get("value"):
                raise _unprocessable(f"testing value {path!r} failed: test failed")
        else:
            raise ApiError(400, "BadRequest", f"unexpected kind of operation: {kind!r}")
    return doc
