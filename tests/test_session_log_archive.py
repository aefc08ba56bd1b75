"""Session logs archived to S3 at session end (``session_log.s3_archive_bucket``) and on
demand (``mcp-ops log archive ID``), against moto in server mode over HTTP.

The archived object is the local file byte for byte and verifies on its own; an S3 that
cannot be reached is a warning on stderr and changes neither the local log nor the exit
status.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer
from wizard_support import PYTHON, ROOT, cli_env, load_config, write_config

from console.execution.confirmation import CommandLineConfirmer
from console.execution.log_store import list_sessions, read_records, verify
from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.session import WizardRun

pytestmark = pytest.mark.timeout(120)

PREFIX = "ops/sessions/"
UNREACHABLE = "http://127.0.0.1:9"  # discard port: nothing listens, connection refused
KEY_ID, SECRET_KEY = "AKIAARCHIVETEST0001", "archive-Secret-wJalrXUtnFEMI"


@pytest.fixture(scope="module")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3(url: str):
    return boto3.client("s3", endpoint_url=url, region_name="eu-west-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def new_bucket(url: str) -> str:
    bucket = f"session-archive-{uuid.uuid4().hex[:10]}"  # moto keeps buckets per process
    s3(url).create_bucket(Bucket=bucket,
                          CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return bucket


def archive_config(tmp_path: Path, *, endpoint: str, bucket: str | None,
                   aws_extra: str = "") -> Path:
    path = write_config(tmp_path, extra_env=f'    aws: {{endpoint_url: "{endpoint}"{aws_extra}}}\n')
    if bucket is not None:
        text = path.read_text()
        old = f"session_log: {{directory: {tmp_path}/sessions}}"
        assert old in text
        path.write_text(text.replace(old, f"session_log: {{directory: {tmp_path}/sessions, "
                                          f"s3_archive_bucket: {bucket}, "
                                          f"s3_archive_prefix: {PREFIX}}}"))
    return path


def mcp_ops(tmp_path: Path, config: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "console", *argv, "--config", str(config)], cwd=ROOT,
                          env=cli_env(tmp_path, **env), capture_output=True, text=True,
                          timeout=90)


def only_session(tmp_path: Path):
    [session] = list_sessions(tmp_path / "sessions")
    return session


def download(url: str, bucket: str, session_id: str, into: Path) -> Path:
    into.mkdir()
    client = s3(url)
    for suffix in (".jsonl", ".head"):
        body = client.get_object(Bucket=bucket, Key=f"{PREFIX}{session_id}{suffix}")["Body"]
        (into / f"{session_id}{suffix}").write_bytes(body.read())
    return into / f"{session_id}.jsonl"


def test_a_headless_run_archives_its_log_byte_for_byte(tmp_path, moto_url):
    bucket = new_bucket(moto_url)
    config = archive_config(tmp_path, endpoint=moto_url, bucket=bucket)
    result = mcp_ops(tmp_path, config, "run", "morning-health-check")
    assert result.returncode in (0, 1), result.stderr  # 1: this sandbox config is unhealthy
    session = only_session(tmp_path)
    assert f"archived to s3://{bucket}/{PREFIX}{session.id}.jsonl" in result.stdout
    assert "warning" not in result.stderr

    copy = download(moto_url, bucket, session.id, tmp_path / "downloaded")
    assert copy.read_bytes() == session.path.read_bytes()
    assert copy.with_suffix(".head").read_bytes() == session.path.with_suffix(".head").read_bytes()
    check = verify(copy)
    assert check.ok and check.anchored and check.ended, check.describe()
    assert check.records[-1]["data"]["status"] == ("completed" if result.returncode == 0
                                                   else "failed")
    assert verify(session.path).ok  # the local log is untouched


def test_an_unreachable_s3_is_a_warning_and_changes_nothing(tmp_path):
    plain, archived = tmp_path / "plain", tmp_path / "archived"
    plain.mkdir(), archived.mkdir()
    secrets = {"ARCHIVE_TEST_KEY_ID": KEY_ID, "ARCHIVE_TEST_SECRET": SECRET_KEY}
    keys = ", access_key_id_env: ARCHIVE_TEST_KEY_ID, secret_access_key_env: ARCHIVE_TEST_SECRET"
    without = mcp_ops(plain, archive_config(plain, endpoint=UNREACHABLE, bucket=None),
                      "run", "morning-health-check")
    config = archive_config(archived, endpoint=UNREACHABLE, bucket="never-reached", aws_extra=keys)
    run = mcp_ops(archived, config, "run", "morning-health-check", **secrets)
    assert run.returncode == without.returncode, run.stderr
    session = only_session(archived)
    assert (f"mcp-ops run: warning: session log {session.id} was not archived to S3: "
            "upload to s3://never-reached/" in run.stderr)
    assert "Could not connect to the endpoint URL" in run.stderr
    assert "archived to" not in run.stdout
    assert KEY_ID not in run.stdout + run.stderr and SECRET_KEY not in run.stdout + run.stderr
    check = verify(session.path)
    assert check.ok and check.ended and check.records[-1]["event"] == "session_end"

    # a successful wizard stays successful
    dry = mcp_ops(archived, config, "run", "morning-health-check", "--dry-run", **secrets)
    assert dry.returncode == 0, dry.stderr
    assert "was not archived to S3" in dry.stderr


def ok_step(step_id: str) -> Step:
    async def run(ctx):
        yield f"{step_id} done"

    return Step(step_id, f"Step {step_id}", "why", Risk.READ,
                lambda ctx: Plan("look", (Plan.command("true"),)), run)


WIZARD = Wizard("archive-test", "Archive test", "S", "W", steps=(ok_step("a"), ok_step("b")))


async def test_finish_keeps_the_log_closed_and_whole_when_the_upload_fails(tmp_path):
    config = load_config(archive_config(tmp_path, endpoint=UNREACHABLE, bucket="nowhere"))
    run = WizardRun(config=config, env_name="sandbox", wizard=WIZARD, read_only=False,
                    confirmer=CommandLineConfirmer(None))
    run.start()
    assert await run.resolve_inputs({}) == []
    for index in range(2):
        assert (await run.run_step(index)).ok
    warning = await run.finish("completed")
    assert warning and warning == run.archive_warning and run.archived is None
    assert "was not archived to S3" in warning
    before = run.log.path.read_bytes()
    records = read_records(run.log.path)
    assert records[-1]["event"] == "session_end" and records[-1]["data"]["status"] == "completed"
    # nothing about the upload written after the end (the health records around the steps
    # name the backups' S3, as the operator saw it: not the archive)
    assert not any("S3" in str(r["data"]) for r in records if r["event"] != "health")
    assert verify(run.log.path).ok
    assert await run.finish("completed") is not None and run.log.path.read_bytes() == before


async def test_finish_archives_an_ended_session(tmp_path, moto_url):
    bucket = new_bucket(moto_url)
    config = load_config(archive_config(tmp_path, endpoint=moto_url, bucket=bucket))
    run = WizardRun(config=config, env_name="sandbox", wizard=WIZARD, read_only=False,
                    confirmer=CommandLineConfirmer(None))
    run.start()
    assert await run.resolve_inputs({}) == []
    assert (await run.run_step(0)).ok
    assert await run.finish("aborted") is None
    assert run.archived is not None
    assert run.archived.urls == (f"s3://{bucket}/{PREFIX}{run.log.id}.jsonl",
                                 f"s3://{bucket}/{PREFIX}{run.log.id}.head")
    copy = download(moto_url, bucket, run.log.id, tmp_path / "copy")
    assert copy.read_bytes() == run.log.path.read_bytes()
    assert verify(copy).ok


def test_log_archive_on_demand(tmp_path, moto_url):
    # a session made without archiving, then archived by hand
    plain = archive_config(tmp_path, endpoint=moto_url, bucket=None)
    assert mcp_ops(tmp_path, plain, "run", "morning-health-check", "--dry-run").returncode == 0
    session = only_session(tmp_path)

    no_bucket = mcp_ops(tmp_path, plain, "log", "archive", session.id)
    assert no_bucket.returncode == 2
    assert "session_log.s3_archive_bucket" in no_bucket.stderr

    bucket = new_bucket(moto_url)
    config = archive_config(tmp_path, endpoint=moto_url, bucket=bucket)
    done = mcp_ops(tmp_path, config, "log", "archive", session.id[:20])
    assert done.returncode == 0, done.stderr
    assert f"s3://{bucket}/{PREFIX}{session.id}.jsonl" in done.stdout
    copy = download(moto_url, bucket, session.id, tmp_path / "copy")
    assert copy.read_bytes() == session.path.read_bytes()
    assert verify(copy).ok

    missing = archive_config(tmp_path, endpoint=moto_url, bucket=f"absent-{uuid.uuid4().hex[:8]}")
    failed = mcp_ops(tmp_path, missing, "log", "archive", session.id)
    assert failed.returncode == 1
    assert "NoSuchBucket" in failed.stderr and session.id in failed.stderr

    unknown = mcp_ops(tmp_path, config, "log", "archive", "no-such-session")
    assert unknown.returncode == 2 and "no session" in unknown.stderr
