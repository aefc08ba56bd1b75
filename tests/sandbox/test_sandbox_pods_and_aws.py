"""What a rehearsal touches in a running sandbox is real: the runbook's commands through
the real kubectl reach the sandbox's PostgreSQL and Redis, and moto holds the runbook's
AWS account with real database dumps.
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import boto3
import pytest
import yaml
from sandbox_support import kubectl

from sandbox import aws as sandbox_aws
from sandbox.control import switch_scenario
from sandbox.embedded_postgres import pgserver_bin_dir

pytestmark = [pytest.mark.slow, pytest.mark.kubectl, pytest.mark.timeout(180)]

NS = "mcp-production"
RECOVERY_POD = """
apiVersion: v1
kind: Pod
metadata:
  name: postgres-recovery
  namespace: mcp-production
spec:
  containers:
  - name: postgres
    image: postgres:15-alpine
    env:
    - {name: POSTGRES_USER, valueFrom: {secretKeyRef: {name: postgres-credentials, key: username}}}
    - {name: POSTGRES_DB, valueFrom: {secretKeyRef: {name: postgres-credentials, key: database}}}
    - {name: PGUSER, valueFrom: {secretKeyRef: {name: postgres-credentials, key: username}}}
"""
APP_ROLE = "pratiko_app"  # postgres-credentials' username: the only role in the pod


@pytest.fixture(scope="module")
def sandbox(embedded_sandbox, control):
    switch_scenario(control, "healthy")  # a region failure left on would hang kubectl
    return embedded_sandbox


def kubeconfig(sandbox) -> str:
    config = yaml.safe_load(sandbox.config.read_text())
    return config["environments"]["sandbox"]["kubernetes"]["kubeconfig"]


def run(sandbox, tmp_path, *args, **kw) -> subprocess.CompletedProcess:
    return kubectl(kubeconfig(sandbox), *args, tmp=tmp_path, **kw)


def test_runbook_psql_counts_real_rows(sandbox, tmp_path):
    # as the guide types it, psql connects as root (kubectl exec's user): it fails for real
    typed = run(sandbox, tmp_path, "exec", "-n", NS, "deployment/postgres-production-primary",
                "--", "psql", "-tA", "-c", "SELECT count(*) FROM critical_table;")
    assert typed.returncode != 0 and 'role "root" does not exist' in typed.stderr
    out = run(sandbox, tmp_path, "exec", "-n", NS, "deployment/postgres-production-primary", "--",
              "psql", "-U", APP_ROLE, "-d", "pratiko_mcp_production", "-tA", "-c",
              "SELECT count(*) FROM critical_table;")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1000"


def test_runbook_pg_dump_streams_a_real_dump(sandbox, tmp_path):
    out = run(sandbox, tmp_path, "exec", "-n", NS, "deployment/postgres-production-primary", "--",
              "pg_dump", "-U", APP_ROLE, "pratiko_mcp_production")
    assert out.returncode == 0, out.stderr
    assert "PostgreSQL database dump" in out.stdout
    assert "CREATE TABLE public.critical_table" in out.stdout


def newest_dump(sandbox) -> bytes:
    s3 = aws_client(sandbox, "s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(
        Bucket=sandbox_aws.BUCKET, Prefix=sandbox_aws.PREFIX)["Contents"])
    return s3.get_object(Bucket=sandbox_aws.BUCKET, Key=keys[-1])["Body"].read()


def test_point_in_time_recovery_restores_real_data_into_the_recovery_pod(sandbox, tmp_path):
    """The runbook's steps 2-4: create postgres-recovery, pg_restore the backup, count. No
    /backup/latest-backup.sql exists in the pod (the backup job writes to S3 only): the dump
    is streamed from S3 into pg_restore's stdin, the corrected command."""
    created = run(sandbox, tmp_path, "apply", "-f", "-", stdin=RECOVERY_POD)
    assert created.returncode == 0, created.stderr
    try:
        ready = run(sandbox, tmp_path, "wait", "-n", NS, "--for=condition=Ready",
                    "pod/postgres-recovery", "--timeout=60s")
        assert ready.returncode == 0, ready.stderr
        empty = run(sandbox, tmp_path, "exec", "-n", NS, "postgres-recovery", "--", "psql", "-d",
                    "pratiko_mcp_production", "-tAc", "SELECT to_regclass('critical_table')")
        assert empty.stdout.strip() == ""  # a fresh instance: nothing there yet
        typed = run(sandbox, tmp_path, "exec", "-n", NS, "postgres-recovery", "--", "pg_restore",
                    "-d", "pratiko_mcp_production", "/backup/latest-backup.sql")
        assert typed.returncode != 0 and "latest-backup.sql" in typed.stderr
        env = {**os.environ, "KUBECONFIG": kubeconfig(sandbox),
               "KUBECACHEDIR": str(tmp_path / "kubecache")}
        restore = subprocess.run(["kubectl", "--context", "sandbox", "exec", "-i", "-n", NS,
                                  "postgres-recovery", "--", "pg_restore", "-d",
                                  "pratiko_mcp_production", "--no-owner", "--no-acl",
                                  "--single-transaction"], input=newest_dump(sandbox),
                                 capture_output=True, env=env, timeout=120)
        assert restore.returncode == 0, restore.stderr.decode()
        count = run(sandbox, tmp_path, "exec", "-n", NS, "postgres-recovery", "--", "psql", "-d",
                    "pratiko_mcp_production", "-c", "SELECT count(*) FROM critical_table;")
        assert count.returncode == 0, count.stderr
        assert " 1000" in count.stdout
    finally:
        run(sandbox, tmp_path, "delete", "-n", NS, "pod/postgres-recovery", "--wait=false")


