"""Tampering a local chain cannot catch (issue 19, part 6), against moto in server mode.

A headless run with the S3 archive configured uploads its log at every step boundary into a
bucket with Object Lock (GOVERNANCE retention from the config). Copies of that log are then
tampered with — an edited record, a deleted record, the whole chain rewritten with a
consistent ``.head``, the tail cut with a consistent ``.head``, the rewritten chain also
uploaded as a new version, a session with no copy — and ``mcp-ops log verify --remote``
must fail each one naming the first differing record (and field), including those that
pass the local check. Each case is counted with ``tally.tamper``. Also: the retention is the
configured one and a locked version cannot be deleted; a session killed with ``kill -9``
is anchored up to a boundary; a change step's code starts only once its plan is in the
locked copy.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from wizard_support import PYTHON, ROOT, cli_env, load_config, write_config

from console.execution.confirmation import ConfirmationAnswer
from console.execution.log_remote import Version, compare
from console.execution.log_store import list_sessions, verify
from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.session import WizardRun
from console.execution.session_log import HEAD_FORMAT, head_path, record_hash

pytestmark = pytest.mark.timeout(180)

PREFIX = "anchor/sessions/"


def s3(url: str):
    return boto3.client("s3", endpoint_url=url, region_name="eu-west-1",
                        aws_access_key_id="local", aws_secret_access_key="local")


def anchored_config(tmp_path: Path, url: str, bucket: str, lock: str = "GOVERNANCE") -> Path:
    path = write_config(tmp_path, extra_env=f'    aws: {{endpoint_url: "{url}"}}\n')
    text = path.read_text()
    old = f"session_log: {{directory: {tmp_path}/sessions}}"
    assert old in text
    path.write_text(text.replace(old, (
        f"session_log: {{directory: {tmp_path}/sessions, s3_archive_bucket: {bucket}, "
        f"s3_archive_prefix: {PREFIX}, s3_object_lock_mode: {lock}, "
        "s3_object_lock_days: 1, health_at_steps: false}")))
    return path


def mcp_ops(tmp_path: Path, config: Path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "console", *argv, "--config", str(config)], cwd=ROOT,
                          env=cli_env(tmp_path), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def anchored(tmp_path_factory):
    """One real headless run, anchored into an Object Lock bucket: (url, bucket, config,
    the session's log path, its key)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    bucket = f"anchor-{uuid.uuid4().hex[:10]}"
    s3(url).create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True,
                          CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    tmp_path = tmp_path_factory.mktemp("anchored")
    config = anchored_config(tmp_path, url, bucket)
    result = mcp_ops(tmp_path, config, "run", "morning-health-check")
    assert result.returncode in (0, 1), result.stderr  # 1: this config's platform is unhealthy
    assert "warning" not in result.stderr, result.stderr
    [session] = list_sessions(tmp_path / "sessions")
    yield url, bucket, config, session.path, f"{PREFIX}{session.id}.jsonl"
    server.stop()


def versions(url: str, bucket: str, key: str) -> list[dict]:
    """Oldest first (S3 lists them newest first; their timestamps are whole seconds)."""
    listed = s3(url).list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
    return [v for v in listed if v["Key"] == key][::-1]


def copy_of(log: Path, into: Path, name: str | None = None) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    stem = name or log.stem
    shutil.copyfile(log, into / f"{stem}.jsonl")
    shutil.copyfile(head_path(log), into / f"{stem}.head")
    return into / f"{stem}.jsonl"


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def write_chain(path: Path, chain: list[dict], *, rehash_from: int | None) -> None:
    """Write ``chain`` back; from index ``rehash_from`` on every record is re-linked and
    re-hashed and the head names the new end — a forgery the local check cannot see."""
    if rehash_from is not None:
        for index in range(rehash_from, len(chain)):
            if index:
                chain[index]["prev"] = chain[index - 1]["hash"]
            chain[index]["hash"] = record_hash(chain[index])
        last = chain[-1]
        head_path(path).write_text(HEAD_FORMAT.format(seq=last["seq"], hash=last["hash"]))
    path.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n"
                            for r in chain))


def verify_remote(tmp_path: Path, config: Path, log: Path) -> subprocess.CompletedProcess:
    return mcp_ops(tmp_path, config, "log", "verify", str(log), "--remote")


