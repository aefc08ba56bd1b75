"""What a Velero backup holds, read before restoring from it.

Velero keeps, next to each backup's tarball in its storage location's bucket,
``<prefix>/backups/<name>/<name>-resource-list.json.gz``: every item backed up, keyed by
``group/version/Kind`` with ``namespace/name`` values. ``velero backup describe --details``
prints it as the "Resource List" (through a DownloadRequest, which is a write to the
cluster); here it is read straight from the bucket with the environment's AWS reader, so
it works read-only too. Shown per kind and namespace, counted, with the first names.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from console.execution.context import StepContext
from console.execution.kube import KubeReader

from .velero_location import VELERO

NAMES_SHOWN = 4
MAX_BYTES = 32 * 2**20  # a resource list of a huge cluster is a few MB gzipped


def resource_list_key(prefix: str, backup: str) -> str:
    path = f"backups/{backup}/{backup}-resource-list.json.gz"
    return f"{prefix.strip('/')}/{path}" if prefix.strip("/") else path


def where(location: dict[str, Any], backup: str) -> tuple[str, str]:
    """(bucket, key) of ``backup``'s resource list in storage location ``location``."""
    storage = (location.get("spec") or {}).get("objectStorage") or {}
    return str(storage.get("bucket") or ""), resource_list_key(str(storage.get("prefix") or ""),
                                                               backup)


async def read_resource_list(ctx: StepContext, bucket: str, key: str) -> dict[str, list[str]]:
    data = bytearray()
    async for chunk in (await ctx.aws()).stream_object(bucket, key):
        data += chunk
        if len(data) > MAX_BYTES:
            raise ValueError(f"s3://{bucket}/{key} is larger than {MAX_BYTES // 2**20} MiB")
    listing = json.loads(gzip.decompress(bytes(data)))
    if not isinstance(listing, dict):
        raise ValueError(f"s3://{bucket}/{key} is not a resource list")
    return {str(kind): [str(n) for n in names] for kind, names in listing.items()}


def contents_lines(listing: dict[str, list[str]]) -> list[str]:
    """Per kind, per namespace: how many, and the first names."""
    total = sum(len(names) for names in listing.values())
    out = [f"contents: {total} items of {len(listing)} kinds (the backup's resource list)"]
    for kind in sorted(listing):
        spaces: dict[str, list[str]] = {}
        for item in listing[kind]:
            ns, _, name = item.rpartition("/")
            spaces.setdefault(ns or "(cluster)", []).append(name)
        for ns, names in sorted(spaces.items()):
            shown = ", ".join(sorted(names)[:NAMES_SHOWN])
            more = f", +{len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
            out.append(f"  {kind} in {ns}: {len(names)}  ({shown}{more})")
    return out


async def contents_of(ctx: StepContext, reader: KubeReader, location: str,
                      backup: str) -> list[str]:
    """The lines showing what ``backup`` holds; never raises: a list that cannot be read
    is said, with the command that shows it."""
    bsl = await reader.raw("BackupStorageLocation", location,
                           namespace=ctx.env.kubernetes.velero_namespace, api_version=VELERO)
    bucket, key = where(bsl or {}, backup)
    try:
        listing = await read_resource_list(ctx, bucket, key)
    except Exception as exc:  # noqa: BLE001 - shown; the location's phase decides
        return [f"contents: not readable from s3://{bucket}/{key} ({exc}); "
                f"`velero backup describe {backup} --details` lists them"]
    ctx.cache["velero.contents"] = listing
    return [f"contents read from s3://{bucket}/{key}", *contents_lines(listing)]