def test_runbook_redis_cli_reads_the_live_sandbox_redis(sandbox, tmp_path):
    out = run(sandbox, tmp_path, "exec", "-n", NS, "deployment/redis-production-master", "--",
              "redis-cli", "info", "stats")
    assert out.returncode == 0, out.stderr
    stats = dict(line.split(":", 1) for line in out.stdout.splitlines() if ":" in line)
    assert int(stats["keyspace_hits"]) > 0  # the traffic loop is reading
    port = sandbox.info["redis"]["port"]
    info = run(sandbox, tmp_path, "exec", "-n", NS, "deployment/redis-production-master", "--",
               "redis-cli", "info", "server")
    assert f"tcp_port:{port}" in info.stdout  # the sandbox's own server, not a canned answer


def test_dr_context_is_a_second_seeded_cluster(sandbox, tmp_path):
    out = run(sandbox, tmp_path, "get", "deployment", "mcp-server-production", "-n", NS,
              "-o", "jsonpath={.status.readyReplicas}", context="sandbox-dr")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "6"
    servers = sandbox.info["kubernetes"]
    assert servers["sandbox"] != servers["sandbox-dr"]


def aws_client(sandbox, service: str, region: str = sandbox_aws.REGION):
    return boto3.client(service, region_name=region, endpoint_url=sandbox.info["aws"],
                        aws_access_key_id="anything", aws_secret_access_key="anything")


def test_backup_bucket_holds_a_week_of_real_dated_dumps(sandbox, tmp_path):
    s3 = aws_client(sandbox, "s3")
    objects = s3.list_objects_v2(Bucket="pratiko-backups",
                                 Prefix="production/postgres/")["Contents"]
    assert len(objects) == 7
    newest = max(objects, key=lambda o: o["LastModified"])
    age_hours = (datetime.now(UTC) - newest["LastModified"]).total_seconds() / 3600
    assert age_hours < 24.1
    assert newest["Key"] == max(o["Key"] for o in objects)  # dated names sort with dates
    oldest = min(objects, key=lambda o: o["LastModified"])
    assert (newest["LastModified"] - oldest["LastModified"]).days == 6
    archive = tmp_path / "latest.dump"
    s3.download_file("pratiko-backups", newest["Key"], str(archive))
    # the embedded server is PostgreSQL 16: read its archive with its own pg_restore
    pg_restore = str(pgserver_bin_dir() / "pg_restore")
    listing = subprocess.run([pg_restore, "--list", str(archive)], capture_output=True,
                             text=True, timeout=30)
    assert listing.returncode == 0, listing.stderr
    assert "TABLE DATA public critical_table" in listing.stdout


def test_rds_route53_and_ec2_are_seeded_as_the_runbook_expects(sandbox):
    replica = aws_client(sandbox, "rds", sandbox_aws.DR_REGION).describe_db_instances(
        DBInstanceIdentifier="pratiko-mcp-dr-replica")["DBInstances"][0]
    assert "pratiko-mcp-primary" in replica["ReadReplicaSourceDBInstanceIdentifier"]
    r53 = aws_client(sandbox, "route53")
    zone = r53.list_hosted_zones_by_name(DNSName="pratiko.ai.")["HostedZones"][0]
    records = r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
    assert {r["Name"] for r in records} >= {"mcp.pratiko.ai.", "mcp-dr.pratiko.ai."}
    config = yaml.safe_load(sandbox.config.read_text())
    assert zone["Id"].endswith(config["environments"]["sandbox"]["aws"]["route53_zone_id"])
    reservations = aws_client(sandbox, "ec2").describe_instances(
        Filters=[{"Name": "tag:Environment", "Values": ["production"]}])["Reservations"]
    assert sum(len(r["Instances"]) for r in reservations) == 3


# ---- the MCP-server pods' curl of localhost:8080 is the simulator -----------------------
MCP_DEPLOY = "deploy/mcp-server-production"


