"""DESIGN.md's thresholds as rules: each status with its reason in words and figures, and
per-environment overrides."""

from __future__ import annotations

import pytest

from console.collectors.backups_model import BackupsSnapshot, S3Dump, VeleroBackup
from console.collectors.kube_model import DeploymentInfo, KubeSnapshot, PodInfo
from console.collectors.postgres_model import BlockingEdge, PostgresSnapshot, ReplicaLag
from console.collectors.redis import RedisSnapshot
from console.config.model import Band, Thresholds
from console.health import Status
from console.health.evaluate import evaluate, evaluate_component

T = Thresholds()


def pg(**kw) -> PostgresSnapshot:
    return PostgresSnapshot(max_connections=200, **kw)


def test_db_connections_reason_has_the_figures():
    h = evaluate_component("database", pg(connections=168), T)
    assert h.status is Status.WARNING
    assert h.reasons[0] == "DB connections 84% of max_connections (168/200) ≥ 80%"
    assert evaluate_component("database", pg(connections=192), T).status is Status.CRITICAL
    assert evaluate_component("database", pg(connections=100), T).status is Status.HEALTHY


def test_blocking_chain_is_critical_and_slow_query_a_warning():
    edge = BlockingEdge(blocked_pid=2, blocked_query="u2", blocked_seconds=4.2, blocking_pid=1,
                        blocking_query="u1", blocking_seconds=9.0, blocking_state="idle in transaction")
    h = evaluate_component("database", pg(connections=3, blocking=(edge,)), T)
    assert h.status is Status.CRITICAL
    assert h.reasons[0] == "blocking chain: pid 1 blocks pid 2 for 4.2 s"


def test_replication_lag_bands():
    lag = lambda s: pg(connections=1, replication=(ReplicaLag(name="r1", lag_seconds=s),))  # noqa: E731
    assert evaluate_component("database", lag(3), T).status is Status.HEALTHY
    w = evaluate_component("database", lag(12), T)
    assert w.status is Status.WARNING and "replication lag r1 12 s ≥ 10 s" in w.reasons
    assert evaluate_component("database", lag(60), T).status is Status.CRITICAL


def test_unreachable_source_is_unknown_and_shown_as_unreachable():
    h = evaluate_component("database", PostgresSnapshot.failed("connection refused"), T)
    assert h.status is Status.UNKNOWN and h.status.label == "UNREACHABLE"
    assert h.reasons == ("database unreachable: connection refused",)


def test_redis_memory_hit_rate_and_sustained_evictions():
    base = dict(used_memory=850, maxmemory=1000)
    h = evaluate_component("cache", RedisSnapshot(**base, hit_rate_pct=99.0), T)
    assert h.status is Status.WARNING
    assert h.reasons[0].startswith("Redis memory 85% of maxmemory")
    h = evaluate_component("cache", RedisSnapshot(used_memory=1, maxmemory=1000,
                                                 recent_hit_rate_pct=70.0, hit_rate_pct=99.0), T)
    assert h.status is Status.CRITICAL
    assert h.reasons[0] == "Redis hit rate 70% < 80% (since last poll)"
    blip = RedisSnapshot(evictions_per_sec=3.0, evicting_seconds=4)
    assert evaluate_component("cache", blip, T).status is Status.WARNING
    sustained = RedisSnapshot(evictions_per_sec=3.0, evicting_seconds=90)
    h = evaluate_component("cache", sustained, T)
    assert h.status is Status.CRITICAL and "sustained" in h.reasons[0]


def test_pods_scaled_to_zero_crashloop_and_oomkilled():
    zero = KubeSnapshot(deployment=DeploymentInfo(name="mcp", desired=0))
    h = evaluate_component("pods", zero, T)
    assert h.status is Status.CRITICAL
    assert h.reasons[0] == "service down: deployment mcp scaled to 0 replicas"
    ok = PodInfo(name="a", phase="Running", ready=1, containers=1)
    crash = PodInfo(name="b", phase="Running", ready=0, containers=1, restarts=5,
                    waiting_reason="CrashLoopBackOff", last_termination="Error")
    snap = KubeSnapshot(deployment=DeploymentInfo(name="mcp", desired=2, updated=2, available=1),
                        pods=(ok, crash))
    h = evaluate_component("pods", snap, T)
    assert h.status is Status.CRITICAL
    assert h.reasons[0] == "pod b CrashLoopBackOff (5 restarts, last exit Error)"
    assert "1/2 pods ready (not ready: b)" in h.reasons
    oom = PodInfo(name="c", phase="Running", ready=1, containers=1, restarts=1,
                  last_termination="OOMKilled", restarts_rising=True)
    snap = KubeSnapshot(deployment=DeploymentInfo(name="mcp", desired=1, updated=1, available=1),
                        pods=(oom,))
    assert "pod c OOMKilled (1 restarts)" in evaluate_component("pods", snap, T).reasons


