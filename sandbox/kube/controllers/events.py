"""core/v1 Events, recorded the way kubelets and controllers record them.

``kubectl get events --sort-by=.lastTimestamp`` and ``kubectl describe`` are how an
operator learns *why* a pod is not running, so the emulator's controllers say it the same
way: an identical (object, reason, message) repeats by raising ``count`` and
``lastTimestamp`` instead of adding a new object, and old events expire.
"""

from __future__ import annotations

import secrets

from ..store import ApiError, Obj

EVENT_TTL = 3600.0  # emulated seconds, the apiserver's default --event-ttl
MAX_EVENTS = 5000  # a bound so a long-running crashloop cannot grow the store without end


class EventRecorder:
    def __init__(self, cluster):
        self.cluster = cluster
        self._names: dict[tuple, tuple[str, str]] = {}

    def record(self, obj: Obj, type_: str, reason: str, message: str, *,
               component: str, host: str | None = None, field_path: str | None = None) -> None:
        """Record (or repeat) an event about ``obj``. Never raises: an event that cannot
        be written must not break the controller that reports it."""
        try:
            self._record(obj, type_, reason, message, component, host, field_path)
        except ApiError:
            pass

    def _record(self, obj, type_, reason, message, component, host, field_path) -> None:
        store, clock = self.cluster.store, self.cluster.clock
        meta = obj.get("metadata", {})
        namespace = meta.get("namespace") or "default"
        dedup = (meta.get("uid"), type_, reason, message, component, field_path)
        now = clock.timestamp()
        known = self._names.get(dedup)
        if known is not None and store.peek("events", *known) is not None:

            def repeat(ev: Obj) -> None:
                ev["count"] = int(ev.get("count") or 1) + 1
                ev["lastTimestamp"] = now

            store.mutate("events", known[0], known[1], repeat)
            return
        name = f"{meta.get('name', 'unknown')}.{secrets.token_hex(8)}"
        involved: Obj = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", "v1"),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        if field_path:
            involved["fieldPath"] = field_path
        if not involved["namespace"]:
            del involved["namespace"]
        source: Obj = {"component": component}
        if host:
            source["host"] = host
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "type": type_,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": source,
            "reportingComponent": component,
            "reportingInstance": host or "",
        }
        store.create("events", event)
        self._names[dedup] = (namespace, name)

    def prune(self) -> None:
        """Delete events older than the TTL, and the oldest beyond :data:`MAX_EVENTS`."""
        store, clock = self.cluster.store, self.cluster.clock
        cutoff = clock.timestamp(clock.now() - EVENT_TTL)
        events = store.iter("events")
        stale = [e for e in events if (e.get("lastTimestamp") or "") < cutoff]
        fresh = [e for e in events if (e.get("lastTimestamp") or "") >= cutoff]
        if len(fresh) > MAX_EVENTS:
            fresh.sort(key=lambda e: e.get("lastTimestamp") or "")
            stale.extend(fresh[: len(fresh) - MAX_EVENTS])
        for ev in stale:
            meta = ev["metadata"]
            try:
                store.delete("events", meta.get("namespace", ""), meta["name"])
            except ApiError:
                pass
        if stale:
            live = {(e["metadata"].get("namespace", ""), e["metadata"]["name"])
                    for e in store.iter("events")}
            self._names = {k: v for k, v in self._names.items() if v in live}
