"""The AWS reads a step may make, until the writers' ``AwsReader`` replaces this module.

TODO(AwsReader): ``console/execution/writers/aws.py`` brings ``AwsReader(settings,
timeout=...)`` (RDS, Route53, S3, EC2 reads); once it is merged, ``StepContext.aws()``
returns it and this module goes. Until then it is the minimal read the backup wizards need: listing
every object under a prefix, one object's size, and its bytes as a stream — under the
names ``AwsReader`` gives them, so the steps do not change when it takes over.

The aioboto3 session and client settings are ``console.sources.aws``'s (the standard
credential chain; a loopback endpoint gets placeholder keys), like the backups collector.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from console.config.model import AwsSettings
from console.sources import aws

MiB = 1024 * 1024


@dataclass(frozen=True)
class S3Object:
    """As ``AwsReader`` describes an object (same fields, same names)."""

    bucket: str
    key: str
    size: int
    last_modified: datetime | None
    etag: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class AwsReads:
    """S3 reads for one wizard run, with ``AwsReader``'s method names; the client is made
    once and closed with the run."""

    def __init__(self, settings: AwsSettings, *, timeout: float = 60.0):
        self.settings = settings
        self.timeout = timeout
        self._stack = contextlib.AsyncExitStack()
        self._s3: Any = None

    async def _client(self) -> Any:
        if self._s3 is None:
            self._s3 = await self._stack.enter_async_context(aws.session(self.settings).client(
                "s3", **aws.client_kwargs(self.settings, timeout=self.timeout)))
        return self._s3

    async def close(self) -> None:
        self._s3 = None
        await self._stack.aclose()

    async def list_objects(self, bucket: str, prefix: str = "") -> list[S3Object]:
        """Every object under ``prefix`` (recursively), across all pages."""
        s3 = await self._client()
        found: list[S3Object] = []
        async for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                       Prefix=prefix):
            found += [S3Object(bucket, o["Key"], int(o.get("Size", 0)), o.get("LastModified"),
                               o.get("ETag")) for o in page.get("Contents", [])]
        return found

    async def head_object(self, bucket: str, key: str) -> S3Object:
        head = await (await self._client()).head_object(Bucket=bucket, Key=key)
        return S3Object(bucket, key, int(head.get("ContentLength", 0)),
                        head.get("LastModified"), head.get("ETag"))

    async def stream_object(self, bucket: str, key: str,
                            chunk: int = MiB) -> AsyncIterator[bytes]:
        """The object's bytes, ``chunk`` at a time, without holding it all in memory."""
        response = await (await self._client()).get_object(Bucket=bucket, Key=key)
        body = response["Body"]
        try:
            while part := await body.read(chunk):
                yield part
        finally:
            body.close()