def test_pod_cpu_against_requests():
    hot = PodInfo(name="a", phase="Running", ready=1, containers=1, cpu_m=475, cpu_request_m=500,
                  memory_bytes=100, memory_limit_bytes=1000)
    snap = KubeSnapshot(deployment=DeploymentInfo(name="mcp", desired=1, updated=1, available=1),
                        pods=(hot,))
    h = evaluate_component("pods", snap, T)
    assert h.status is Status.CRITICAL
    assert h.reasons[0] == "pod CPU 95% (average of requests/limits) > 90%"


def test_backups_age_phase_and_missing():
    fresh = VeleroBackup(name="daily-1", phase="Completed", age_hours=3)
    dump = S3Dump(key="production/postgres/d.sql.gz", size_bytes=2048, age_hours=5)
    ok = BackupsSnapshot(velero=(fresh,), s3=(dump,), s3_bucket="b", s3_prefix="p/")
    assert evaluate_component("backups", ok, T).status is Status.HEALTHY
    old = BackupsSnapshot(velero=(VeleroBackup(name="d0", phase="Completed", age_hours=30),),
                          s3=(dump,))
    h = evaluate_component("backups", old, T)
    assert h.status is Status.WARNING and h.reasons[0].endswith("≥ 26 h")
    failed = BackupsSnapshot(velero=(VeleroBackup(name="d2", phase="InProgress", age_hours=0.1),
                                     VeleroBackup(name="d1", phase="Failed", age_hours=20)),
                             s3=(dump,))
    h = evaluate_component("backups", failed, T)
    assert h.status is Status.CRITICAL and "d1 Failed" in h.reasons[0]
    none = BackupsSnapshot(s3_bucket="b", s3_prefix="p/")
    h = evaluate_component("backups", none, T)
    assert h.status is Status.CRITICAL
    assert set(h.reasons) == {"no finished Velero backup", "no database dump under s3://b/p/"}


def test_each_schedules_latest_backup_is_judged_not_only_the_newest():
    """Last night's scheduled backup failed; a one-off cross-region backup finished after
    it. The newest alone would say HEALTHY; the schedule's latest makes it CRITICAL."""
    dump = S3Dump(key="production/postgres/d.dump", size_bytes=2048, age_hours=5)
    snap = BackupsSnapshot(velero=(
        VeleroBackup(name="latest-cross-region-backup", phase="Completed", age_hours=0.1),
        VeleroBackup(name="daily-backup-20261129", phase="Failed", age_hours=1,
                     schedule="daily-backup"),
        VeleroBackup(name="daily-backup-20261128", phase="Completed", age_hours=25,
                     schedule="daily-backup"),
        VeleroBackup(name="pre-maintenance-backup-20261101", phase="Completed", age_hours=670),
    ), s3=(dump,))
    h = evaluate_component("backups", snap, T)
    assert h.status is Status.CRITICAL
    assert h.reasons[0].startswith("latest Velero backup daily-backup-20261129 Failed")
    assert "latest-cross-region-backup Completed" in h.reasons[0]
    assert "pre-maintenance" not in h.reasons[0]  # an old one-off backup is not a series
    healthy = BackupsSnapshot(velero=(snap.velero[0], snap.velero[2]), s3=(dump,))
    assert evaluate_component("backups", healthy, T).status is Status.HEALTHY


def test_thresholds_are_overridable_per_environment():
    strict = Thresholds(db_connections_pct=Band(warning=50, critical=60))
    h = evaluate_component("database", pg(connections=110), strict)
    assert h.status is Status.WARNING and h.reasons[0].endswith("≥ 50%")


def test_overall_status_and_alerts_worst_first():
    report = evaluate({
        "database": pg(connections=168),
        "cache": RedisSnapshot.failed("connection refused"),
        "pods": KubeSnapshot(deployment=DeploymentInfo(name="mcp", desired=0)),
        "service": None,  # not collected yet: left out
    }, T)
    assert [c.name for c in report.components] == ["pods", "database", "cache"]
    assert report.status is Status.UNKNOWN
    assert [a.status for a in report.alerts] == [Status.UNKNOWN, Status.CRITICAL, Status.WARNING]


