"""One operator at a time per environment: a ``coordination.k8s.io/v1`` Lease.

Two engineers paged at once must not run a restore and a scale-down against the same
environment together. Before its first change step a run takes the Lease
``mcp-ops-<environment>`` in the environment's namespace — the cluster is the shared, highly
available lock every operator already reaches — naming the operator and host
(``holderIdentity``, what ``kubectl get lease`` shows) and the wizard and session
(annotations). It is renewed every :data:`RENEW_EVERY` seconds while the run lasts and
deleted at its end; a crashed holder's lease expires after ``leaseDurationSeconds``
(:data:`DURATION`) on its own, as leader election's leases do.

Another run cannot start a change step while the lease is held and not expired: it is told
who holds it, for which wizard and session, and since when. It may take the lease over only
by naming the holder (``mcp-ops run --take-over USER``), which both sessions' logs record
(the old holder learns it at its next renewal, and its further change steps are refused).
Every write carries the ``resourceVersion`` it read, so two takers racing for the same
lease cannot both win: the API answers the loser 409 Conflict.

Reads never need the lease; a read-only run never takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from console.config.model import KubernetesSettings
from console.sources.kube import KubeError
from console.sources.operator_lease import (  # noqa: F401 - re-exported
    ANNOTATION,
    DURATION,
    PATH,
    Holder,
    LeaseState,
    lease_name,
    read_lease,
    state_of,
)

from .api import KubeApi
from .reader import KubeReader
from .writer import KubeWriter

RENEW_EVERY = 10.0


def _micro(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaseHeld(Exception):
    """Another operator holds the environment."""

    def __init__(self, env_name: str, state: LeaseState):
        self.state = state
        holder = state.holder.operator if state.holder else "?"
        super().__init__(
            f"{env_name} is held by {state.describe()}; no change step may start until it is "
            f"released or expires ({state.duration}s without renewal). To take it over, "
            f"name the holder: --take-over {holder}")


class OperatorLease:
    """The environment's lease for one run (see the module's description)."""

    def __init__(self, api: KubeApi, settings: KubernetesSettings, env_name: str,
                 holder: Holder, *, duration: int = DURATION,
                 renew_every: float | None = None) -> None:
        self._api = api
        # the executor's own writes (the lease), through the one Kubernetes writer
        self._writer = KubeWriter(api, settings, KubeReader(api, settings))
        self.settings = settings
        self.env_name = env_name
        self.name = lease_name(env_name)
        self.holder = holder
        self.duration = duration
        # renewed well inside its duration: every 10 s, or a third of a shorter lease
        self.renew_every = min(RENEW_EVERY, duration / 3) if renew_every is None else renew_every
        self.held = False
        self.lost: str | None = None  # why the lease is no longer ours (taken over...)
        self._version = ""
        self._renewer: asyncio.Task[None] | None = None

    async def read(self) -> LeaseState | None:
        return await read_lease(self._api, self.settings, self.env_name)

    def _body(self, *, acquired: datetime, version: str | None,
              transitions: int = 0) -> dict[str, Any]:
        h = self.holder
        meta: dict[str, Any] = {
            "name": self.name, "namespace": self.settings.namespace,
            "labels": {"app.kubernetes.io/managed-by": "mcp-ops"},
            "annotations": {ANNOTATION + "operator": h.operator, ANNOTATION + "wizard": h.wizard,
                            ANNOTATION + "session": h.session}}
        if version:
            meta["resourceVersion"] = version
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": h.identity, "leaseDurationSeconds": self.duration,
                         "acquireTime": _micro(acquired),
                         "renewTime": _micro(datetime.now(UTC)),
                         "leaseTransitions": transitions}}

    async def acquire(self, *, take_over: str | None = None) -> str:
        """Take the lease (or keep it); returns what happened, for the log. Raises
        :class:`LeaseHeld` when another operator holds it and ``take_over`` does not name
        them."""
        if self.lost:
            raise LeaseHeld(self.env_name, await self.read() or state_of({}))
        now = datetime.now(UTC)
        state = await self.read()
        try:
            if state is None:
                created = await self._writer.create(self._body(acquired=now, version=None))
                result = "acquired"
            else:
                ours = state.holder is not None and state.holder.session == self.holder.session
                if ours:
                    result = "renewed"
                elif state.expired(now):
                    result = f"acquired (the lease of {state.describe(now)} had expired)"
                elif take_over and state.holder and take_over == state.holder.operator:
                    result = f"taken over from {state.describe(now)}"
                else:
                    raise LeaseHeld(self.env_name, state)
                created = await self._writer.replace(self._body(
                    acquired=state.acquired or now if ours else now,
                    version=state.resource_version, transitions=0 if ours else 1))
        except KubeError as exc:
            if exc.status in (409,):  # another taker won the race: say who
                raise LeaseHeld(self.env_name, await self.read() or state_of({})) from None
            raise
        self._version = str((created.get("metadata") or {}).get("resourceVersion", ""))
        self.held = True
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._keep(), name=f"lease {self.name}")
        return result

    async def _keep(self) -> None:
        while self.held:
            await asyncio.sleep(self.renew_every)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a missed renewal is retried; expiry decides
                continue

    async def renew(self) -> None:
        """Renew the lease; if someone else holds it now, it is lost (``lost`` says how)."""
        state = await self.read()
        if state is None or state.holder is None or state.holder.session != self.holder.session:
            self.held = False
            self.lost = ("taken over by " + state.describe()) if state and state.holder \
                else "the lease was removed"
            return
        body = self._body(acquired=state.acquired or datetime.now(UTC),
                          version=state.resource_version)
        updated = await self._writer.replace(body)
        self._version = str((updated.get("metadata") or {}).get("resourceVersion", ""))

    async def release(self) -> bool:
        """Stop renewing and delete the lease if it is still ours; True if it was."""
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewer
        if not self.held:
            return False
        self.held = False
        state = await self.read()
        if state is None or state.holder is None or state.holder.session != self.holder.session:
            return False
        await self._writer.delete_object("Lease", self.name,
                                         resource_version=state.resource_version)
        return True
