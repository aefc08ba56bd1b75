"""``mcp-ops log verify --remote``: the local log against its locked copies in S3.

Every version of ``s3://{bucket}/{prefix}{id}.jsonl`` (one per step boundary, see
:mod:`.log_anchor`, and the final archive) was a snapshot of the log as it grew, so each
must be a prefix of the local log, line for line. The first record where one is not is
named with its first differing field (``data.<key>`` for the data), or as removed locally
(the local log skips it or ends before it), or as added after the locked copy's
``session_end``. A chain rewritten whole with a consistent ``.head`` passes the local
check and fails this one — as long as the versions cannot be changed: the copy's Object
Lock mode and retain-until date are reported, and a copy without them is said to be
replaceable.

Records after the newest version (the session was killed between two boundaries, or the
upload of the last one failed) are reported as not anchored, which is not a failure.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .log_archive import ArchiveError, destination, s3_client
from .log_store import FIELDS

TIMEOUT = 60.0


@dataclass(frozen=True)
class Version:
    version_id: str
    modified: datetime | None
    body: bytes


@dataclass(frozen=True)
class Difference:
    seq: int
    field: str | None  # None: the record as a whole (removed, added, unreadable)
    reason: str


@dataclass
class RemoteCheck:
    ok: bool
    url: str
    versions: int = 0
    difference: Difference | None = None
    remote_records: int = 0  # in the newest version
    local_records: int = 0
    lock: str = ""  # "GOVERNANCE until 2026-…" or "" when the copy has no retention
    error: str = ""

    def describe(self) -> str:
        if self.error:
            return f"remote FAILED: {self.error}"
        if self.difference is not None:
            d = self.difference
            where = f"record {d.seq}" + (f", field {d.field}" if d.field else "")
            return f"remote FAILED at {where}: {d.reason} (locked copy {self.url})"
        text = (f"remote OK: matches the locked copy ({self.versions} version"
                f"{'s' if self.versions != 1 else ''}, the newest has {self.remote_records} "
                f"of the local log's {self.local_records} records)")
        if self.local_records > self.remote_records:
            text += (f"; records {self.remote_records + 1}..{self.local_records} are not "
                     "anchored yet")
        text += (f"; Object Lock {self.lock}" if self.lock else
                 "; the copy has no Object Lock retention: whoever holds the bucket's "
                 "credentials could replace it")
        return text


def _lines(body: bytes) -> tuple[list[bytes], bytes]:
    lines = body.split(b"\n")
    partial = lines.pop()
    return lines, partial


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _field(local: dict[str, Any] | None, remote: dict[str, Any] | None) -> str | None:
    if local is None or remote is None:
        return None
    for name in FIELDS:
        a, b = local.get(name), remote.get(name)
        if a == b:
            continue
        if name == "data" and isinstance(a, dict) and isinstance(b, dict):
            for key in list(b) + [k for k in a if k not in b]:
                if a.get(key, ...) != b.get(key, ...):
                    return f"data.{key}"
        return name
    extra = sorted(set(local) ^ set(remote))
    return extra[0] if extra else None


def first_difference(local: bytes, remote: bytes) -> Difference | None:
    """Where ``remote`` (one locked version) stops being a prefix of ``local``."""
    mine, partial = _lines(local)
    theirs, _ = _lines(remote)  # a version is cut after a whole line when uploaded
    for index, line in enumerate(theirs):
        seq = index + 1
        if index >= len(mine):
            cut = f"; its line {seq} is cut off after {len(partial)} bytes" if partial else ""
            return Difference(seq, None, f"the local log ends at record {len(mine)}{cut}, the "
                                         f"locked copy goes on to record {len(theirs)}: "
                                         "records were removed locally (truncated)")
        if mine[index] == line:
            continue
        if index + 1 < len(theirs) and mine[index] == theirs[index + 1]:
            return Difference(seq, None, "the locked copy has this record, the local log "
                                         "goes from the one before to the one after: deleted "
                                         "locally")
        local_record, remote_record = _parse(mine[index]), _parse(line)
        name = _field(local_record, remote_record)
        if local_record is None:
            return Difference(seq, None, "the local line is not a record; the locked copy "
                                         "has a record there (edited locally)")
        return Difference(seq, name, f"the local record differs from the locked copy's "
                                     f"in {name or 'its bytes'} (edited or rewritten locally)")
    return None


def compare(local: bytes, versions: list[Version], url: str) -> RemoteCheck:
    """Check every version (oldest first); the earliest differing record is reported."""
    mine, _ = _lines(local)
    check = RemoteCheck(ok=True, url=url, versions=len(versions), local_records=len(mine))
    if not versions:
        check.ok, check.error = False, f"no copy at {url}: the session was never anchored, " \
                                       "or the object was removed"
        return check
    found = [d for d in (first_difference(local, v.body) for v in versions) if d is not None]
    newest, _ = _lines(versions[-1].body)
    check.remote_records = len(newest)
    if found:
        check.ok, check.difference = False, min(found, key=lambda d: d.seq)
        return check
    last = _parse(newest[-1]) if newest else None
    if last is not None and last.get("event") == "session_end" and len(mine) > len(newest):
        check.ok = False
        check.difference = Difference(len(newest) + 1, None,
                                      f"records {len(newest) + 1}..{len(mine)} were added "
                                      "locally after the locked copy's session_end")
    return check


async def fetch_versions(settings: Any, bucket: str, key: str) -> tuple[list[Version], str]:
    """Every version of ``key``, oldest first, and the newest one's Object Lock."""
    async with s3_client(settings) as s3:
        listed: list[dict[str, Any]] = []
        paginator = s3.get_paginator("list_object_versions")
        async for page in paginator.paginate(Bucket=bucket, Prefix=key):
            listed += [v for v in page.get("Versions", []) if v.get("Key") == key]
        if not listed:  # a bucket without versioning lists nothing on some stores
            try:
                listed = [{"VersionId": None, "LastModified": None}]
                await s3.head_object(Bucket=bucket, Key=key)
            except s3.exceptions.ClientError:
                return [], ""
        listed.reverse()  # S3 lists a key's versions newest first (timestamps are seconds)
        versions, lock_text = [], ""
        for item in listed:
            extra = {"VersionId": item["VersionId"]} if item.get("VersionId") else {}
            response = await s3.get_object(Bucket=bucket, Key=key, **extra)
            async with response["Body"] as stream:
                body = await stream.read()
            versions.append(Version(item.get("VersionId") or "", item.get("LastModified"), body))
            if item is listed[-1]:
                lock = response.get("ObjectLockMode") or ""
                until = response.get("ObjectLockRetainUntilDate")
                lock_text = f"{lock} until {until:%Y-%m-%d %H:%M} UTC" if lock and until else lock
        return versions, lock_text


async def verify_remote(path: Path, *, config: Any, env_name: str,
                        timeout: float = TIMEOUT) -> RemoteCheck:
    target = destination(config, path.stem)
    if target is None:
        raise ArchiveError("no archive bucket configured: set session_log.s3_archive_bucket")
    bucket, key = target
    url = f"s3://{bucket}/{key}"
    try:
        _, env = config.environment(env_name)
    except KeyError:
        raise ArchiveError(f"environment {env_name!r} of session {path.stem} is not in the "
                           "configuration; its AWS settings are needed to read the copy") from None
    local = await asyncio.to_thread(path.read_bytes)
    try:
        async with asyncio.timeout(timeout):
            versions, lock = await fetch_versions(env.aws, bucket, key)
    except TimeoutError:
        return RemoteCheck(ok=False, url=url, error=f"reading {url} did not finish in {timeout:g}s")
    except Exception as err:  # noqa: BLE001 - botocore/aiohttp errors of every kind
        text = " ".join(str(err).split()) or type(err).__name__
        return RemoteCheck(ok=False, url=url, error=f"cannot read {url}: {text[:300]}")
    check = compare(local, versions, url)
    check.lock = lock
    return check