# ---- every DESIGN.md threshold, exactly at and either side of its boundaries -------------
def _finding(component: str, snap, check: str):
    h = evaluate_component(component, snap, T)
    [f] = [f for f in h.findings if f.check == check]
    return f


def _service(**requests):
    from console.collectors.service_model import RequestFigures, ServiceSnapshot

    return ServiceSnapshot(requests=RequestFigures(**requests))


def _endpoint(ms: float):
    from console.collectors.service_model import Endpoint, ServiceSnapshot

    return ServiceSnapshot(endpoints=(Endpoint(name="health", path="/health", status_code=200,
                                               latency_ms=ms),))


def _pods(cpu_pct: float | None = None, memory_pct: float | None = None, cert_days=None):
    from console.collectors.kube_model import CertificateInfo

    pod = PodInfo(name="a", phase="Running", ready=1, containers=1,
                  cpu_m=cpu_pct * 10 if cpu_pct is not None else None, cpu_request_m=1000,
                  memory_bytes=memory_pct * 10 if memory_pct is not None else None,
                  memory_limit_bytes=1000)
    cert = CertificateInfo(name="tls", days_left=cert_days) if cert_days is not None else None
    return KubeSnapshot(deployment=DeploymentInfo(name="mcp", desired=1, updated=1, available=1),
                        pods=(pod,), certificate=cert)


H, W, C = Status.HEALTHY, Status.WARNING, Status.CRITICAL
BOUNDARIES = [
    # figure, (component, check), snapshot for a value, [(value, expected status)...]
    ("health endpoint ms", ("service", "endpoint.health"), _endpoint,
     [(499.9, H), (500, W), (9999, W), (10_000, C)]),
    ("error rate %", ("service", "error_rate"), lambda v: _service(error_rate_pct=v),
     [(0.99, H), (1, W), (5, W), (5.01, C)]),
    ("P95 ms", ("service", "p95"), lambda v: _service(p95_ms=v),
     [(499.9, H), (500, W), (1999.9, W), (2000, C)]),
    ("CPU %", ("pods", "cpu"), lambda v: _pods(cpu_pct=v),
     [(69.9, H), (70, W), (90, W), (90.1, C)]),
    ("memory %", ("pods", "memory"), lambda v: _pods(memory_pct=v),
     [(79.9, H), (80, W), (90, W), (90.1, C)]),
    ("DB connections %", ("database", "connections"), lambda v: pg(connections=v * 2),
     [(79.5, H), (80, W), (95, W), (95.5, C)]),
    ("replication lag s", ("database", "replication.r1"),
     lambda v: pg(connections=1, replication=(ReplicaLag(name="r1", lag_seconds=v),)),
     [(9.9, H), (10, W), (59.9, W), (60, C)]),
    ("Redis memory %", ("cache", "memory"),
     lambda v: RedisSnapshot(used_memory=int(v * 10), maxmemory=1000),
     [(79.9, H), (80, W), (90, W), (90.1, C)]),
    ("Redis hit rate %", ("cache", "hit_rate"), lambda v: RedisSnapshot(hit_rate_pct=v),
     [(95.1, H), (95, W), (80, W), (79.9, C)]),
    ("backup age h", ("backups", "velero"),
     lambda v: BackupsSnapshot(velero=(VeleroBackup(name="d", phase="Completed", age_hours=v),)),
     [(25.9, H), (26, W)]),
    ("dump age h", ("backups", "s3"),
     lambda v: BackupsSnapshot(s3=(S3Dump(key="d.sql.gz", size_bytes=1, age_hours=v),)),
     [(25.9, H), (26, W)]),
    ("certificate days", ("pods", "certificate"), lambda v: _pods(cert_days=v),
     [(30.1, H), (30, W), (7.1, W), (7, C), (1, C), (0, C)]),
]


@pytest.mark.parametrize("figure, where, make, cases", BOUNDARIES,
                         ids=[b[0] for b in BOUNDARIES])
def test_design_threshold_boundaries(figure, where, make, cases):
    component, check = where
    got = [(value, _finding(component, make(value), check).status) for value, _ in cases]
    assert got == cases, figure


def test_certificate_at_seven_days_reads_as_critical():
    f = _finding("pods", _pods(cert_days=7), "certificate")
    assert f.status is Status.CRITICAL
    assert f.reason == "certificate tls expires in 7 days ≤ 7 days"
