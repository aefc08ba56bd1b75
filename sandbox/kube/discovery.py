"""Discovery documents, in the shapes kubectl and client-go read.

Two forms are served: the legacy one (``/api``, ``/api/v1``, ``/apis``, ``/apis/{g}``,
``/apis/{g}/{v}``: APIVersions, APIGroupList, APIGroup, APIResourceList) and the
aggregated one (APIGroupDiscoveryList) that kubectl >= 1.26 asks for first in its Accept
header. Answering the aggregated form saves kubectl one request per group version on every
invocation; a client that does not ask for it gets the legacy form.
"""

from __future__ import annotations

from .resources import REGISTRY, ResourceType

AGGREGATED = "apidiscovery.k8s.io"


def version_info(minor: int = 31) -> dict:
    """``/version``. The kubectl dispatcher picks its client binary from this minor."""
    return {
        "major": "1",
        "minor": str(minor),
        "gitVersion": f"v1.{minor}.0",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-08-13T00:00:00Z",
        "goVersion": "go1.22.5",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> dict:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list() -> dict:
    groups = [_group(g, vs) for g, vs in REGISTRY.group_versions().items() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> dict | None:
    versions = REGISTRY.group_versions().get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _resource_entries(rt: ResourceType) -> list[dict]:
    main = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    entries = [main]
    for sub in rt.subresources:
        entry = {
            "name": f"{rt.plural}/{sub.name}",
            "singularName": "",
            "namespaced": rt.namespaced,
            "kind": sub.kind,
            "verbs": list(sub.verbs),
        }
        if sub.group is not None:
            entry["group"], entry["version"] = sub.group, sub.version
        entries.append(entry)
    return entries


def api_resource_list(group: str, version: str) -> dict | None:
    types = REGISTRY.in_version(group, version)
    if not types:
        return None
    resources = [e for rt in types for e in _resource_entries(rt)]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


# ---- aggregated discovery ------------------------------------------------------------


def wants_aggregated(accept: str) -> str | None:
    """The apidiscovery version (``v2`` or ``v2beta1``) the Accept header asks for first,
    or None when the client only takes the legacy documents."""
    for part in accept.split(","):
        params = dict(
            p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p
        )
        if params.get("g") == AGGREGATED and params.get("as") == "APIGroupDiscoveryList":
            if params.get("v") in ("v2", "v2beta1"):
                return params["v"]
    return None


def _discovery_resource(rt: ResourceType) -> dict:
    entry: dict = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    if rt.subresources:
        entry["subresources"] = [
            {
                "subresource": sub.name,
                "responseKind": {
                    "group": rt.group if sub.group is None else sub.group,
                    "version": rt.version if sub.version is None else sub.version,
                    "kind": sub.kind,
                },
                "verbs": list(sub.verbs),
            }
            for sub in rt.subresources
        ]
    return entry


def aggregated(version: str, legacy_core: bool) -> dict:
    """APIGroupDiscoveryList for ``/api`` (core only) or ``/apis`` (every named group)."""
    items = []
    for group, versions in REGISTRY.group_versions().items():
        if bool(group) == legacy_core:
            continue
        items.append(
            {
                "metadata": {"name": group, "creationTimestamp": None},
                "versions": [
                    {
                        "version": v,
                        "resources": [
                            _discovery_resource(rt) for rt in REGISTRY.in_version(group, v)
                        ],
                        "freshness": "Current",
                    }
                    for v in versions
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"{AGGREGATED}/{version}",
        "metadata": {},
        "items": items,
    }


def aggregated_content_type(version: str) -> str:
    return f"application/json;g={AGGREGATED};v={version};as=APIGroupDiscoveryList"
