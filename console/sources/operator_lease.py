"""The operator lease as anyone may read it: who holds an environment, since when.

The lease itself — taken before a run's first change step, renewed, released, taken over —
is :mod:`console.execution.kube.lease`'s; this is the read-only half the dashboard's header
needs every 10 s (who else holds the environment), kept here with the dashboard's other
Kubernetes reads so that showing it imports neither the executor nor kubernetes-asyncio.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from console.config.model import KubernetesSettings

from .kube import KubeError


class Reads(Protocol):
    """What can GET: the dashboard's KubeSource, a run's KubeApi."""

    async def get(self, path: str, **params: Any) -> dict: ...


DURATION = 30  # seconds without a renewal after which a lease is free
PATH = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
ANNOTATION = "mcp-ops.pratiko.ai/"


def lease_name(env_name: str) -> str:
    return f"mcp-ops-{env_name}"


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class Holder:
    """Who holds (or wants) the lease."""

    operator: str  # user name
    host: str
    wizard: str
    session: str

    @property
    def identity(self) -> str:
        return f"{self.operator}@{self.host}"


@dataclass(frozen=True)
class LeaseState:
    holder: Holder | None
    acquired: datetime | None
    renewed: datetime | None
    duration: int
    resource_version: str

    def expired(self, now: datetime) -> bool:
        if self.holder is None or self.renewed is None:
            return True
        return (now - self.renewed).total_seconds() > self.duration

    def describe(self, now: datetime | None = None) -> str:
        if self.holder is None:
            return "free"
        now = now or datetime.now(UTC)
        since = f" since {self.acquired:%H:%M:%S} UTC" if self.acquired else ""
        age = f", renewed {max((now - self.renewed).total_seconds(), 0):.0f}s ago" \
            if self.renewed else ""
        return (f"{self.holder.identity} ({self.holder.wizard}, session "
                f"{self.holder.session}){since}{age}")


def state_of(body: dict[str, Any]) -> LeaseState:
    spec = body.get("spec") or {}
    notes = (body.get("metadata") or {}).get("annotations") or {}
    identity = spec.get("holderIdentity")
    holder = None
    if identity:
        operator, _, host = identity.partition("@")
        holder = Holder(notes.get(ANNOTATION + "operator", operator), host,
                        notes.get(ANNOTATION + "wizard", "?"),
                        notes.get(ANNOTATION + "session", "?"))
    return LeaseState(holder, _parse(spec.get("acquireTime")), _parse(spec.get("renewTime")),
                      int(spec.get("leaseDurationSeconds") or DURATION),
                      str((body.get("metadata") or {}).get("resourceVersion", "")))


async def read_lease(source: Reads, settings: KubernetesSettings,
                     env_name: str) -> LeaseState | None:
    """The environment's lease as it stands (None: nobody has taken it) — what another
    console shows in its header. A plain GET through ``source`` (the dashboard's own
    :class:`KubeSource`, or a run's :class:`KubeApi`): reading it needs neither the
    executor nor kubernetes-asyncio."""
    try:
        body = await source.get(PATH.format(ns=settings.namespace) + f"/{lease_name(env_name)}")
    except KubeError as exc:
        if exc.status == 404:
            return None
        raise
    return state_of(body)
