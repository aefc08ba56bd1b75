"""The database the application was switched to, and the Database panel following it.

``db-pitr`` switches the application to its recovery instance by patching the credentials
secret; it records the switch on the application's Deployment too, where every reader of
the cluster sees it without reading a secret: :data:`SWITCHED_TO` (the host the
application now uses) and :data:`SWITCHED_AT` (when, ISO 8601). The way back removes both.

:class:`FollowingPostgresCollector` is the dashboard's and ``mcp-ops check``'s database
collector. It looks at those annotations (at most every ``refresh`` seconds, alongside
the primary's collection and within a third of the poll's time, so a slow API server
cannot time the database out; the last answer is kept when it cannot look) and then:

- no switch: collects from ``postgres.dsn`` as always;
- switched, and ``postgres.recovery_dsn`` configured (how the console reaches the
  recovery instance): collects from there — the panel follows the application;
- switched, no ``recovery_dsn``: collects from ``postgres.dsn`` still, and the snapshot
  says so, so the rules raise a WARNING ("still watches the old primary") instead of
  showing the old primary's figures as if they were the application's.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass

from console.config.model import PostgresSettings
from console.sources.kube import KubeSource

from .postgres import PostgresCollector
from .postgres_model import PostgresSnapshot

SWITCHED_TO = "mcp-ops.pratiko.ai/database-switched-to"
SWITCHED_AT = "mcp-ops.pratiko.ai/database-switched-at"


@dataclass(frozen=True)
class DatabaseSwitch:
    host: str  # what the application's credentials name now
    at: str  # when it was switched (ISO 8601), "" if not recorded


def switch_of(annotations: Mapping[str, str]) -> DatabaseSwitch | None:
    """The switch recorded in a Deployment's annotations, if any."""
    host = (annotations or {}).get(SWITCHED_TO)
    return DatabaseSwitch(host, (annotations or {}).get(SWITCHED_AT, "")) if host else None


class FollowingPostgresCollector:
    """A :class:`PostgresCollector` of ``postgres.dsn``, or of ``postgres.recovery_dsn``
    once the application was switched to the recovery instance (see the module doc).
    ``kube`` may be shared: it is closed only when this collector made it."""

    def __init__(self, settings: PostgresSettings, kube_settings, *, kube: KubeSource | None = None,
                 refresh: float = 10.0, look_timeout: float = 1.0, **collector_args) -> None:
        self.settings = settings
        self.deployment = kube_settings.deployment
        self._own_kube = kube is None
        self._kube = kube or KubeSource(kube_settings, timeout=look_timeout)
        self.refresh = refresh
        self.look_timeout = look_timeout
        self._args = collector_args
        self.primary = PostgresCollector(settings, **collector_args)
        self._recovery: PostgresCollector | None = None
        self.switch: DatabaseSwitch | None = None
        self._looked_at = -float("inf")

    @property
    def replica_timeout(self) -> float:
        return self.primary.replica_timeout

    def _recovery_collector(self) -> PostgresCollector | None:
        if not self.settings.recovery_dsn:
            return None
        if self._recovery is None:
            recovery = self.settings.model_copy(update={"dsn": self.settings.recovery_dsn,
                                                        "replica_dsns": []})
            self._recovery = PostgresCollector(recovery, **self._args)
        return self._recovery

    async def _look(self) -> None:
        if time.monotonic() - self._looked_at < self.refresh:
            return
        path = (f"/apis/apps/v1/namespaces/{self._kube.namespace}/deployments/"
                f"{self.deployment}")
        self._looked_at = time.monotonic()  # a failed look is not retried at every poll
        try:
            body = await asyncio.wait_for(self._kube.get(path), self.look_timeout)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - cannot look now: keep what was seen last
            return
        self.switch = switch_of((body.get("metadata") or {}).get("annotations") or {})

    async def collect(self) -> PostgresSnapshot:
        """The look runs alongside the primary's collection, so it costs no time while
        nothing is switched; only a switch to a followed database adds that collection."""
        look = asyncio.ensure_future(self._look())
        try:
            known = self.switch
            primary = None
            if known is None or not self.settings.recovery_dsn:
                primary = await self.primary.collect()
            await look
        finally:
            if not look.done():
                look.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await look
        switch = self.switch
        recovery = self._recovery_collector() if switch else None
        snap = await recovery.collect() if recovery else (primary or await self.primary.collect())
        if switch is None:
            return snap
        return dataclasses.replace(snap, switched_to=switch.host, switched_at=switch.at,
                                   following=recovery is not None,
                                   watched=(self.settings.recovery_dsn if recovery
                                            else self.settings.dsn) or "")

    async def close(self) -> None:
        await self.primary.close()
        if self._recovery is not None:
            await self._recovery.close()
        if self._own_kube:
            await self._kube.close()
