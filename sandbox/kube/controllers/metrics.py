"""The load model behind ``kubectl top`` and the HPA: PodMetrics and NodeMetrics.

Every running pod uses CPU and memory according to its application (an MCP server idles
near half of its 500m request, PostgreSQL is heavier, Falco light), a gentle daily cycle,
per-pod noise, and a factor chaos can raise (``chaos.set_load``). Like metrics-server the
writer scrapes periodically (every 15 emulated seconds) and publishes
``metrics.k8s.io/v1beta1`` objects into the store, which the API server serves as the
metrics group. With ten thousand pods it publishes in budgeted, round-robin batches and
yields between chunks, so the figures stay fresh without stalling the API server.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time

from ..store import ApiError, Obj
from . import quantity
from .chaos import state as chaos_state
from .index import controller_uid

POD_METRICS = "pods.metrics.k8s.io"
NODE_METRICS = "nodes.metrics.k8s.io"
INTERVAL = 15.0  # emulated seconds between scrapes
MIN_INTERVAL_REAL = 0.25  # however fast the clock runs
BUDGET = 1500  # pod metrics objects written per scrape
CHUNK = 50  # writes between yields to the event loop (~5 ms of work)
GiB, MiB = 2**30, 2**20

# application -> (cpu millicores, memory bytes) at a load factor of 1
BASELINE = {
    "mcp-server": (240, 620 * MiB),
    "postgresql": (850, 2600 * MiB),
    "redis": (120, 350 * MiB),
    "falco": (90, 180 * MiB),
    "prometheus": (300, 1400 * MiB),
}
NODE_OVERHEAD = (350, 1800 * MiB)  # kubelet, containerd, kernel


def _noise(uid: str, bucket: int) -> float:
    """Deterministic per pod and scrape: [-0.1, 0.1]."""
    digest = hashlib.blake2b(f"{uid}/{bucket}".encode(), digest_size=4).digest()
    return (int.from_bytes(digest, "big") / 2**32 - 0.5) * 0.2


def _daily(now: float) -> float:
    """Busier in the European afternoon, quieter at night: 0.85 .. 1.15."""
    hour = (now / 3600.0) % 24
    return 1.0 + 0.15 * math.sin((hour - 8.0) / 24.0 * 2 * math.pi)


def container_usage(pod: Obj, container: Obj, now: float, chaos,
                    share: float = 1.0) -> tuple[float, float]:
    """(cpu millicores, memory bytes) one container uses right now. ``share`` spreads an
    autoscaled workload's demand: more replicas, less CPU each."""
    labels = pod["metadata"].get("labels") or {}
    app = labels.get("app") or labels.get("app.kubernetes.io/name") or ""
    requests = (container.get("resources") or {}).get("requests") or {}
    limits = (container.get("resources") or {}).get("limits") or {}
    if app in BASELINE and container is pod["spec"]["containers"][0]:
        cpu, mem = BASELINE[app]
    else:
        cpu = 0.3 * quantity.cpu_millis(requests.get("cpu")) or 15.0
        mem = 0.5 * quantity.memory_bytes(requests.get("memory")) or 48 * MiB
    cpu_factor, mem_factor = chaos.load_for(pod)
    noise = _noise(pod["metadata"].get("uid", ""), int(now // INTERVAL))
    cpu = cpu * cpu_factor * share * _daily(now) * (1 + noise)
    mem = mem * mem_factor * (1 + noise / 4)
    if limits.get("cpu"):
        cpu = min(cpu, quantity.cpu_millis(limits["cpu"]))
    if limits.get("memory"):
        mem = min(mem, 0.98 * quantity.memory_bytes(limits["memory"]))
    return cpu, mem


def _running(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return (status.get("phase") == "Running" and bool(pod.get("spec", {}).get("nodeName"))
            and not pod["metadata"].get("deletionTimestamp"))


class MetricsWriter:
    """Publishes PodMetrics/NodeMetrics on its own task (not a keyed controller)."""

    def __init__(self, cluster, index=None):
        self.cluster = cluster
        self.index = index
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._written: dict[tuple[str, str], float] = {}  # pod key -> emulated time written

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kube-metrics")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def wake(self) -> None:
        """Scrape now (the load changed)."""
        self._written.clear()
        self._wake.set()

    async def _run(self) -> None:
        clock = self.cluster.clock
        while True:
            started = time.monotonic()
            await self.scrape()
            elapsed = time.monotonic() - started
            # a big cluster's scrape is costly: never spend more than a fifth of the time on it
            wait = max(INTERVAL / clock.speed, MIN_INTERVAL_REAL, 5 * elapsed) - elapsed
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.05))
            except TimeoutError:
                pass

    async def scrape(self) -> None:
        """One scrape: compute every running pod's usage, publish the stalest within the
        budget, drop metrics of pods that stopped, and publish every node's sum."""
        store, clock = self.cluster.store, self.cluster.clock
        chaos = chaos_state(self.cluster)
        now, ts = clock.now(), clock.timestamp()
        usage: dict[tuple[str, str], list[tuple[str, float, float]]] = {}
        node_sum: dict[str, list[float]] = {}
        shares = self._demand_shares()
        for i, pod in enumerate(list(store.iter("pods"))):
            if not _running(pod):
                continue
            key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
            share = shares.get(controller_uid(pod), 1.0) if shares else 1.0
            per = [(c["name"], *container_usage(pod, c, now, chaos, share))
                   for c in pod["spec"].get("containers") or []]
            usage[key] = per
            total = node_sum.setdefault(pod["spec"]["nodeName"], [0.0, 0.0])
            total[0] += sum(u[1] for u in per)
            total[1] += sum(u[2] for u in per)
            if i % 500 == 499:
                await asyncio.sleep(0)
        for m in list(store.iter(POD_METRICS)):
            key = (m["metadata"].get("namespace", ""), m["metadata"]["name"])
            if key not in usage:
                self._delete(POD_METRICS, key)
                self._written.pop(key, None)
        order = sorted(usage, key=lambda k: self._written.get(k, -1.0))
        for n, key in enumerate(order[:BUDGET]):
            pod = store.peek("pods", *key)
            if pod is not None:
                self._publish_pod(pod, usage[key], ts)
                self._written[key] = now
            if n % CHUNK == CHUNK - 1:
                await asyncio.sleep(0)
        for node in store.iter("nodes"):
            name = node["metadata"]["name"]
            cpu, mem = node_sum.get(name, [0.0, 0.0])
            self._publish_node(node, cpu + NODE_OVERHEAD[0], mem + NODE_OVERHEAD[1], ts)

    def _demand_shares(self) -> dict[str, float]:
        """ReplicaSet uid -> CPU share of its pods, for Deployments under an HPA.

        An autoscaled service has a demand, not a per-pod load: it is sized so that
        ``minReplicas`` pods carry it at the modelled usage, and ``n`` running pods each
        carry ``minReplicas / n`` of that. Scaling out (by hand or by the HPA) therefore
        lowers every pod's CPU, and the HPA settles where a real one would."""
        if self.index is None:
            return {}
        store = self.cluster.store
        shares: dict[str, float] = {}
        for hpa in store.iter("horizontalpodautoscalers.autoscaling"):
            ns = hpa["metadata"].get("namespace", "")
            ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
            if ref.get("kind") != "Deployment":
                continue
            target = store.peek("deployments.apps", ns, ref.get("name", ""))
            if target is None:
                continue
            rs_uids = [rs["metadata"]["uid"] for rs in
                       self.index.owned_objects("replicasets.apps", target["metadata"]["uid"])]
            running = sum(1 for uid in rs_uids for p in self.index.owned_objects("pods", uid)
                          if _running(p))
            if running:
                share = max(1, int(hpa["spec"].get("minReplicas", 1))) / running
                shares.update(dict.fromkeys(rs_uids, share))
        return shares

    def _publish_pod(self, pod: Obj, per: list[tuple[str, float, float]], ts: str) -> None:
        ns, name = pod["metadata"].get("namespace", ""), pod["metadata"]["name"]
        obj = {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": name, "namespace": ns,
                         "labels": dict(pod["metadata"].get("labels") or {})},
            "timestamp": ts,
            "window": "15s",
            "containers": [{"name": c, "usage": {"cpu": quantity.format_cpu(cpu),
                                                 "memory": quantity.format_memory(mem)}}
                           for c, cpu, mem in per],
        }
        self._upsert(POD_METRICS, obj)

    def _publish_node(self, node: Obj, cpu: float, mem: float, ts: str) -> None:
        obj = {
            "kind": "NodeMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": node["metadata"]["name"],
                         "labels": dict(node["metadata"].get("labels") or {})},
            "timestamp": ts,
            "window": "20s",
            "usage": {"cpu": quantity.format_cpu(cpu), "memory": quantity.format_memory(mem)},
        }
        self._upsert(NODE_METRICS, obj)

    def _upsert(self, resource: str, obj: Obj) -> None:
        store = self.cluster.store
        meta = obj["metadata"]
        if store.peek(resource, meta.get("namespace", ""), meta["name"]) is None:
            store.create(resource, obj)
            return

        def replace(current: Obj) -> None:
            for field in ("timestamp", "window", "containers", "usage"):
                if field in obj:
                    current[field] = obj[field]
            current["metadata"]["labels"] = meta["labels"]

        store.mutate(resource, meta.get("namespace", ""), meta["name"], replace)

    def _delete(self, resource: str, key: tuple[str, str]) -> None:
        try:
            self.cluster.store.delete(resource, *key)
        except ApiError:
            pass
