"""The plan's shell commands: rendered from the writers' own arguments, secret-free, and —
where the program is installed — run for real to show that the displayed command does what
the writer does: ``aws`` against moto over HTTP, ``psql`` and ``redis-cli`` against the local
servers, ``curl`` against a local receiver. A missing program skips its test."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import shutil
import subprocess
import uuid

import boto3
import pytest
import servers
from aiohttp import web
from moto.server import ThreadedMotoServer

from console.config.model import (
    AwsSettings,
    Environment,
    NotificationSettings,
    PostgresSettings,
    RedisSettings,
)
from console.execution import commands
from console.execution.commands import EnvRef, display
from console.execution.writers import AwsWriter, DnsRecord, SqlWriter, WebhookWriter

pytestmark = pytest.mark.timeout(120)

REGION = "eu-west-1"
SECRET_URL = "https://hooks.example.invalid/services/T0/B0/sEcReTtOkEn"


def needs(program: str):
    return pytest.mark.skipif(shutil.which(program) is None, reason=f"{program} not installed")


def env_with(**sections) -> Environment:
    return Environment.model_validate({"postgres": {"dsn": f"postgresql://postgres@{servers.PG_HOSTPORT}/test"},
                                       "service": {"base_url": "http://127.0.0.1:1"},
                                       **sections})


# ---- rendering -----------------------------------------------------------------------------

def test_aws_commands_match_the_runbook():
    assert commands.aws_rds_promote("pratiko-mcp-dr-replica") == (
        "aws", "rds", "promote-read-replica", "--db-instance-identifier", "pratiko-mcp-dr-replica")
    settings = AwsSettings(region="eu-central-1", profile="ops",
                           endpoint_url="http://127.0.0.1:5000")
    assert commands.aws_rds_wait_available("r1", settings) == (
        "aws", "rds", "wait", "db-instance-available", "--db-instance-identifier", "r1",
        "--region", "eu-central-1", "--profile", "ops", "--endpoint-url", "http://127.0.0.1:5000")
    assert display(commands.aws_s3_ls("pratiko-backups", "production/postgres/")) == (
        "aws s3 ls s3://pratiko-backups/production/postgres/ --recursive --human-readable")
    assert commands.aws_s3_cp("/tmp/dump.sql.gz", commands.s3_url("b", "k/dump.sql.gz")) == (
        "aws", "s3", "cp", "/tmp/dump.sql.gz", "s3://b/k/dump.sql.gz")
    assert display(commands.aws_ec2_describe({"tag:Environment": ["production"]})) == (
        "aws ec2 describe-instances --filters Name=tag:Environment,Values=production")
    assert commands.aws_ec2_describe({"tag:Name": ["web 1", "a,b"]})[-1] == json.dumps(
        [{"Name": "tag:Name", "Values": ["web 1", "a,b"]}], separators=(",", ":"))
    # route53 is global, but the CLI wants a region all the same
    assert commands.aws_route53_wait_insync("/change/C1", AwsSettings()) == (
        "aws", "route53", "wait", "resource-record-sets-changed", "--id", "C1",
        "--region", "eu-west-1")


def test_route53_command_inlines_the_writers_batch():
    record = DnsRecord(name="mcp.pratiko.ai", type="CNAME", values=("mcp-dr.pratiko.ai",), ttl=60)
    batch = AwsWriter.change_batch(record, "DR failover")
    argv = commands.aws_route53_change("/hostedzone/Z123456789", batch)
    assert argv[:5] == ("aws", "route53", "change-resource-record-sets", "--hosted-zone-id",
                        "Z123456789")
    assert argv[5] == "--change-batch" and json.loads(argv[6]) == batch
    assert shlex.split(display(argv)) == list(argv)
    with pytest.raises(ValueError, match="hosted zone id"):
        commands.aws_route53_change("Z1; rm -rf /", batch)


def test_psql_from_the_dsn_without_the_password(monkeypatch):
    monkeypatch.setenv("PGPASS_FOR_TEST", "hunter2-secret")
    settings = PostgresSettings(dsn="postgresql://mcp_admin@db.internal:6432/pratiko_mcp_production"
                                    "?sslmode=require", password_env="PGPASS_FOR_TEST")
    statement = SqlWriter.vacuum_sql("public.orders")
    argv = commands.psql(statement, env=settings)
    assert argv == ("psql", "-h", "db.internal", "-p", "6432", "-U", "mcp_admin", "-d",
                    "pratiko_mcp_production", "-c", 'VACUUM (ANALYZE) "public"."orders"')
    assert display(argv).endswith("""-c 'VACUUM (ANALYZE) "public"."orders"'""")
    assert "hunter2" not in display(argv)
    assert commands.psql("SELECT 1", env=env_with()) == (
        "psql", "-h", "127.0.0.1", "-p", str(servers.PG_PORT), "-U", "postgres", "-d", "test", "-c",
        "SELECT 1")
    assert commands.psql("SELECT 1", env=settings, dsn="postgresql://[::1]/x?user=u") == (
        "psql", "-h", "::1", "-U", "u", "-d", "x", "-c", "SELECT 1")


def test_redis_cli_from_the_url():
    assert commands.redis_cli("INFO", "stats", env=RedisSettings(url="redis://10.0.0.5:6380/2")) == (
        "redis-cli", "-h", "10.0.0.5", "-p", "6380", "-n", "2", "INFO", "stats")
    secured = RedisSettings(url="rediss://ops@cache.internal:6379/0", password_env="REDIS_PW")
    assert commands.redis_cli("FLUSHDB", env=secured) == (
        "redis-cli", "-h", "cache.internal", "-p", "6379", "--tls", "--user", "ops", "--askpass",
        "FLUSHDB")
    assert commands.redis_cli("PING", env=RedisSettings(url="unix:///run/redis.sock?db=3")) == (
        "redis-cli", "-s", "/run/redis.sock", "-n", "3", "PING")


def test_curl_shows_the_variable_never_the_url(monkeypatch):
    monkeypatch.setenv("STATUS_PAGE_WEBHOOK", SECRET_URL)
    body = WebhookWriter.payload("status_page", "Maintenance window starting")
    argv = commands.curl_post("status_page", body)
    assert argv[-1] == "$STATUS_PAGE_WEBHOOK" and isinstance(argv[-1], EnvRef)
    assert json.loads(argv[argv.index("--data") + 1]) == body
    shown = display(argv)
    assert shown.endswith(' "$STATUS_PAGE_WEBHOOK"') and "sEcReT" not in shown
    assert "sEcReT" not in " ".join(argv)
    custom = commands.curl_post("slack", {"text": "x"},
                                settings=NotificationSettings(slack_webhook_env="OPS_SLACK"))
    assert custom[-1] == "$OPS_SLACK"
    with pytest.raises(ValueError):
        EnvRef("NOT A NAME")


# ---- the displayed command does what the writer does ---------------------------------------

def run_shell(line: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Paste ``line`` into bash, as an operator would."""
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **env})


