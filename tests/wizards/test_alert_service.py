"""``alert-high-error-rate`` and ``alert-slow-response`` against a healthy service (the
simulator, the emulator, the real PostgreSQL): every figure judged, nothing to remedy; and
the P95 read from histogram buckets as ``histogram_quantile`` reads it.
"""

from __future__ import annotations

import pytest
from conftest import drive

pytestmark = pytest.mark.timeout(180)


def test_quantile_interpolates_inside_the_bucket():
    from actions.alerts.service_alerts import quantile_ms

    # 100 requests: 50 under 0.1 s, 40 more under 0.5 s, 10 more under 1 s
    buckets = {0.1: 50.0, 0.5: 90.0, 1.0: 100.0, float("inf"): 100.0}
    assert quantile_ms(buckets, 0.95) == pytest.approx(750.0)  # halfway into (0.5, 1]
    assert quantile_ms(buckets, 0.5) == pytest.approx(100.0)
    assert quantile_ms({}, 0.95) is None


async def test_healthy_service_error_rate_judged_and_no_remedy(world):
    driven = await drive(world, "alert-high-error-rate")
    text = driven.text()
    assert driven.statuses == {"errors": "ok", "check-service": "ok", "error-logs": "ok",
                               "recent-release": "ok", "rollout-undo": "skipped",
                               "rollout-restart": "skipped", "after": "skipped"}, text
    assert "HEALTHY     error rate (5xx)" in text and "by status: 200" in text
    assert "POST /mcp:" in text  # by endpoint
    pods = [p["metadata"]["name"] for p in world.app_pods()]
    assert sum(f"{name}: " in text for name in pods) == len(pods)  # every pod's log read
    assert "remedy the state points at: none" in text


async def test_healthy_service_latency_and_statements(world):
    driven = await drive(world, "alert-slow-response")
    text = driven.text()
    assert driven.statuses["latency"] == "ok" and driven.statuses["statements"] == "ok", text
    assert "HEALTHY     P95 response time" in text
    assert "remedy the state points at: none" in text
    assert driven.statuses["scale"] == "skipped"
