"""Alertmanager's API v2: the alerts firing now, for the console to show beside its own.

``GET {url}/api/v2/alerts?active=true&silenced=false&inhibited=false`` with the configured
``filter`` matchers (``namespace="mcp-production"``) narrows a shared Alertmanager to this
platform's alerts. Silenced and inhibited alerts are left out, as Alertmanager leaves them
out of its notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx


@dataclass(frozen=True)
class FiringAlert:
    name: str
    severity: str  # the alert's severity label; "" when it has none
    summary: str
    started_at: datetime | None
    labels: tuple[tuple[str, str], ...] = ()

    def age_seconds(self, now: datetime) -> float | None:
        return (now - self.started_at).total_seconds() if self.started_at else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def parse(body: Any) -> list[FiringAlert]:
    if not isinstance(body, list):
        raise ValueError("Alertmanager answered something that is not a list of alerts")
    alerts = []
    for item in body:
        labels = item.get("labels") or {}
        annotations = item.get("annotations") or {}
        alerts.append(FiringAlert(
            name=str(labels.get("alertname", "?")), severity=str(labels.get("severity", "")),
            summary=str(annotations.get("summary") or annotations.get("description") or ""),
            started_at=_time(item.get("startsAt")),
            labels=tuple(sorted((str(k), str(v)) for k, v in labels.items()))))
    return sorted(alerts, key=lambda a: (a.started_at or datetime.max.replace(tzinfo=UTC),
                                         a.name))


async def firing(client: httpx.AsyncClient, url: str, matchers: list[str]) -> list[FiringAlert]:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("active", "true"), ("silenced", "false"), ("inhibited", "false")]
    params += [("filter", m) for m in matchers]
    response = await client.get(f"{url.rstrip('/')}/api/v2/alerts", params=params)
    response.raise_for_status()
    return parse(response.json())
