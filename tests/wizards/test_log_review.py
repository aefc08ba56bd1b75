"""``log-review`` on the emulator: 24 h of every pod of the selector read, the planted
lines counted exactly per filter, per pod and per hour; memory bounded (the review keeps
counters, not lines).
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
from conftest import drive

pytestmark = pytest.mark.timeout(300)
NS = "mcp-production"


def plant(world) -> tuple[list[str], int]:
    from sandbox.kube.log_book import append_log_line
    from sandbox.kube.log_lines import app_time

    pods = sorted(p["metadata"]["name"] for p in world.app_pods()
                  if not p["metadata"].get("deletionTimestamp"))
    now = world.cluster.clock.now()
    planted = 0
    for i, pod in enumerate(pods):
        for hours_ago in range(1, 21, 3):  # 7 lines a pod, spread over 19 hours
            at = now - hours_ago * 3600 - i
            append_log_line(world.cluster, NS, pod, "mcp-server",
                            f"{app_time(at)} ERROR [mcp.audit] planted fault {900 + i} in "
                            f"ledger export", at=at)
            planted += 1
        at = now - 7200 - i
        append_log_line(world.cluster, NS, pod, "mcp-server",
                        f"{app_time(at)} WARN  [mcp.audit] planted FORBIDDEN export by "
                        f"10.9.8.{i}", at=at)
    return pods, planted


async def test_every_pod_is_read_and_the_planted_lines_counted(world):
    from actions.log_review import CACHE

    pods, planted = plant(world)
    assert len(pods) >= 6
    tracemalloc.start()
    began = time.monotonic()
    try:
        driven = await drive(world, "log-review")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    took = time.monotonic() - began
    text = driven.text()
    assert driven.statuses == {"read-logs": "ok", "review-errors": "ok", "review-auth": "ok",
                               "review-slow": "ok"}, text
    review = driven.run.ctx.cache[CACHE]
    errors = review.counts["errors"]
    assert errors.messages["ERROR [mcp.audit] planted fault <n> in ledger export"] == planted
    assert review.counts["auth"].messages["WARN [mcp.audit] planted FORBIDDEN export by <ip>"] \
        == len(pods)
    assert set(review.per_pod_lines) == set(pods)  # every pod, not one
    assert all(review.per_pod_lines[p] > 10 for p in pods)  # the whole day, not 10 lines
    assert len(errors.per_hour) >= 19  # spread over the day
    assert f"{planted:>6}  ERROR [mcp.audit] planted fault <n> in ledger export" in text
    print(f"\nlog-review: {review.lines} lines from {len(pods)} pods in {took:.1f} s; "
          f"peak traced memory {peak / 2**20:.1f} MiB")


def test_memory_stays_bounded_however_many_lines():
    from actions.logs.review import MAX_MESSAGES, Review

    found = Review()
    tracemalloc.start()
    try:
        for i in range(60_000):  # every line a new message: the worst case
            found.add(f"pod-{i % 6}", f"2026-12-06 {i % 24:02d}:00:00,000 ERROR [x] "
                      f"failure kind-{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}"
                      f"{chr(97 + i // 676 % 26)}{chr(97 + i // 17576 % 26)} slow timeout")
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert found.lines == 60_000 and found.counts["errors"].total == 60_000
    assert len(found.counts["errors"].messages) == MAX_MESSAGES + 1  # + "(other messages)"
    assert peak < 8 * 2**20, peak
    print(f"\n60000 lines: peak {peak / 2**20:.2f} MiB, held {current / 2**20:.2f} MiB")


async def test_a_scenarios_log_mix_is_counted_exactly_and_in_proportion(world):
    """The sandbox's high-error-rate mix (5xx tracebacks, timeouts; no more authentication
    failures than any day) for half an hour: log-review's counts per filter equal the
    lines the emulator's log book holds for the hour read, and the incident shows in
    proportion — errors far above authentication failures, from every pod."""
    from actions.log_review import CACHE
    from actions.logs.review import FILTERS
    from sandbox.kube.log_book import log_book, set_log_mix
    from sandbox.kube.logs import resolve_instance
    from sandbox.scenarios import get

    cluster, clock = world.cluster, world.cluster.clock
    set_log_mix(cluster, get("high-error-rate").log_mix)
    clock.advance(1800)  # half an hour of the incident
    speed, clock.speed = clock.speed, 1e-9  # held: the review and the truth read one hour
    try:
        driven = await drive(world, "log-review", {"hours": "1"})
        now = clock.now()
        truth = dict.fromkeys(FILTERS, 0)
        pods = [p for p in world.app_pods() if not p["metadata"].get("deletionTimestamp")]
        for pod in pods:
            runs = [False, True] if any(int(cs.get("restartCount") or 0) for cs in
                                        pod["status"].get("containerStatuses") or []) else [False]
            for previous in runs:
                inst = resolve_instance(cluster, pod, "mcp-server", previous)
                for _, text in log_book(cluster).lines(inst, max(inst.start, now - 3600), now):
                    for name, pattern in FILTERS.items():
                        truth[name] += bool(pattern.search(text))
    finally:
        clock.speed = speed
    assert driven.statuses["read-logs"] == "ok", driven.text()
    review = driven.run.ctx.cache[CACHE]
    assert {name: review.counts[name].total for name in FILTERS} == truth
    errors, auth = review.counts["errors"], review.counts["auth"]
    assert errors.total >= 10 * auth.total > 0, (errors.total, auth.total)
    assert set(errors.per_pod) == {p["metadata"]["name"] for p in pods}
    top = [message for message, _ in errors.messages.most_common(3)]
    assert any("Internal Server Error" in m for m in top), top  # the bad release's 5xx
    print(f"\nhigh-error-rate mix, 1 h of {len(pods)} pods: {review.lines} lines; errors "
          f"{errors.total}, auth {auth.total}, slow {review.counts['slow'].total}")
