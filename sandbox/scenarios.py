"""The incidents a sandbox can be put into, each one undoable, switchable while it runs.

A scenario is a pair of coroutines, ``apply`` and ``revert``, acting on the running
:class:`~sandbox.platform.Sandbox`. They cause the incident for real wherever the
sandbox can: the connection-exhaustion scenario opens real PostgreSQL connections, the
blocking one holds a real row lock, the memory one fills the real Redis until it evicts,
the region failure stops the production API server from answering. What they do to the
emulated cluster goes through its chaos hooks (``kube/controllers/chaos.py``), so the
symptoms appear the way they would on a cluster (CrashLoopBackOff with rising restarts,
ImagePullBackOff on a rollout, a Failed Velero backup, a certificate nearing expiry).

``expect`` is what ``mcp-ops check sandbox`` reports once the scenario has taken hold:
the status and the words of the reason; the tests hold the sandbox to it.

``log_mix`` is what the MCP-server pods log while the incident lasts, in proportion to
it (``kube/log_book.LogMix``): a bad release 5xx tracebacks, an exhausted pool connection
timeouts, a slow release slow queries and timeouts; authentication failures stay at
their everyday trickle except where the incident is about them (``intrusion`` plants its
own). The sandbox sets it when it switches (and back to the everyday mix on the way out),
so the log viewer's presets and the log-review wizard find the incident in the logs too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import (
    scenario_cpu,
    scenario_data,
    scenario_kube,
    scenario_outage,
    scenario_perf,
    scenario_security,
)
from .kube.log_book import EVERYDAY, LogMix, set_log_mix

if TYPE_CHECKING:
    from .platform import Sandbox

Step = Callable[["Sandbox"], Awaitable[None]]


async def _nothing(sandbox: Sandbox) -> None:
    return None


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    description: str  # what happens, and what to rehearse against it
    expect_status: str  # HEALTHY / WARNING / CRITICAL / UNREACHABLE, from mcp-ops check
    expect_reason: str  # words that appear in one of the check's reasons
    apply: Step = _nothing
    revert: Step = _nothing
    log_mix: LogMix | None = None  # None: the everyday mix


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("healthy", "Healthy platform",
             "Everything as in a quiet morning: all pods ready, low error rate, backups fresh.",
             "HEALTHY", "pods ready"),
    Scenario("crashloop", "A pod in CrashLoopBackOff",
             "One MCP-server pod exits a few seconds after every start. Practise the "
             "service-down / pod troubleshooting wizard: logs --previous, describe, restart.",
             "CRITICAL", "CrashLoopBackOff",
             scenario_kube.crashloop_apply, scenario_kube.crashloop_revert),
    Scenario("bad-rollout", "A rollout to an image that cannot be pulled",
             "The deployment was updated to an image tag that does not exist; new pods sit in "
             "ImagePullBackOff while the old ones serve. Practise rollout status and undo.",
             "CRITICAL", "ImagePull",
             scenario_kube.bad_rollout_apply, scenario_kube.bad_rollout_revert),
    Scenario("high-error-rate", "Error rate above 5 %",
             "Release 2.4.2 was rolled out and 12 % of MCP requests now fail with 5xx; the "
             "pods log errors. Practise the high-error-rate alert wizard (rolling back "
             "heals it).",
             "CRITICAL", "error rate",
             scenario_data.high_error_rate_apply, scenario_data.service_revert,
             log_mix=LogMix.of(0.15, server_error=8, upstream_timeout=1, db_timeout=1)),
    Scenario("slow-responses", "P95 response time above 2 s",
             "Release 2.4.2-n1query was rolled out and requests take seconds instead of "
             "milliseconds. Practise the slow-responses alert wizard (database, cache and "
             "resource checks; rolling back heals it).",
             "CRITICAL", "P95 response time",
             scenario_data.slow_responses_apply, scenario_data.service_revert,
             log_mix=LogMix.of(0.2, slow_query=5, upstream_timeout=2, db_timeout=2, redis_timeout=1)),
    Scenario("db-connection-exhaustion", "Database connections at 90 % of max_connections",
             "Real connections are held open until 90 % of max_connections are in use. "
             "Practise the connection-pool troubleshooting wizard.",
             "WARNING", "DB connections",
             scenario_data.connections_apply, scenario_data.connections_revert,
             log_mix=LogMix.of(0.08, db_timeout=8, server_error=2)),
    Scenario("blocking-queries", "A transaction holding a lock others wait for",
             "A batch job's open transaction holds a row lock on critical_table and two "
             "updates queue behind it. Practise finding and ending the blocking session.",
             "CRITICAL", "blocking chain",
             scenario_data.blocking_apply, scenario_data.blocking_revert,
             log_mix=LogMix.of(0.06, slow_query=2, server_error=3, db_timeout=1)),
    Scenario("redis-memory-pressure", "Redis full, evicting keys",
             "The cache is filled to maxmemory and keeps evicting; the hit rate falls. "
             "Practise the Redis troubleshooting wizard.",
             "CRITICAL", "Redis memory",
             scenario_data.redis_pressure_apply, scenario_data.redis_pressure_revert,
             log_mix=LogMix.of(0.05, redis_timeout=1)),
    Scenario("backup-failed", "Last night's backups failed",
             "The latest Velero backup ended Failed, the nightly dump job failed (its log "
             "ends in ERROR) and left an empty file in S3. Practise the daily backup "
             "verification wizard.",
             "CRITICAL", "Failed",
             scenario_kube.backup_failed_apply, scenario_kube.backup_failed_revert),
    Scenario("region-failure", "Production region down",
             "The production API server and service stop answering; the DR region is fine. "
             "Practise the DR failover wizard (Velero restore, Route53, RDS promotion).",
             "UNREACHABLE", "unreachable",
             scenario_kube.region_failure_apply, scenario_kube.region_failure_revert),
    Scenario("cert-expiring", "TLS certificate expiring in 12 days",
             "production-tls expires in 12 days (the service host presents it over TLS) and "
             "automatic renewal is failing. Practise the certificate-check wizard: renew "
             "as cmctl renew does, see the new expiry over TLS.",
             "WARNING", "certificate",
             scenario_kube.cert_expiring_apply, scenario_kube.cert_expiring_revert),
    Scenario("outage", "Complete outage after a release",
             "Release 2.5.0 was applied with strategy Recreate: every old pod is gone and every "
             "new one crashes (CrashLoopBackOff; Running-but-not-Ready between crashes), so "
             "/health answers 503. Practise the service-outage wizard: assess, maintenance "
             "page, root cause in the rollout history, rollout undo.",
             "CRITICAL", "health",
             scenario_outage.outage_apply, scenario_outage.outage_revert),
    Scenario("intrusion", "Failed logins from one hostile address",
             f"For three hours {scenario_security.HOSTILE} has tried API keys and tokens "
             "against every MCP-server pod (about 1,800 failed authentications in the logs). "
             "Practise the daily security checks (find the address) and the "
             "security-incident wizard (block it, keep evidence, tell the team).",
             "HEALTHY", "pods ready",
             scenario_security.intrusion_apply, scenario_security.intrusion_revert),
    Scenario("falco-alert", "Falco: a shell and a dropped binary in a container",
             "Falco reports a terminal shell, a write below /etc and a new binary executed in "
             "an MCP-server container (Error and Critical alerts). Practise the daily "
             "security checks: read every Falco pod, not deployment/falco.",
             "HEALTHY", "pods ready",
             scenario_security.falco_apply, scenario_security.falco_revert),
    Scenario("missing-index", "A hot query on a table without its index",
             "tool_call_events (500,000 rows) has no index on account_id, and the server's "
             "last-call-per-account query reads the whole table once per account, about 3 s "
             "a run, over and over. Practise the weekly performance review: find the slow "
             "statement, CREATE INDEX CONCURRENTLY, see it fast again.",
             "WARNING", "running > 1 s",
             scenario_perf.missing_index_apply, scenario_perf.missing_index_revert,
             log_mix=LogMix.of(0.05, slow_query=4, db_timeout=1)),
    Scenario("memory-leak", "Pods OOMKilled: memory grows past the limit",
             "The server's in-process cache grows past the 4 GiB memory limit: every "
             "MCP-server pod is OOMKilled and restarts. Practise the high CPU/memory alert "
             "and memory troubleshooting wizards: a memory limit of 6 GiB holds it.",
             "CRITICAL", "CrashLoopBackOff",
             scenario_kube.memory_leak_apply, scenario_kube.memory_leak_revert),
    Scenario("high-cpu", "CPU load the autoscaler cannot absorb",
             "Traffic tripled and the HPA's maxReplicas was left at 6 by last week's values "
             "change: every MCP-server pod runs at about 140 % of its CPU request and the "
             "HPA, at its maximum, cannot add one. Practise the high CPU/memory alert "
             "wizard (CPU per pod, the HPA at its maximum); raising the HPA's maximum with "
             "the scaling wizard spreads the load.",
             "CRITICAL", "pod CPU",
             scenario_cpu.high_cpu_apply, scenario_cpu.high_cpu_revert,
             log_mix=LogMix.of(0.06, slow_query=2, upstream_timeout=1, redis_timeout=1, db_timeout=1)),
    Scenario("redis-hot-keys", "One key pattern fills the cache",
             "A finished export job left its pages in Redis (export:*, no TTL): the cache "
             "is at 88 % of maxmemory. Practise the Redis troubleshooting wizard: find the "
             "pattern, delete it with SCAN + UNLINK instead of FLUSHDB.",
             "WARNING", "Redis memory",
             scenario_data.redis_hot_keys_apply, scenario_data.redis_hot_keys_revert,
             log_mix=LogMix.of(0.03, redis_timeout=1)),
)}


async def set_logs(sandbox: Sandbox, scenario: Scenario | None) -> None:
    """What the production MCP-server pods log from now on: ``scenario``'s mix, or the
    everyday one (None, or a scenario without a mix of its own)."""
    set_log_mix(sandbox.clusters.production.cluster,
                (scenario.log_mix if scenario else None) or EVERYDAY)


def names() -> list[str]:
    return list(SCENARIOS)


def get(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"no scenario {name!r}; one of: {', '.join(SCENARIOS)}") from None
