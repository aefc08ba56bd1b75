"""Copy a finished session log to S3 (``session_log.s3_archive_bucket``), as DESIGN.md asks.

The session's ``<id>.jsonl`` and its ``<id>.head`` anchor are uploaded, byte for byte, to
``s3://{bucket}/{prefix}{id}.jsonl`` and ``.head`` with the session's environment's AWS
settings (:mod:`console.sources.aws`: its credential chain, region and endpoint). The local
files are only read, never changed; a failed upload is an :class:`ArchiveError` whose
message the caller prints as a warning — the log is closed by then, so it is never written
into the hash chain, and it never changes a wizard's outcome.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .session_log import head_path

TIMEOUT = 30.0  # the whole upload; each request also has aws.client_kwargs' own timeouts
CONTENT_TYPES = {".jsonl": "application/x-ndjson", ".head": "text/plain"}


class ArchiveError(Exception):
    """The session log could not be archived (the reason is the message)."""


class NoArchiveBucket(ArchiveError):
    """``session_log.s3_archive_bucket`` is not set."""


@dataclass(frozen=True)
class Archived:
    session_id: str
    urls: tuple[str, ...]

    def describe(self) -> str:
        return f"session {self.session_id} archived to " + ", ".join(self.urls)


def destination(config: Any, session_id: str) -> tuple[str, str] | None:
    """``(bucket, key of the .jsonl)`` for a session, or None when archiving is off."""
    settings = config.session_log
    if not settings.s3_archive_bucket:
        return None
    return settings.s3_archive_bucket, f"{settings.s3_archive_prefix or ''}{session_id}.jsonl"


async def archive_session(path: Path, *, config: Any, env_name: str,
                          timeout: float = TIMEOUT) -> Archived:
    """Upload one session's log and head anchor; raise :class:`ArchiveError` on any failure."""
    target = destination(config, path.stem)
    if target is None:
        raise NoArchiveBucket("no archive bucket configured: set session_log.s3_archive_bucket")
    bucket, key = target
    try:
        _, env = config.environment(env_name)
    except KeyError:
        raise ArchiveError(f"environment {env_name!r} of session {path.stem} is not in the "
                           "configuration; its AWS settings are needed to archive") from None
    files = [(path, key)]
    head = head_path(path)
    if head.exists():
        files.append((head, key[: -len(".jsonl")] + ".head"))
    try:
        bodies = [(p.read_bytes(), k, CONTENT_TYPES.get(p.suffix, "application/octet-stream"))
                  for p, k in files]
    except OSError as err:
        raise ArchiveError(f"cannot read {err.filename}: {err.strerror}") from None
    try:
        async with asyncio.timeout(timeout):
            await _upload(env.aws, bucket, bodies)
    except TimeoutError:
        raise ArchiveError(f"upload to s3://{bucket} did not finish in {timeout:g}s") from None
    except ArchiveError:
        raise
    except Exception as err:  # noqa: BLE001 - botocore/aiohttp errors of every kind
        raise ArchiveError(f"upload to s3://{bucket}/{key} failed: {_reason(err)}") from None
    return Archived(path.stem, tuple(f"s3://{bucket}/{k}" for _, k, _ in bodies))


async def _upload(settings: Any, bucket: str, bodies: list[tuple[bytes, str, str]]) -> None:
    from console.sources import aws  # boto is loaded only when something is archived

    async with aws.session(settings).client("s3", **aws.client_kwargs(settings)) as s3:
        for body, key, content_type in bodies:  # the log first, then the anchor naming its end
            await s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)


def _reason(err: BaseException) -> str:
    """A one-line reason. botocore messages name the operation, endpoint or error code —
    never the credentials, which are not part of any exception's text."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."
