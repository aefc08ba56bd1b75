"""Turning an API URL into what it names: resource type, namespace, name, subresource, verb.

The apiserver's URL space is regular enough to parse rather than route:
``/api/v1[/watch][/namespaces/{ns}]/{resource}[/{name}[/{subresource}]]`` and the same
under ``/apis/{group}/{version}``. The verb is the RBAC verb (``list`` vs ``get``,
``watch``, ``deletecollection``) used for authorization and dispatch alike.
"""

from __future__ import annotations

from dataclasses import dataclass

from .resources import REGISTRY, ResourceType
from .store import ApiError

_NAMESPACE_SUBRESOURCES = {"status", "finalize"}


def not_found_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource",
                    {})


@dataclass(frozen=True)
class RequestInfo:
    rt: ResourceType
    namespace: str  # "" for cluster-scoped or all namespaces
    name: str
    subresource: str
    verb: str
    watch: bool

    @property
    def collection(self) -> bool:
        return not self.name


def _true(value: str | None) -> bool:
    return value in ("1", "true", "True")


def parse(method: str, path: str, query) -> RequestInfo:
    """Raises 404 for paths that name no served resource."""
    parts = [p for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        raise not_found_path()
    watch = _true(query.get("watch"))
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in _NAMESPACE_SUBRESOURCES:
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise not_found_path()
    rt = REGISTRY.lookup(group, version, rest[0])
    if rt is None:
        raise not_found_path()
    name = rest[1] if len(rest) > 1 else ""
    subresource = rest[2] if len(rest) > 2 else ""
    if namespace and not rt.namespaced:
        raise not_found_path()
    if rt.namespaced and name and not namespace:
        raise not_found_path()
    if subresource and rt.subresource(subresource) is None:
        raise not_found_path()
    verb = _verb(method, name, watch)
    if verb is None:
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")
    allowed = rt.subresource(subresource).verbs if subresource else rt.verbs
    if verb not in allowed:
        raise ApiError(405, "MethodNotAllowed",
                       "the server does not allow this method on the requested resource")
    return RequestInfo(rt, namespace, name, subresource, verb, watch)


def _verb(method: str, name: str, watch: bool) -> str | None:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update" if name else None
    if method == "PATCH":
        return "patch" if name else None
    if method == "DELETE":
        return "delete" if name else "deletecollection"
    return None
