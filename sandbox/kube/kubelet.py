"""The kubelet behind ``/api/v1/nodes/{node}/proxy/...``: its Summary API for disk figures.

``kubectl get --raw /api/v1/nodes/NODE/proxy/stats/summary`` reaches the node's kubelet
through the API server; the console reads the node filesystem (``node.fs``) and the
image filesystem (``node.runtime.imageFs``) from it, the only place Kubernetes itself
reports disk use. Authorisation is the API server's: ``get`` on ``nodes/proxy``.

Each node's root filesystem is its ``ephemeral-storage`` capacity, filled to a steady
share that differs by node (38-58 %) and grows slowly with the pods it runs; a scenario
sets a node's fill with :func:`set_disk_fill`. Inodes are reported the same way.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from .controllers import quantity
from .store import ApiError

EXTRAS_KEY = "kubelet.disk_fill"
IMAGE_FS_SHARE = 0.3  # of the used space, container images
POD_EPHEMERAL = 180 * 2**20  # logs and emptyDir a running pod keeps on the node


def set_disk_fill(cluster: Any, node: str, fill: float | None) -> None:
    """Make ``node``'s root filesystem ``fill`` full (0..1); None: back to its own."""
    fills: dict[str, float] = cluster.extras.setdefault(EXTRAS_KEY, {})
    if fill is None:
        fills.pop(node, None)
    elif not 0.0 <= fill <= 1.0:
        raise ValueError("disk fill must be between 0 and 1")
    else:
        fills[node] = fill


def _steady_fill(node: str) -> float:
    digest = hashlib.blake2b(node.encode(), digest_size=2).digest()
    return 0.38 + 0.20 * int.from_bytes(digest, "big") / 0xFFFF


def _fs(capacity: float, used: float, at: str) -> dict[str, Any]:
    capacity, used = int(capacity), int(min(used, capacity))
    inodes = max(capacity // (64 * 1024), 1)
    inodes_used = int(inodes * used / capacity) if capacity else 0
    return {"time": at, "availableBytes": capacity - used, "capacityBytes": capacity,
            "usedBytes": used, "inodesFree": inodes - inodes_used, "inodes": inodes,
            "inodesUsed": inodes_used}


def summary(cluster: Any, node_name: str) -> dict[str, Any]:
    node = cluster.store.get("nodes", "", node_name)
    capacity = quantity.parse((node.get("status", {}).get("capacity") or {})
                              .get("ephemeral-storage", "100Gi"))
    pods = [p for p in cluster.store.iter("pods")
            if (p.get("spec") or {}).get("nodeName") == node_name
            and (p.get("status") or {}).get("phase") == "Running"]
    fill = (cluster.extras.get(EXTRAS_KEY) or {}).get(node_name)
    used = capacity * fill if fill is not None else \
        capacity * _steady_fill(node_name) + POD_EPHEMERAL * len(pods)
    at = cluster.clock.timestamp()
    return {
        "node": {
            "nodeName": node_name,
            "startTime": node["metadata"].get("creationTimestamp"),
            "fs": _fs(capacity, used, at),
            # images live on the same device here: its capacity and free space, the
            # images' share of the use
            "runtime": {"imageFs": {**_fs(capacity, used, at),
                                    "usedBytes": int(min(used, capacity) * IMAGE_FS_SHARE)}},
        },
        "pods": [{"podRef": {"name": p["metadata"]["name"],
                             "namespace": p["metadata"].get("namespace", ""),
                             "uid": p["metadata"].get("uid", "")},
                  "ephemeral-storage": {"time": at, "usedBytes": POD_EPHEMERAL}}
                 for p in pods],
    }


async def handle_proxy(request: web.Request, cluster: Any, node: str, path: str) -> web.Response:
    """What the node's kubelet answers at ``path``."""
    try:
        cluster.store.get("nodes", "", node)
    except ApiError:
        raise ApiError(404, "NotFound", f'nodes "{node}" not found') from None
    if path in ("/healthz", "/healthz/"):
        return web.Response(text="ok")
    if path in ("/stats/summary", "/stats/summary/"):
        return web.json_response(summary(cluster, node))
    return web.Response(status=404, text="404 page not found\n")
