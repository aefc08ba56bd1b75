"""What a pod runs, as far as exec and logs care: MCP server, PostgreSQL, Redis, Falco.

The seeded world labels its pods (``app=mcp-server``, ``app=postgresql``,
``app=postgres-backup`` for the nightly dump job ...), but pods
created by hand or by tests may only carry a telling name, so both are looked at. The
role decides which programs an exec finds in the pod and which style its log lines have.
"""

from __future__ import annotations

from typing import Any

MCP, POSTGRES, REDIS, FALCO, GENERIC = "mcp-server", "postgres", "redis", "falco", "generic"
BACKUP_JOB = "backup-job"

_LABEL_KEYS = ("app", "app.kubernetes.io/name", "app.kubernetes.io/component", "component",
               "k8s-app", "name")
_NEEDLES = ((BACKUP_JOB, ("backup", "pg-dump", "pg_dump")), (MCP, ("mcp-server", "mcp")), (POSTGRES, ("postgres", "postgresql", "pg-")),
            (REDIS, ("redis",)), (FALCO, ("falco",)))


def _classify(text: str) -> str | None:
    text = text.lower()
    for role, needles in _NEEDLES:
        if any(n in text for n in needles):
            return role
    return None


def pod_role(pod: dict[str, Any], container: str | None = None) -> str:
    """The role of ``container`` in ``pod`` (the pod's main role if not given)."""
    meta = pod.get("metadata", {})
    labels = meta.get("labels") or {}
    candidates = [labels.get(k, "") for k in _LABEL_KEYS]
    if container:
        # a sidecar (e.g. a metrics exporter) named after its own program wins
        role = _classify(container)
        if role is not None:
            return role
        for c in pod.get("spec", {}).get("containers", []):
            if c.get("name") == container:
                candidates.append(c.get("image", ""))
    candidates.append(meta.get("name", ""))
    for text in candidates:
        role = _classify(text) if text else None
        if role is not None:
            return role
    return GENERIC
