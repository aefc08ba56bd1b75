"""AWS sessions: a local endpoint (moto, the sandbox) works with no credentials at all."""

from __future__ import annotations

import uuid

import pytest
from moto.server import ThreadedMotoServer

from console.config.model import AwsSettings
from console.sources import aws


@pytest.fixture
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_loopback_detection():
    assert aws.is_loopback("http://127.0.0.1:5000")
    assert aws.is_loopback("http://localhost:4566")
    assert aws.is_loopback("http://[::1]:5000")
    assert not aws.is_loopback("https://s3.eu-west-1.amazonaws.com")
    assert not aws.is_loopback("http://10.0.0.5:5000")
    assert not aws.is_loopback(None)


async def test_local_endpoint_needs_no_credentials(moto_url, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    bucket = f"pratiko-backups-{uuid.uuid4().hex[:8]}"  # moto's state is per process
    settings = AwsSettings(endpoint_url=moto_url, s3_backup_bucket=bucket)
    async with aws.session(settings).client("s3", **aws.client_kwargs(settings)) as s3:
        await s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={
            "LocationConstraint": settings.region})
        await s3.put_object(Bucket=bucket, Key="production/postgres/x.dump", Body=b"PGDMP")
        listed = await s3.list_objects_v2(Bucket=bucket, Prefix="production/postgres/")
    assert [o["Key"] for o in listed["Contents"]] == ["production/postgres/x.dump"]