def step_record(chain: list[dict]) -> int:
    """The index of a step_end in the middle of the log: the record a forger would change."""
    ends = [i for i, r in enumerate(chain) if r["event"] == "step_end"]
    assert len(ends) >= 2, [r["event"] for r in chain]
    return ends[len(ends) // 2]


def test_the_log_is_anchored_at_each_step_boundary_under_object_lock(anchored, tmp_path):
    url, bucket, config, log, key = anchored
    chain = records(log)
    boundaries = sum(r["event"] in ("step_start", "step_end") for r in chain)
    listed = versions(url, bucket, key)
    print(f"\n{len(chain)} records, {boundaries} step boundaries, {len(listed)} versions")
    assert len(listed) >= 3  # during the run, not only at its end
    client = s3(url)
    bodies = [client.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])
              for v in listed]
    assert all(b["ObjectLockMode"] == "GOVERNANCE" for b in bodies)
    for body, version in zip(bodies, listed, strict=True):  # s3_object_lock_days: 1
        held = body["ObjectLockRetainUntilDate"] - version["LastModified"]
        assert timedelta(hours=23) < held < timedelta(hours=25), held
    texts = [b["Body"].read() for b in bodies]
    print("version sizes:", [len(t) for t in texts], "local", log.stat().st_size)
    local = log.read_bytes()
    assert texts[-1] == local  # the final archive is the whole log
    assert all(local.startswith(t) for t in texts)  # each an earlier state of it
    assert len({len(t) for t in texts}) >= 3  # the log grew between versions
    with pytest.raises(ClientError) as refused:  # locked: the old versions stay
        client.delete_object(Bucket=bucket, Key=key, VersionId=listed[0]["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    result = verify_remote(tmp_path, config, log)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"remote OK: matches the locked copy ({len(listed)} versions" in result.stdout
    assert "Object Lock GOVERNANCE until" in result.stdout


def test_an_edited_record_is_named_with_its_field(anchored, tmp_path, tally):
    url, bucket, config, log, key = anchored
    copy = copy_of(log, tmp_path / "edited")
    chain = records(copy)
    index = step_record(chain)
    chain[index]["data"]["status"] = "ok" if chain[index]["data"]["status"] != "ok" else "failed"
    write_chain(copy, chain, rehash_from=None)
    result = verify_remote(tmp_path, config, copy)
    seq = chain[index]["seq"]
    caught = (result.returncode == 1
              and f"remote FAILED at record {seq}, field data.status" in result.stdout)
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


def test_a_deleted_record_is_named(anchored, tmp_path, tally):
    url, bucket, config, log, key = anchored
    copy = copy_of(log, tmp_path / "deleted")
    chain = records(copy)
    index = step_record(chain)
    seq = chain[index]["seq"]
    write_chain(copy, chain[:index] + chain[index + 1:], rehash_from=None)
    result = verify_remote(tmp_path, config, copy)
    caught = (result.returncode == 1 and f"remote FAILED at record {seq}:" in result.stdout
              and "deleted locally" in result.stdout)
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


def test_a_whole_rewritten_chain_passes_locally_and_fails_remotely(anchored, tmp_path, tally):
    url, bucket, config, log, key = anchored
    copy = copy_of(log, tmp_path / "rewritten")
    chain = records(copy)
    index = step_record(chain)
    chain[index]["data"]["duration"] = 0.001
    chain[index]["data"].pop("error", None)
    write_chain(copy, chain, rehash_from=index)
    assert verify(copy).ok, verify(copy).describe()  # the forgery holds up on this machine
    result = verify_remote(tmp_path, config, copy)
    seq = chain[index]["seq"]
    caught = (result.returncode == 1 and ": OK:" in result.stdout
              and f"remote FAILED at record {seq}, field data." in result.stdout)
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


def test_a_cut_tail_with_a_consistent_head_fails_remotely(anchored, tmp_path, tally):
    url, bucket, config, log, key = anchored
    copy = copy_of(log, tmp_path / "truncated")
    chain = records(copy)
    kept = chain[:-3]
    write_chain(copy, kept, rehash_from=len(kept) - 1)  # the head names the new last record
    assert verify(copy).ok
    result = verify_remote(tmp_path, config, copy)
    caught = (result.returncode == 1
              and f"remote FAILED at record {len(kept) + 1}:" in result.stdout
              and "truncated" in result.stdout)
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


def test_a_forgery_uploaded_as_a_new_version_is_caught_by_the_locked_ones(anchored, tmp_path,
                                                                          tally):
    """Someone holding the bucket's credentials may add a version; locked ones stay."""
    url, bucket, config, log, key = anchored
    before = len(versions(url, bucket, key))
    forged_dir = tmp_path / "forged"
    copy = copy_of(log, forged_dir)
    chain = records(copy)
    index = step_record(chain)
    chain[index]["ts"] = "2020-01-01T00:00:00.000Z"
    write_chain(copy, chain, rehash_from=index)
    client = s3(url)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=copy.read_bytes())
        assert len(versions(url, bucket, key)) == before + 1
        result = verify_remote(tmp_path, config, copy)
    finally:  # the newest version is unlocked: remove it so other tests see the real copy
        newest = versions(url, bucket, key)[-1]
        client.delete_object(Bucket=bucket, Key=key, VersionId=newest["VersionId"])
    caught = (result.returncode == 1
              and f"remote FAILED at record {chain[index]['seq']}, field ts" in result.stdout)
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


def test_a_session_without_a_locked_copy_fails(anchored, tmp_path, tally):
    url, bucket, config, log, key = anchored
    other = log.stem.rsplit("-", 1)[0] + "-0000"  # a session id that was never uploaded
    copy = copy_of(log, tmp_path / "missing", name=other)
    assert verify(copy).ok  # hash chains do not include the file name
    result = verify_remote(tmp_path, config, copy)
    caught = (result.returncode == 1 and "remote FAILED: no copy at s3://" in result.stdout)
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


def test_records_after_the_last_anchor_are_reported_not_failed(anchored):
    """A session killed between two boundaries: its newest records are not anchored yet;
    records added after a locked copy's session_end are a forgery."""
    url, bucket, config, log, key = anchored
    local = log.read_bytes()
    lines = local.splitlines(keepends=True)
    early = Version("v1", None, b"".join(lines[:5]))
    check = compare(local, [early], "s3://b/k")
    assert check.ok and f"records 6..{len(lines)} are not anchored yet" in check.describe()

    extra = json.loads(lines[-1])
    extra.update(seq=extra["seq"] + 1, prev=extra["hash"], event="note", data={"text": "x"})
    extra["hash"] = record_hash(extra)
    longer = local + (json.dumps(extra, separators=(",", ":")) + "\n").encode()
    check = compare(longer, [Version("v1", None, local)], "s3://b/k")
    assert not check.ok and check.difference is not None
    assert check.difference.seq == len(lines) + 1
    assert "added locally after the locked copy's session_end" in check.describe()


def test_an_unknown_lock_mode_is_a_config_error(tmp_path):
    config = anchored_config(tmp_path, "http://127.0.0.1:9", "b", lock="FOREVER")
    result = subprocess.run([PYTHON, "-m", "console", "config", "validate", str(config)],
                            cwd=ROOT, env=cli_env(tmp_path), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "session_log.s3_object_lock_mode" in result.stdout + result.stderr


def test_verify_remote_without_a_bucket_exits_2(tmp_path, anchored):
    url, bucket, config, log, key = anchored
    plain = write_config(tmp_path)
    result = mcp_ops(tmp_path, plain, "log", "verify", str(log), "--remote")
    assert result.returncode == 2
    assert "no archive bucket configured" in result.stderr


def test_a_killed_session_is_anchored_up_to_a_boundary_and_a_forgery_still_fails(
        anchored, tmp_path, tally):
    """kill -9 in the middle of an anchored run: the locked copy holds the log up to a step
    boundary; the rest is "not anchored yet", and a rewrite of the anchored part fails."""
    url, bucket, _, _, _ = anchored
    config = anchored_config(tmp_path, url, bucket)
    sessions = tmp_path / "sessions"
    process = subprocess.Popen([PYTHON, "-m", "console", "run", "morning-health-check",
                                "--config", str(config)], cwd=ROOT, env=cli_env(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    try:
        while True:
            logs = list(sessions.glob("*.jsonl")) if sessions.is_dir() else []
            chain = [json.loads(x) for x in logs[0].read_text().splitlines()] if logs else []
            if sum(r["event"] == "step_end" for r in chain) >= 2:
                os.kill(process.pid, signal.SIGKILL)
                break
            assert process.poll() is None, "the run ended before its second step"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
    log = logs[0]
    key = f"{PREFIX}{log.stem}.jsonl"
    deadline = time.monotonic() + 30  # an upload under way at the kill may still land
    while not versions(url, bucket, key) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert verify(log).ok and not verify(log).ended
    result = verify_remote(tmp_path, config, log)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "remote OK: matches the locked copy" in result.stdout, result.stdout
    newest = s3(url).get_object(Bucket=bucket, Key=key)["Body"].read()
    print(f"\nkilled at record {len(records(log))}; the locked copy has "
          f"{len(newest.splitlines())} records")

    chain = records(log)
    write_chain(log, chain[:1] + [dict(chain[1], ts="2020-01-01T00:00:00.000Z")] + chain[2:],
                rehash_from=1)
    assert verify(log).ok
    result = verify_remote(tmp_path, config, log)
    caught = result.returncode == 1 and "remote FAILED at record 2, field ts" in result.stdout
    tally.tamper(caught)
    assert caught, result.stdout + result.stderr


async def test_a_change_step_acts_only_once_its_plan_is_locked_remotely(anchored, tmp_path):
    """What the locked copy holds when a change step's own code starts: its plan."""
    url, bucket, _, _, _ = anchored
    config = load_config(anchored_config(tmp_path, url, bucket))
    seen: list[list[tuple[str, str | None]]] = []
    runs: list[WizardRun] = []

    async def change(ctx):
        key = f"{PREFIX}{runs[0].log.id}.jsonl"
        body = await asyncio.to_thread(
            lambda: s3(url).get_object(Bucket=bucket, Key=key)["Body"].read())
        seen.append([(r["event"], r["data"].get("id")) for r in map(json.loads, body.splitlines())])
        yield "changed"

    async def yes(request):
        return ConfirmationAnswer(True, None)

    wizard = Wizard("anchor-change", "Anchor change", "S", "W", steps=(
        Step("change", "Change", "why", Risk.CHANGE, lambda ctx: Plan("change", ()), change),))
    run = WizardRun(config=config, env_name="sandbox", wizard=wizard, read_only=False,
                    confirmer=yes)
    runs.append(run)
    run.start()
    assert await run.resolve_inputs({}) == []
    assert (await run.run_step(0)).ok
    assert await run.finish("completed") is None
    assert ("step_plan", "change") in seen[0], seen
