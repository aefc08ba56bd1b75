"""The AWS writer against moto in server mode over HTTP: RDS promote and wait, Route53
UPSERT and INSYNC, S3 list/stream/put, EC2 filters, typed errors, and the placeholder keys a
loopback endpoint gets instead of the real ones.

moto keeps its state per process, so every test makes its own uniquely named bucket, zone,
database instances and EC2 tag value.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto.server import ThreadedMotoServer

from console.config.model import AwsSettings
from console.execution import commands
from console.execution.writers import (
    AwsError,
    AwsReader,
    AwsTimeout,
    AwsWriter,
    DnsRecord,
    WriterRefused,
    change_batch,
)

pytestmark = pytest.mark.timeout(120)

REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def settings(moto_url) -> AwsSettings:
    return AwsSettings(endpoint_url=moto_url, region=REGION)


def boto(url: str, service: str):
    return boto3.client(service, endpoint_url=url, region_name=REGION,
                        aws_access_key_id="local", aws_secret_access_key="local")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def primary_and_replica(url: str) -> tuple[str, str]:
    rds = boto(url, "rds")
    primary, replica = unique("pratiko-mcp-primary"), unique("pratiko-mcp-dr-replica")
    rds.create_db_instance(DBInstanceIdentifier=primary, Engine="postgres",
                           DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                           MasterUsername="pratiko", MasterUserPassword="not-a-real-one-1")
    rds.create_db_instance_read_replica(DBInstanceIdentifier=replica,
                                        SourceDBInstanceIdentifier=primary)
    return primary, replica


# ---- RDS -----------------------------------------------------------------------------------

async def test_db_instance_is_typed(settings, moto_url):
    primary, replica = primary_and_replica(moto_url)
    async with AwsReader(settings) as aws:
        source = await aws.db_instance(primary)
        copy = await aws.db_instance(replica)
        every = {i.identifier for i in await aws.db_instances()}
    assert source.status == "available" and source.available
    assert source.engine == "postgres"
    assert source.read_replica_source is None
    assert source.replica_ids == (replica,)
    assert source.endpoint_host and source.endpoint_port == 5432
    assert source.endpoint == f"{source.endpoint_host}:5432"
    assert source.region == REGION and source.availability_zone.startswith(REGION)
    assert copy.read_replica_source == primary and copy.replica_ids == ()
    assert {primary, replica} <= every


async def test_promote_read_replica_then_wait_available(settings, moto_url):
    _primary, replica = primary_and_replica(moto_url)
    async with AwsWriter(settings) as aws:
        promoted = await aws.promote_read_replica(replica)
        polls = [inst async for inst in aws.wait_db_available(replica, timeout=10, interval=0.1)]
    assert promoted.identifier == replica
    assert polls and polls[-1].available and polls[-1].identifier == replica
    # what moto reads back after a promotion: the instance is available at once, and (unlike
    # RDS, which clears it) ReadReplicaSourceDBInstanceIdentifier is still set
    assert polls[-1].read_replica_source == _primary


async def test_wait_available_stops_at_a_state_it_cannot_leave(settings, moto_url):
    rds = boto(moto_url, "rds")
    standalone = unique("pratiko-mcp-standalone")
    rds.create_db_instance(DBInstanceIdentifier=standalone, Engine="postgres",
                           DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                           MasterUsername="pratiko", MasterUserPassword="not-a-real-one-1")
    rds.stop_db_instance(DBInstanceIdentifier=standalone)
    async with AwsReader(settings) as aws:
        seen = []
        with pytest.raises(AwsError) as caught:
            async for inst in aws.wait_db_available(standalone, timeout=30, interval=0.1):
                seen.append(inst.status)
    # a stopped instance never becomes available by itself: refused at the first poll
    assert seen == ["stopped"] and caught.value.code == "InstanceState"
    assert not isinstance(caught.value, AwsTimeout)
    assert str(caught.value).startswith("rds DBInstanceAvailable: InstanceState: ")


async def test_aws_error_names_service_operation_and_code(settings):
    missing = unique("no-such-instance")
    async with AwsWriter(settings) as aws:
        with pytest.raises(AwsError) as caught:
            await aws.db_instance(missing)
        with pytest.raises(AwsError) as no_bucket:
            await aws.put_object(unique("no-such-bucket"), "k", b"x")
    err = caught.value
    assert (err.service, err.operation, err.code) == ("rds", "DescribeDBInstances",
                                                      "DBInstanceNotFound")
    assert str(err) == f"rds DescribeDBInstances: DBInstanceNotFound: {err.message}"
    assert missing in err.message
    assert str(no_bucket.value).startswith("s3 PutObject: NoSuchBucket: ")


async def test_unreachable_endpoint_is_an_aws_error():
    settings = AwsSettings(endpoint_url="http://127.0.0.1:9", region=REGION)  # discard port
    async with AwsReader(settings, timeout=2) as aws:
        with pytest.raises(AwsError) as caught:
            await aws.db_instances()
    assert caught.value.service == "rds" and caught.value.operation == "DescribeDBInstances"
    assert caught.value.code == "EndpointConnectionError"


# ---- Route53 -------------------------------------------------------------------------------

def new_zone(url: str) -> tuple[str, str]:
    name = f"{unique('pratiko')}.test"
    zone = boto(url, "route53").create_hosted_zone(Name=name, CallerReference=unique("ref"))
    return zone["HostedZone"]["Id"].rsplit("/", 1)[-1], name


def test_change_batch_is_the_cli_json():
    record = DnsRecord(name="mcp.pratiko.test", type="CNAME", values=("dr-lb.pratiko.test",),
                       ttl=60)
    batch = change_batch(record, "DR failover")
    assert batch == {"Comment": "DR failover", "Changes": [{
        "Action": "UPSERT",
        "ResourceRecordSet": {"Name": "mcp.pratiko.test", "Type": "CNAME", "TTL": 60,
                              "ResourceRecords": [{"Value": "dr-lb.pratiko.test"}]}}]}
    assert AwsWriter.change_batch(record, "DR failover") == batch
    assert json.loads(json.dumps(batch)) == batch  # plain JSON, as the file:// the runbook uses
    with pytest.raises(ValueError, match="exactly one value"):
        DnsRecord(name="x.pratiko.test", type="CNAME", values=("a", "b"))
    with pytest.raises(ValueError, match="record type"):
        DnsRecord(name="x.pratiko.test", type="BOGUS", values=("a",))


async def test_route53_upsert_and_wait_insync(settings, moto_url):
    zone_id, zone = new_zone(moto_url)
    name = f"mcp.{zone}"
    async with AwsWriter(settings) as aws:
        assert await aws.hosted_zone_id(zone) == zone_id
        assert await aws.hosted_zone_id(zone + ".") == zone_id
        assert await aws.record(zone_id, name, "CNAME") is None
        first = DnsRecord(name=name, type="CNAME", values=(f"primary-lb.{zone}",), ttl=60)
        await aws.upsert_record(zone_id, first, "initial")
        moved = DnsRecord(name=name, type="CNAME", values=(f"dr-lb.{zone}",), ttl=60)
        change = await aws.upsert_record(f"/hostedzone/{zone_id}", moved, "DR failover")
        polls = [c async for c in aws.wait_change_insync(change.id, timeout=10, interval=0.1)]
        now = await aws.record(zone_id, name, "CNAME")
        other_type = await aws.record(zone_id, name, "A")
    assert change.id and not change.id.startswith("/change/")
    assert change.status in ("PENDING", "INSYNC")
    assert polls[-1].insync and polls[-1].id == change.id
    assert now == DnsRecord(name=name + ".", type="CNAME", values=(f"dr-lb.{zone}",), ttl=60)
    assert other_type is None


async def test_route53_refuses_a_name_outside_the_zone(settings, moto_url):
    zone_id, zone = new_zone(moto_url)
    async with AwsWriter(settings) as aws:
        with pytest.raises(WriterRefused, match="not in hosted zone"):
            await aws.upsert_record(zone_id, DnsRecord(name="mcp.elsewhere.test", type="A",
                                                       values=("192.0.2.1",)))
        missing = unique("nothing") + ".test"
        with pytest.raises(AwsError) as caught:
            await aws.hosted_zone_id(missing)
    assert caught.value.code == "NoSuchHostedZone"


# ---- S3 ------------------------------------------------------------------------------------

async def test_s3_put_list_head_stream(settings, moto_url, tmp_path):
    bucket = unique("pratiko-backups")
    boto(moto_url, "s3").create_bucket(Bucket=bucket,
                                       CreateBucketConfiguration={"LocationConstraint": REGION})
    payload = bytes(range(256)) * 9000  # 2.3 MB: three 1 MiB chunks
    dump = tmp_path / "dump.sql.gz"
    dump.write_bytes(b"PGDMP" * 1000)
    async with AwsWriter(settings) as aws:
        put = await aws.put_object(bucket, "production/postgres/big.dump", payload)
        with dump.open("rb") as handle:
            from_file = await aws.put_object(bucket, "production/postgres/file.dump", handle)
        await aws.put_object(bucket, "elsewhere/x", b"x")
        for i in range(3):
            await aws.put_object(bucket, f"production/postgres/small-{i}", b"s" * i)
        listed = await aws.list_objects(bucket, "production/postgres/")
        head = await aws.head_object(bucket, "production/postgres/big.dump")
        chunks = [c async for c in aws.stream_object(bucket, "production/postgres/big.dump")]
        small = [c async for c in aws.stream_object(bucket, "production/postgres/big.dump",
                                                    chunk=100_000)]
        with pytest.raises(AwsError) as caught:
            await aws.head_object(bucket, "production/postgres/missing")
    assert put.size == len(payload) and put.etag
    assert from_file.size == 5000
    assert sorted(o.key for o in listed) == [
        "production/postgres/big.dump", "production/postgres/file.dump",
        *(f"production/postgres/small-{i}" for i in range(3))]
    assert {o.key: o.size for o in listed}["production/postgres/big.dump"] == len(payload)
    assert all(o.last_modified is not None for o in listed)
    assert head.size == len(payload) and head.etag == put.etag
    assert b"".join(chunks) == payload and max(len(c) for c in chunks) <= 1024 * 1024
    assert len(chunks) >= 3
    assert b"".join(small) == payload and max(len(c) for c in small) <= 100_000
    assert caught.value.code == "NoSuchKey" and "missing" in caught.value.message


async def test_s3_list_is_paginated(settings, moto_url):
    bucket = unique("pratiko-many")
    s3 = boto(moto_url, "s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for i in range(7):
        s3.put_object(Bucket=bucket, Key=f"p/{i:05d}", Body=b"")
    async with AwsReader(settings) as aws:
        listed = await aws.list_objects(bucket, "p/", page_size=3)  # three pages
    assert [o.key for o in listed] == [f"p/{i:05d}" for i in range(7)]


# ---- EC2 -----------------------------------------------------------------------------------

async def test_ec2_instances_by_filter(settings, moto_url):
    environment = unique("production")
    ec2 = boto(moto_url, "ec2")
    for kind, env_tag in (("t3.large", environment), ("t3.micro", environment),
                          ("t3.small", unique("staging"))):
        ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType=kind,
                          TagSpecifications=[{"ResourceType": "instance", "Tags": [
                              {"Key": "Environment", "Value": env_tag},
                              {"Key": "Name", "Value": f"node-{kind}"}]}])
    async with AwsReader(settings) as aws:
        found = await aws.instances({"tag:Environment": [environment]})
        running = await aws.instances({"tag:Environment": [environment],
                                       "instance-type": ["t3.large"]})
        with pytest.raises(ValueError, match="list of values"):
            await aws.instances({"tag:Environment": environment})  # type: ignore[dict-item]
    assert sorted(i.type for i in found) == ["t3.large", "t3.micro"]
    assert all(i.state == "running" and i.tags["Environment"] == environment for i in found)
    assert [i.name for i in running] == ["node-t3.large"]
    assert running[0].id.startswith("i-")


# ---- credentials ---------------------------------------------------------------------------

class _CannedAws(BaseHTTPRequestHandler):
    """A stand-in AWS endpoint on loopback for what moto cannot show: it records the
    Authorization header of every request, answers Route53 GetChange with a change that stays
    PENDING (moto's are INSYNC at once) and everything else with AccessDenied."""

    seen: list[str] = []

    def _answer(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/2013-04-01/change/"):
            change = self.path.rsplit("/", 1)[-1]
            status, body = 200, (
                '<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
                f"<ChangeInfo><Id>/change/{change}</Id><Status>PENDING</Status>"
                "<SubmittedAt>2026-11-29T03:00:00Z</SubmittedAt></ChangeInfo>"
                "</GetChangeResponse>").encode()
        else:
            status, body = 403, (b"<ErrorResponse><Error><Code>AccessDenied</Code>"
                                 b"<Message>recorded</Message></Error></ErrorResponse>")
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canned_aws():
    _CannedAws.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CannedAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


async def test_wait_change_insync_times_out(canned_aws):
    settings = AwsSettings(endpoint_url=canned_aws, region=REGION)
    async with AwsReader(settings, timeout=5) as aws:
        # The first call makes the client (over 0.3 s on a loaded CI machine); the deadline
        # under test starts after it, and is long enough for several polls.
        await aws.change("/change/C0PENDING")
        seen = []
        with pytest.raises(AwsTimeout) as caught:
            async for info in aws.wait_change_insync("/change/C0PENDING", timeout=1.5,
                                                     interval=0.05):
                seen.append(info.status)
    assert len(seen) >= 2 and set(seen) == {"PENDING"}
    assert caught.value.code == "Timeout" and isinstance(caught.value, AwsError)
    assert str(caught.value).startswith(
        "route53 ResourceRecordSetsChanged: Timeout: change C0PENDING still PENDING after 1.5 s")
    assert str(caught.value).endswith(f"({len(seen)} polls)")


async def test_loopback_endpoint_never_gets_the_real_keys(monkeypatch, canned_aws):
    real_id, real_secret = "AKIAREALKEYNEVERSENT", "real-secret-never-sent-wJalrXUtnFEMI"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", real_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", real_secret)
    settings = AwsSettings(endpoint_url=canned_aws, region=REGION)
    async with AwsReader(settings, timeout=5) as aws:
        with pytest.raises(AwsError) as caught:
            await aws.db_instances()
    assert caught.value.code == "AccessDenied"
    assert _CannedAws.seen, "the endpoint was never called"
    assert all("Credential=local/" in auth for auth in _CannedAws.seen)
    assert not any(real_id in auth for auth in _CannedAws.seen)


# ---- the shown command is built from the same arguments ------------------------------------

def test_rendered_route53_command_carries_the_writers_batch(settings):
    record = DnsRecord(name="mcp.pratiko.test", type="A", values=("192.0.2.10", "192.0.2.11"),
                       ttl=30)
    batch = AwsWriter.change_batch(record, "to DR")
    argv = commands.aws_route53_change("/hostedzone/Z0123456789", batch, settings)
    assert argv[:5] == ("aws", "route53", "change-resource-record-sets", "--hosted-zone-id",
                        "Z0123456789")
    assert json.loads(argv[argv.index("--change-batch") + 1]) == batch


# ---- an endpoint that accepts and never answers ---------------------------------------------

@pytest.mark.parametrize("read", ["change", "db_instances"])
async def test_a_hung_endpoint_fails_each_call_at_the_request_timeout(read):
    """One call (a describe) and one page of a list each end at ``aws.request_timeout``
    with an error naming the call and the setting, not at the 60 s read timeout a
    wizard's reader keeps for dumps."""
    import time

    from health_support import hung_server

    async with hung_server() as port:
        settings = AwsSettings(endpoint_url=f"http://127.0.0.1:{port}", region=REGION,
                               request_timeout=1.0)
        async with AwsReader(settings, timeout=60) as aws:
            began = time.monotonic()
            with pytest.raises(AwsTimeout) as caught:
                if read == "change":
                    await aws.change("/change/C0PENDING")
                else:
                    await aws.db_instances()
            took = time.monotonic() - began
    operation = "GetChange" if read == "change" else "DescribeDBInstances"
    assert str(caught.value).endswith(
        f"{operation}: Timeout: no answer in 1 s (aws.request_timeout)"), str(caught.value)
    assert took < 30, took  # bounded by the setting, not by the 60 s read timeout