@needs("psql")
async def test_displayed_psql_runs_the_writers_statement():
    import asyncpg

    table = f"public.wcmd_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(f"postgresql://postgres@{servers.PG_HOSTPORT}/test")
    try:
        await conn.execute(f"CREATE TABLE {table} (a int)")
        line = display(commands.psql(SqlWriter.analyze_sql(table), env=env_with()))
        result = await asyncio.to_thread(run_shell, line, PGCONNECT_TIMEOUT="10")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "ANALYZE"
    finally:
        await conn.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.close()


@needs("redis-cli")
async def test_displayed_redis_cli_sends_the_same_command():
    import redis.asyncio as aioredis

    key = f"mcp-ops-test:{uuid.uuid4().hex[:10]}:cmd"
    client = aioredis.Redis.from_url(f"redis://{servers.REDIS_HOSTPORT}/0", decode_responses=True)
    try:
        line = display(commands.redis_cli("SET", key, "shown value",
                                           env=RedisSettings(url=servers.redis_url())))
        result = await asyncio.to_thread(run_shell, line)
        assert result.stdout.strip() == "OK", result.stderr
        assert await client.get(key) == "shown value"
    finally:
        await client.delete(key)
        await client.aclose()


@needs("curl")
async def test_displayed_curl_posts_the_writers_payload(monkeypatch):
    received: list[object] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook/{token}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}/hook/sEcReT"
    try:
        monkeypatch.setenv("STATUS_PAGE_WEBHOOK", url)
        writer = WebhookWriter(NotificationSettings())
        assert await writer.post("status_page", "Service degraded", status="identified") == 200
        line = display(commands.curl_post(
            "status_page", writer.payload("status_page", "Service degraded", status="identified")))
        assert "sEcReT" not in line
        result = await asyncio.to_thread(run_shell, line, STATUS_PAGE_WEBHOOK=url)
        assert result.returncode == 0, result.stderr
    finally:
        await runner.cleanup()
    assert len(received) == 2 and received[0] == received[1]


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@needs("aws")
@pytest.mark.slow
async def test_displayed_aws_commands_do_what_the_writer_does(moto_url, tmp_path):
    """Route53: the CLI applies the writer's own change batch; EC2: the rendered filter
    finds what the writer's filter finds; S3: cp and ls see what put_object and
    list_objects see."""
    settings = AwsSettings(endpoint_url=moto_url, region=REGION)
    cli_env = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
               "AWS_CONFIG_FILE": str(tmp_path / "none"),
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    boto = {"endpoint_url": moto_url, "region_name": REGION, "aws_access_key_id": "local",
            "aws_secret_access_key": "local"}
    zone = f"{uuid.uuid4().hex[:10]}.test"
    zone_id = boto3.client("route53", **boto).create_hosted_zone(
        Name=zone, CallerReference=uuid.uuid4().hex)["HostedZone"]["Id"]
    env_tag = f"production-{uuid.uuid4().hex[:8]}"
    boto3.client("ec2", **boto).run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro",
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "Environment", "Value": env_tag}]}])
    bucket = f"pratiko-cmd-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", **boto).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    dump = tmp_path / "dump.sql.gz"
    dump.write_bytes(b"PGDMP" * 100)

    record = DnsRecord(name=f"mcp.{zone}", type="CNAME", values=(f"dr.{zone}",), ttl=60)
    lines = [
        display(commands.aws_route53_change(zone_id, AwsWriter.change_batch(record, "DR"),
                                            settings)),
        display(commands.aws_ec2_describe({"tag:Environment": [env_tag]}, settings)),
        display(commands.aws_s3_cp(str(dump), commands.s3_url(bucket, "cli/dump.sql.gz"),
                                   settings)),
    ]
    results = await asyncio.gather(*(asyncio.to_thread(run_shell, line, **cli_env)
                                     for line in lines))
    for line, result in zip(lines, results, strict=True):
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    change = json.loads(results[0].stdout)["ChangeInfo"]
    described = json.loads(results[1].stdout)
    cli_ids = {i["InstanceId"] for r in described["Reservations"] for i in r["Instances"]}

    async with AwsWriter(settings) as aws:
        assert await aws.record(zone_id, record.name, "CNAME") == DnsRecord(
            name=record.name + ".", type="CNAME", values=(f"dr.{zone}",), ttl=60)
        assert [c.status async for c in aws.wait_change_insync(change["Id"], timeout=10,
                                                                 interval=0.1)][-1] == "INSYNC"
        assert {i.id for i in await aws.instances({"tag:Environment": [env_tag]})} == cli_ids
        await aws.put_object(bucket, "writer/x.dump", b"x" * 10)
        listed = {o.key for o in await aws.list_objects(bucket, "")}
    assert listed == {"cli/dump.sql.gz", "writer/x.dump"}
    ls = await asyncio.to_thread(run_shell, display(commands.aws_s3_ls(bucket, "", settings)),
                                 **cli_env)
    assert ls.returncode == 0, ls.stderr
    assert "cli/dump.sql.gz" in ls.stdout and "writer/x.dump" in ls.stdout
