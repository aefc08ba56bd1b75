"""What ``curl http://localhost:8080/...`` sees inside an MCP-server pod.

The runbook checks a pod from the inside (``kubectl exec ... -- curl -f
http://localhost:8080/health/database``), so the exec'd curl needs the server's health
and metrics endpoints. Their answers follow the cluster: ``/health`` fails while the pod
is not Ready, ``/health/database`` fails while the PostgreSQL primary is scaled to zero,
and any check can be forced to fail at run time with :func:`set_check_failure` (kept in
``cluster.extras["exec.health_failures"]``) for the outage scenarios.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

EXTRAS_KEY = "exec.health_failures"
CHECKS = ("server", "database", "redis", "storage")
SERVER_VERSION = "2.4.1"
_DEFAULT_ERRORS = {
    "server": "service degraded",
    "database": "connection timeout after 5000ms (postgres-production-primary:5432)",
    "redis": "Error 111 connecting to redis-production-master:6379. Connection refused.",
    "storage": "S3 HeadBucket failed: AccessDenied",
}


@dataclass
class HttpReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def set_check_failure(cluster: Any, check: str, error: str | None = "") -> None:
    """Make ``check`` (server, database, redis, storage) fail with ``error`` (a default
    message when empty); ``None`` makes it healthy again."""
    if check not in CHECKS:
        raise ValueError(f"unknown check {check!r}; one of {', '.join(CHECKS)}")
    failures = cluster.extras.setdefault(EXTRAS_KEY, {})
    if error is None:
        failures.pop(check, None)
    else:
        failures[check] = error or _DEFAULT_ERRORS[check]


def _scaled_to_zero(cluster: Any, namespace: str, needle: str) -> bool:
    for resource in ("deployments.apps", "statefulsets.apps"):
        for obj in cluster.store.iter(resource, namespace):
            if needle in obj["metadata"]["name"] and obj.get("spec", {}).get("replicas", 1) == 0:
                return True
    return False


def _failure(cluster: Any, pod: dict[str, Any], check: str) -> str | None:
    forced = cluster.extras.get(EXTRAS_KEY, {}).get(check)
    if forced:
        return forced
    namespace = pod["metadata"].get("namespace", "")
    if check == "database" and _scaled_to_zero(cluster, namespace, "postgres"):
        return _DEFAULT_ERRORS["database"]
    if check == "redis" and _scaled_to_zero(cluster, namespace, "redis"):
        return _DEFAULT_ERRORS["redis"]
    if check == "server":
        conditions = pod.get("status", {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "False" for c in conditions):
            return "readiness check failing"
    return None


def _number(pod: dict[str, Any], salt: str, low: float, high: float) -> float:
    digest = hashlib.sha256(f"{pod['metadata'].get('name')}/{salt}".encode()).digest()
    return low + (high - low) * int.from_bytes(digest[:4], "big") / 2**32


def _json(status: int, payload: dict[str, Any]) -> HttpReply:
    return HttpReply(status, json.dumps(payload, indent=2).encode() + b"\n",
                     {"content-type": "application/json"})


def _check_entry(cluster: Any, pod: dict[str, Any], check: str) -> dict[str, Any]:
    error = _failure(cluster, pod, check)
    if error:
        return {"status": "unhealthy", "error": error}
    latency = round(_number(pod, check, 0.8, 6.5), 1)
    entry: dict[str, Any] = {"status": "healthy", "latency_ms": latency}
    if check == "database":
        in_use = int(_number(pod, "pool", 3, 14))
        entry["pool"] = {"size": 20, "in_use": in_use, "available": 20 - in_use}
    return entry


def http_get(cluster: Any, pod: dict[str, Any], path: str) -> HttpReply:
    """The MCP server's answer to a GET of ``path`` on localhost:8080."""
    now = cluster.clock.timestamp()
    path = path.split("?", 1)[0].rstrip("/") or "/"
    if path in ("/health", "/health/live", "/live", "/healthz"):
        error = _failure(cluster, pod, "server")
        body = {"status": "unhealthy" if error else "healthy", "version": SERVER_VERSION,
                "timestamp": now}
        if error:
            body["error"] = error
        return _json(503 if error else 200, body)
    if path in ("/health/database", "/health/redis", "/health/storage"):
        check = path.rsplit("/", 1)[1]
        entry = _check_entry(cluster, pod, check)
        return _json(200 if entry["status"] == "healthy" else 503,
                     {"status": entry["status"], check: entry, "timestamp": now})
    if path in ("/health/dependencies", "/health/ready", "/ready"):
        deps = {c: _check_entry(cluster, pod, c) for c in ("database", "redis", "storage")}
        healthy = all(d["status"] == "healthy" for d in deps.values())
        return _json(200 if healthy else 503, {"status": "healthy" if healthy else "unhealthy",
                                               "dependencies": deps, "timestamp": now})
    if path == "/metrics":
        return HttpReply(200, metrics_text(cluster, pod).encode(),
                         {"content-type": "text/plain; version=0.0.4; charset=utf-8"})
    return _json(404, {"detail": "Not Found"})


def metrics_text(cluster: Any, pod: dict[str, Any]) -> str:
    """A Prometheus exposition of the server: process memory, requests, DB pool."""
    started = _number(pod, "start", 1, 2) + cluster.clock.now() - 86400
    rss = int(_number(pod, "rss", 380, 620) * 2**20)
    requests = int((cluster.clock.now() - started) * _number(pod, "rps", 8, 14))
    lines = [
        "# HELP process_resident_memory_bytes Resident memory size in bytes.",
        "# TYPE process_resident_memory_bytes gauge",
        f"process_resident_memory_bytes {float(rss):.6e}",
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.",
        "# TYPE process_virtual_memory_bytes gauge",
        f"process_virtual_memory_bytes {float(rss * 3.1):.6e}",
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
        "# TYPE process_start_time_seconds gauge",
        f"process_start_time_seconds {started:.2f}",
        "# HELP mcp_memory_cache_bytes Bytes held by the in-process response cache.",
        "# TYPE mcp_memory_cache_bytes gauge",
        f"mcp_memory_cache_bytes {int(rss * 0.18)}",
        "# HELP http_requests_total Total HTTP requests handled.",
        "# TYPE http_requests_total counter",
    ]
    for status, share in (("200", 0.962), ("401", 0.012), ("404", 0.011), ("500", 0.015)):
        lines.append(f'http_requests_total{{method="POST",path="/mcp",status="{status}"}} '
                     f"{int(requests * share)}")
    lines += [
        "# HELP mcp_db_pool_connections Database connections by state.",
        "# TYPE mcp_db_pool_connections gauge",
        f'mcp_db_pool_connections{{state="in_use"}} {int(_number(pod, "pool", 3, 14))}',
        'mcp_db_pool_connections{state="max"} 20',
    ]
    return "\n".join(lines) + "\n"
