"""Copy a finished session log to S3 (``session_log.s3_archive_bucket``), as DESIGN.md asks.

The session's ``<id>.jsonl`` and its ``<id>.head`` anchor are uploaded, byte for byte, to
``s3://{bucket}/{prefix}{id}.jsonl`` and ``.head`` with the session's environment's AWS
settings (:mod:`console.sources.aws`: its credential chain, region and endpoint). The local
files are only read, never changed; a failed upload is an :class:`ArchiveError` whose
message the caller prints as a warning — the log is closed by then, so it is never written
into the hash chain, and it never changes a wizard's outcome.

The same upload runs while a session is open, at its step boundaries (:mod:`.log_anchor`):
the head is read before the log and the log is cut after its last whole line, so a copy
taken while records are being appended still verifies on its own. With
``session_log.s3_object_lock_mode`` set every uploaded version gets that S3 Object Lock
retention for ``s3_object_lock_days``, and ``mcp-ops log verify --remote``
(:mod:`.log_remote`) compares the local log with those locked versions.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
                          timeout: float = TIMEOUT, client: Any = None) -> Archived:
    """Upload one session's log and head anchor; raise :class:`ArchiveError` on any failure.
    ``client``: an open S3 client to use (the live anchor keeps one), else one is opened."""
    target = destination(config, path.stem)
    if target is None:
        raise NoArchiveBucket("no archive bucket configured: set session_log.s3_archive_bucket")
    bucket, key = target
    try:
        _, env = config.environment(env_name)
    except KeyError:
        raise ArchiveError(f"environment {env_name!r} of session {path.stem} is not in the "
                           "configuration; its AWS settings are needed to archive") from None
    try:
        bodies = snapshot(path, key)
    except OSError as err:
        raise ArchiveError(f"cannot read {err.filename}: {err.strerror}") from None
    try:
        async with asyncio.timeout(timeout):
            await _upload(env.aws, bucket, bodies, lock_arguments(config.session_log),
                          client)
    except TimeoutError:
        raise ArchiveError(f"upload to s3://{bucket} did not finish in {timeout:g}s") from None
    except ArchiveError:
        raise
    except Exception as err:  # noqa: BLE001 - botocore/aiohttp errors of every kind
        raise ArchiveError(f"upload to s3://{bucket}/{key} failed: {_reason(err)}") from None
    return Archived(path.stem, tuple(f"s3://{bucket}/{k}" for _, k, _ in bodies))


def snapshot(path: Path, key: str) -> list[tuple[bytes, str, str]]:
    """``(body, key, content type)`` of the log and its head, consistent with each other
    while the log is still being appended to: the head is read first (it may name an older
    record than the log's last, which verifies, never a newer one) and the log is cut after
    its last whole line."""
    head = head_path(path)
    head_body = head.read_bytes() if head.exists() else None
    log_body = path.read_bytes()
    log_body = log_body[: log_body.rfind(b"\n") + 1]
    bodies = [(log_body, key, CONTENT_TYPES[".jsonl"])]
    if head_body is not None:  # the log first, then the anchor naming its end
        bodies.append((head_body, key[: -len(".jsonl")] + ".head", CONTENT_TYPES[".head"]))
    return bodies


def lock_arguments(settings: Any, now: datetime | None = None) -> dict[str, Any]:
    """``put_object`` arguments giving the object the configured Object Lock retention."""
    if not settings.s3_object_lock_mode:
        return {}
    until = (now or datetime.now(UTC)) + timedelta(days=settings.s3_object_lock_days)
    return {"ObjectLockMode": settings.s3_object_lock_mode, "ObjectLockRetainUntilDate": until}


def s3_client(settings: Any) -> Any:
    """An S3 client context for an environment's AWS settings (``async with``)."""
    from console.sources import aws  # boto is loaded only when something is archived

    return aws.session(settings).client("s3", **aws.client_kwargs(settings))


async def _upload(settings: Any, bucket: str, bodies: list[tuple[bytes, str, str]],
                  extra: dict[str, Any], client: Any = None) -> None:
    if client is None:
        async with s3_client(settings) as s3:
            await _upload(settings, bucket, bodies, extra, s3)
        return
    for body, key, content_type in bodies:
        await client.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type,
                                **extra)


def _reason(err: BaseException) -> str:
    """A one-line reason. botocore messages name the operation, endpoint or error code —
    never the credentials, which are not part of any exception's text."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 300 else text[:297] + "..."
