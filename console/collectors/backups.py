"""Backups collector: the latest Velero backups and the latest database dumps in S3.

Velero backups are ``velero.io/v1`` Backup objects read through the Kubernetes source;
dumps are S3 objects under the configured prefix. The two are read concurrently and fail
separately: an unreachable bucket does not hide last night's Velero backup.

The S3 client is made once and kept between polls: building a botocore client costs
hundreds of milliseconds of CPU, which every refresh would otherwise pay (and take from
the UI's event loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from typing import Any

from console.config.model import Environment
from console.sources.kube import KubeSource

from . import velero_parse
from .backups_model import BackupsSnapshot, S3Dump, VeleroBackup
from .base import describe_error, utcnow

KEEP = 10


class BackupsCollector:
    def __init__(self, env: Environment, *, timeout: float = 3.0,
                 kube: KubeSource | None = None) -> None:
        self.env = env
        self.timeout = timeout
        self.kube = kube or KubeSource(env.kubernetes, timeout=timeout)
        self._owns_kube = kube is None
        self._s3_stack: contextlib.AsyncExitStack | None = None
        self._s3_client: Any = None  # an aioboto3 S3 client (untyped)

    async def close(self) -> None:
        await self._drop_s3()
        if self._owns_kube:
            await self.kube.close()

    async def _drop_s3(self) -> None:
        stack, self._s3_stack, self._s3_client = self._s3_stack, None, None
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def collect(self) -> BackupsSnapshot:
        (velero, velero_error), (dumps, s3_error) = await asyncio.gather(
            self._velero(), self._s3())
        a = self.env.aws
        return BackupsSnapshot(collected_at=utcnow(), velero=velero, velero_error=velero_error,
                               s3_bucket=a.s3_backup_bucket, s3_prefix=a.s3_backup_prefix,
                               s3=dumps, s3_error=s3_error)

    async def _velero(self) -> tuple[tuple[VeleroBackup, ...], str | None]:
        ns = self.env.kubernetes.velero_namespace
        try:
            body = await self.kube.get(f"/apis/velero.io/v1/namespaces/{ns}/backups")
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            return (), describe_error(exc)
        # one order for "latest" everywhere: creation time, as the runbook lists them
        return tuple(velero_parse.newest_first(body.get("items", []), utcnow())[:KEEP]), None

    async def _s3(self) -> tuple[tuple[S3Dump, ...], str | None]:
        a = self.env.aws
        try:
            if self._s3_client is None:
                # boto takes ~0.25 s to import, its S3 model ~70 ms to read and a client
                # ~50 ms to make: in a thread, off the UI's event loop
                aws = await asyncio.to_thread(importlib.import_module, "console.sources.aws")
                session = await asyncio.to_thread(aws.read_session, a, "s3")
                context, client = await asyncio.to_thread(
                    aws.entered_client, session, "s3",
                    **aws.client_kwargs(a, timeout=self.timeout))
                stack = contextlib.AsyncExitStack()
                stack.push_async_exit(context.__aexit__)
                self._s3_client, self._s3_stack = client, stack
            objects = []
            paginator = self._s3_client.get_paginator("list_objects_v2")
            async for page in paginator.paginate(Bucket=a.s3_backup_bucket,
                                                 Prefix=a.s3_backup_prefix):
                objects += page.get("Contents", [])
        except asyncio.CancelledError:
            await self._drop_s3()
            raise
        except Exception as exc:  # noqa: BLE001
            await self._drop_s3()
            return (), describe_error(exc)
        now = utcnow()
        # newest first; dumps written in the same second fall back to the (dated) key name
        objects.sort(key=lambda o: (o["LastModified"], o["Key"]), reverse=True)
        return tuple(S3Dump(key=o["Key"], size_bytes=int(o.get("Size", 0)),
                            age_hours=(now - o["LastModified"]).total_seconds() / 3600)
                     for o in objects[:KEEP]), None