def pod_curl(sandbox, tmp_path, *args, context: str = "sandbox") -> subprocess.CompletedProcess:
    return run(sandbox, tmp_path, "exec", "-n", NS, MCP_DEPLOY, "--", "curl", *args,
               context=context)


def time_total(sandbox, tmp_path) -> float:
    out = pod_curl(sandbox, tmp_path, "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}",
                   "http://localhost:8080/health")
    assert out.returncode == 0, out.stderr
    status, seconds = out.stdout.split()
    assert status == "200"
    return float(seconds)


def test_in_pod_curl_asks_each_regions_simulator(sandbox, tmp_path):
    for context in ("sandbox", "sandbox-dr"):
        out = pod_curl(sandbox, tmp_path, "-sf", "http://localhost:8080/health", context=context)
        assert out.returncode == 0, out.stderr
        assert '"uptime_seconds"' in out.stdout  # the simulator's answer, not the canned one
    metrics = pod_curl(sandbox, tmp_path, "-s", "http://localhost:8080/metrics")
    assert "http_request_duration_seconds_bucket" in metrics.stdout  # prometheus-client's


def test_in_pod_curl_timings_follow_the_slow_responses_scenario(sandbox, control, tmp_path):
    assert max(time_total(sandbox, tmp_path) for _ in range(3)) < 0.5
    switch_scenario(control, "slow-responses")
    try:
        slow = [time_total(sandbox, tmp_path) for _ in range(3)]
        assert min(slow) > 0.3, slow  # log-normal around 1.4 s, capped at 2 s
        assert sum(slow) / len(slow) > 0.7, slow
        # the runbook's form: the curl-format.txt of the pod's workdir
        out = pod_curl(sandbox, tmp_path, "-w", "@curl-format.txt", "-s", "-o", "/dev/null",
                       "http://localhost:8080/health")
        assert out.returncode == 0, out.stderr
        line = next(x for x in out.stdout.splitlines() if "time_total:" in x)
        assert float(line.split(":")[1].strip().rstrip("s")) > 0.3, out.stdout
    finally:
        switch_scenario(control, "healthy")


def test_in_pod_metrics_show_the_high_error_rate(sandbox, control, tmp_path):
    def share_5xx() -> float:
        out = pod_curl(sandbox, tmp_path, "-sf", "http://localhost:8080/metrics")
        assert out.returncode == 0, out.stderr
        counts = {"5xx": 0.0, "all": 0.0}
        for line in out.stdout.splitlines():
            if line.startswith("http_requests_total{"):
                value = float(line.rsplit(" ", 1)[1])
                counts["all"] += value
                counts["5xx"] += value if 'status="5' in line else 0.0
        return counts["5xx"] / counts["all"]

    assert share_5xx() < 0.03
    switch_scenario(control, "high-error-rate")
    try:
        assert 0.08 < share_5xx() < 0.16
    finally:
        switch_scenario(control, "healthy")


def psql(sandbox, tmp_path, sql: str, database: str = "pratiko_mcp_production"):
    out = run(sandbox, tmp_path, "exec", "-n", NS, "deployment/postgres-production-primary", "--",
              "psql", "-U", APP_ROLE, "-v", "ON_ERROR_STOP=1", "-d", database, "-tAc", sql)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_in_pod_curl_f_health_database_fails_while_the_database_is_really_down(sandbox, tmp_path):
    """A real outage of the simulator's database: connections refused, its own ended."""
    ok = pod_curl(sandbox, tmp_path, "-f", "http://localhost:8080/health/database")
    assert ok.returncode == 0, ok.stderr
    assert '"status": "healthy"' in ok.stdout
    database = psql(sandbox, tmp_path, "SELECT current_database()")
    try:
        psql(sandbox, tmp_path, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false',
             database="postgres")
        psql(sandbox, tmp_path, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                f"WHERE application_name = 'mcp-server' AND datname = '{database}'",
             database="postgres")
        for _ in range(2):  # the ended pool connection, then the refused new one
            down = pod_curl(sandbox, tmp_path, "-f", "http://localhost:8080/health/database")
            assert down.returncode == 22, (down.stdout, down.stderr)
            assert "curl: (22) The requested URL returned error: 503" in down.stderr
            assert down.stdout == ""  # -f: no body on an HTTP error
        body = pod_curl(sandbox, tmp_path, "-s", "http://localhost:8080/health/dependencies")
        assert body.returncode == 0  # without -f an HTTP error is not curl's error
        assert '"status": "unhealthy"' in body.stdout
        assert "not currently accepting connections" in body.stdout
    finally:
        psql(sandbox, tmp_path, f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true',
             database="postgres")
    back = pod_curl(sandbox, tmp_path, "-sf", "http://localhost:8080/health/database")
    assert back.returncode == 0, back.stderr
