"""AWS through aioboto3: RDS, Route53, S3 and EC2, with typed results and one typed error.

:class:`AwsReader` describes and lists; :class:`AwsWriter` (a reader too) promotes a read
replica, changes a DNS record and puts an S3 object. Both are built from an environment's
:class:`~console.config.model.AwsSettings` and open one aioboto3 client per service the
first time a method needs it, through :func:`console.sources.aws.session` and
:func:`~console.sources.aws.client_kwargs` — so a loopback endpoint (the sandbox's moto)
gets placeholder keys and never the real credentials of the chain. Use them as
``async with AwsWriter(env.aws) as aws: ...`` or call :meth:`AwsReader.close`.

Every botocore failure (a ``ClientError`` from the service, an unreachable endpoint, a
missing profile) becomes one :class:`AwsError` naming the service, the operation and the
error code, e.g. ``rds PromoteReadReplica: InvalidDBInstanceState: ...``.

The Route53 change batch is built once, by :func:`change_batch`: the writer sends it and
:mod:`console.execution.commands` shows it inline in ``aws route53
change-resource-record-sets --change-batch '...'``, so the shown command is what runs.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import IO, Any, Self, TypeVar

from console.config.model import AwsSettings

from .errors import WriterRefused

__all__ = [
    "AliasTarget", "AwsError", "AwsReader", "AwsTimeout", "AwsWriter", "ChangeInfo",
    "DbInstance", "DnsRecord", "Ec2Instance", "S3Object", "change_batch", "zone_id_of",
]

MiB = 1024 * 1024
T = TypeVar("T")

# RDS states an instance does not leave by itself: waiting for "available" stops at once
DB_STATES_NEEDING_AN_OPERATOR = frozenset({
    "failed", "incompatible-parameters", "incompatible-restore", "incompatible-network",
    "inaccessible-encryption-credentials", "storage-full", "deleting", "stopped",
})
RECORD_TYPES = frozenset({"A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "PTR"})
ZONE_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")


class AwsError(Exception):
    """An AWS call failed: ``str()`` is ``"{service} {operation}: {code}: {message}"``."""

    def __init__(self, service: str, operation: str, code: str, message: str) -> None:
        self.service = service
        self.operation = operation
        self.code = code
        self.message = " ".join(message.split())
        super().__init__(service, operation, code, self.message)

    def __str__(self) -> str:
        text = f"{self.service} {self.operation}: {self.code}"
        return f"{text}: {self.message}" if self.message else text


class AwsTimeout(AwsError):
    """A wait (``wait_db_available``, ``wait_change_insync``) passed its deadline, or one
    call got no answer within the reader's ``call_timeout``."""


# ---- typed results -------------------------------------------------------------------------

@dataclass(frozen=True)
class DbInstance:
    identifier: str
    status: str
    engine: str
    endpoint_host: str | None
    endpoint_port: int | None
    read_replica_source: str | None  # id (or ARN, cross-region) of the source; None = not a replica
    replica_ids: tuple[str, ...]
    availability_zone: str | None
    region: str | None
    instance_class: str | None = None
    multi_az: bool = False

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def endpoint(self) -> str | None:
        """``host:port`` clients connect to (None while the instance has no endpoint)."""
        if self.endpoint_host is None:
            return None
        return f"{self.endpoint_host}:{self.endpoint_port}" if self.endpoint_port else self.endpoint_host

    @classmethod
    def from_aws(cls, data: Mapping[str, Any]) -> DbInstance:
        endpoint = data.get("Endpoint") or {}
        arn = data.get("DBInstanceArn") or ""
        parts = arn.split(":")
        return cls(
            identifier=data["DBInstanceIdentifier"],
            status=data.get("DBInstanceStatus", "unknown"),
            engine=data.get("Engine", ""),
            endpoint_host=endpoint.get("Address"),
            endpoint_port=endpoint.get("Port"),
            read_replica_source=data.get("ReadReplicaSourceDBInstanceIdentifier") or None,
            replica_ids=tuple(data.get("ReadReplicaDBInstanceIdentifiers") or ()),
            availability_zone=data.get("AvailabilityZone"),
            region=parts[3] if len(parts) > 3 and parts[3] else None,
            instance_class=data.get("DBInstanceClass"),
            multi_az=bool(data.get("MultiAZ", False)),
        )


@dataclass(frozen=True)
class AliasTarget:
    hosted_zone_id: str
    dns_name: str
    evaluate_target_health: bool = False


@dataclass(frozen=True)
class DnsRecord:
    """One simple Route53 record set: values with a TTL, or an alias."""

    name: str
    type: str
    values: tuple[str, ...] = ()
    ttl: int | None = 300
    alias: AliasTarget | None = None

    def __post_init__(self) -> None:
        if not self.name or any(c.isspace() for c in self.name):
            raise ValueError(f"DNS name {self.name!r} is empty or holds spaces")
        if self.type not in RECORD_TYPES:
            raise ValueError(f"record type {self.type!r} is not one of {', '.join(sorted(RECORD_TYPES))}")
        if isinstance(self.values, str):  # a lone string would be split into characters
            object.__setattr__(self, "values", (self.values,))
        if self.alias is None:
            if not self.values:
                raise ValueError(f"{self.type} record {self.name}: no value given")
            if self.type == "CNAME" and len(self.values) != 1:
                raise ValueError(f"CNAME record {self.name}: exactly one value, not {len(self.values)}")
            if self.ttl is None or not 0 <= self.ttl <= 2_147_483_647:
                raise ValueError(f"record {self.name}: TTL {self.ttl!r} out of range")
        elif self.values:
            raise ValueError(f"record {self.name}: an alias has no values")

    def resource_record_set(self) -> dict[str, Any]:
        """The ``ResourceRecordSet`` of a change batch."""
        rrset: dict[str, Any] = {"Name": self.name, "Type": self.type}
        if self.alias is not None:
            rrset["AliasTarget"] = {"HostedZoneId": self.alias.hosted_zone_id,
                                    "DNSName": self.alias.dns_name,
                                    "EvaluateTargetHealth": self.alias.evaluate_target_health}
        else:
            rrset["TTL"] = self.ttl
            rrset["ResourceRecords"] = [{"Value": value} for value in self.values]
        return rrset

    @classmethod
    def from_aws(cls, data: Mapping[str, Any]) -> DnsRecord:
        alias = data.get("AliasTarget")
        return cls(
            name=_unescape(data["Name"]),
            type=data["Type"],
            values=tuple(r["Value"] for r in data.get("ResourceRecords") or ()),
            ttl=data.get("TTL"),
            alias=AliasTarget(alias["HostedZoneId"], alias["DNSName"],
                              bool(alias.get("EvaluateTargetHealth", False))) if alias else None,
        )


@dataclass(frozen=True)
class ChangeInfo:
    id: str  # without the "/change/" prefix
    status: str  # PENDING or INSYNC
    submitted_at: datetime | None = None
    comment: str | None = None

    @property
    def insync(self) -> bool:
        return self.status == "INSYNC"

    @classmethod
    def from_aws(cls, data: Mapping[str, Any]) -> ChangeInfo:
        return cls(id=data["Id"].rsplit("/", 1)[-1], status=data["Status"],
                   submitted_at=data.get("SubmittedAt"), comment=data.get("Comment"))


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    last_modified: datetime | None
    etag: str | None = None
    content_type: str | None = None

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Ec2Instance:
    id: str
    state: str
    type: str
    tags: Mapping[str, str] = field(default_factory=dict)
    availability_zone: str | None = None
    private_ip: str | None = None
    launch_time: datetime | None = None

    @property
    def name(self) -> str | None:
        return self.tags.get("Name")

    @classmethod
    def from_aws(cls, data: Mapping[str, Any]) -> Ec2Instance:
        return cls(
            id=data["InstanceId"],
            state=(data.get("State") or {}).get("Name", "unknown"),
            type=data.get("InstanceType", ""),
            tags={t["Key"]: t.get("Value", "") for t in data.get("Tags") or ()},
            availability_zone=(data.get("Placement") or {}).get("AvailabilityZone"),
            private_ip=data.get("PrivateIpAddress"),
            launch_time=data.get("LaunchTime"),
        )


# ---- shared with the plan renderer ---------------------------------------------------------

def change_batch(record: DnsRecord, comment: str | None = None, *,
                 action: str = "UPSERT") -> dict[str, Any]:
    """The ``--change-batch`` JSON of ``aws route53 change-resource-record-sets`` (and the
    ``ChangeBatch`` of the API call: they are the same document)."""
    if action not in ("UPSERT", "CREATE", "DELETE"):
        raise ValueError(f"change action {action!r} is not UPSERT, CREATE or DELETE")
    batch: dict[str, Any] = {}
    if comment:
        batch["Comment"] = comment[:256]  # Route53's limit
    batch["Changes"] = [{"Action": action, "ResourceRecordSet": record.resource_record_set()}]
    return batch


def zone_id_of(zone_id: str) -> str:
    """``Z123`` from ``Z123`` or ``/hostedzone/Z123``; anything else is a ValueError."""
    bare = zone_id.removeprefix("/hostedzone/")
    if not ZONE_ID.match(bare):
        raise ValueError(f"{zone_id!r} is not a Route53 hosted zone id")
    return bare


def _fqdn(name: str) -> str:
    return _unescape(name).lower().rstrip(".") + "."


def _unescape(name: str) -> str:
    return name.replace("\\052", "*")


# ---- errors --------------------------------------------------------------------------------

def _translate(service: str, operation: str, err: Exception) -> AwsError | None:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(err, ClientError):
        info = err.response.get("Error", {})
        return AwsError(service, err.operation_name or operation,
                        str(info.get("Code") or "Unknown"), str(info.get("Message") or ""))
    if isinstance(err, BotoCoreError):
        return AwsError(service, operation, type(err).__name__, str(err))
    if isinstance(err, TimeoutError):
        return AwsError(service, operation, "Timeout", "no answer in time")
    return None


@asynccontextmanager
async def _deadline(service: str, operation: str, seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout(seconds)``, its expiry raised as :class:`AwsTimeout` naming the
    call and the setting that bounds it."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError as err:
        raise AwsTimeout(service, operation, "Timeout",
                         f"no answer in {seconds:g} s (aws.request_timeout)") from err


@contextmanager
def _aws_errors(service: str, operation: str) -> Iterator[None]:
    try:
        yield
    except AwsError:
        raise
    except Exception as err:
        translated = _translate(service, operation, err)
        if translated is None:
            raise
        raise translated from err


# ---- the reader ----------------------------------------------------------------------------

# calls that send a body of any size: bounded per read (``timeout``), not in total
TRANSFERS = frozenset({"PutObject", "UploadPart"})


class AwsReader:
    """Describe and list RDS, Route53, S3 and EC2 for one environment's AWS settings.

    ``timeout`` bounds each socket read and the connection (botocore's); ``call_timeout``
    (default: ``settings.request_timeout``) bounds each whole call and each page of a list,
    so an endpoint that accepts and never answers fails a step in that time. An object's
    body (streamed or sent) is bounded per read only."""

    def __init__(self, settings: AwsSettings, *, timeout: float = 10.0,
                 call_timeout: float | None = None) -> None:
        self.settings = settings
        self.timeout = timeout
        self.call_timeout = settings.request_timeout if call_timeout is None else call_timeout
        self._session: Any = None
        self._stack: AsyncExitStack | None = None
        self._clients: dict[str, Any] = {}
        self._opening = asyncio.Lock()

    def __repr__(self) -> str:
        where = self.settings.endpoint_url or self.settings.region
        return f"<{type(self).__name__} {where} clients={sorted(self._clients)}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every client opened so far; the reader may be used again afterwards."""
        stack, self._stack = self._stack, None
        self._clients.clear()
        if stack is not None:
            await stack.aclose()

    async def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is not None:
            return client
        async with self._opening:
            if service not in self._clients:
                from console.sources import aws  # boto is loaded the first time it is needed

                with _aws_errors(service, "connect"):
                    if self._session is None:
                        self._session = aws.session(self.settings)
                    if self._stack is None:
                        self._stack = AsyncExitStack()
                    self._clients[service] = await self._stack.enter_async_context(
                        self._session.client(service, **aws.client_kwargs(
                            self.settings, timeout=self.timeout)))
        return self._clients[service]

    def _bounded(self, service: str, operation: str) -> Any:
        """The deadline of one call (or page): :class:`AwsTimeout` when it passes."""
        return _deadline(service, operation, self.call_timeout)

    async def _call(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        async with self._bounded(service, "connect"):
            client = await self._client(service)
        method = getattr(client, _snake(operation))
        with _aws_errors(service, operation):
            if operation in TRANSFERS:
                result: dict[str, Any] = await method(**kwargs)
            else:
                async with self._bounded(service, operation):
                    result = await method(**kwargs)
        return result

    async def _pages(self, service: str, operation: str, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        async with self._bounded(service, "connect"):
            client = await self._client(service)
        with _aws_errors(service, operation):
            pages = aiter(client.get_paginator(_snake(operation)).paginate(**kwargs))
            while True:
                async with self._bounded(service, operation):
                    try:
                        page = await anext(pages)
                    except StopAsyncIteration:
                        return
                yield page

    @staticmethod
    async def _polls(fetch: Callable[[], Awaitable[T]], done: Callable[[T], bool], *,
                     timeout: float, interval: float,
                     timed_out: Callable[[T, int], AwsError]) -> AsyncIterator[T]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        polls = 0
        while True:
            item = await fetch()
            polls += 1
            yield item
            if done(item):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise timed_out(item, polls)
            await asyncio.sleep(min(interval, remaining))

    # ---- RDS -------------------------------------------------------------------------------
    async def db_instance(self, identifier: str) -> DbInstance:
        found = await self._call("rds", "DescribeDBInstances", DBInstanceIdentifier=identifier)
        instances = found.get("DBInstances") or []
        if not instances:
            raise AwsError("rds", "DescribeDBInstances", "DBInstanceNotFound",
                           f"DBInstance {identifier} not found.")
        return DbInstance.from_aws(instances[0])

    async def db_instances(self) -> list[DbInstance]:
        return [DbInstance.from_aws(item)
                async for page in self._pages("rds", "DescribeDBInstances")
                for item in page.get("DBInstances") or ()]

    async def wait_db_available(self, identifier: str, *, timeout: float = 1800.0,
                                interval: float = 15.0) -> AsyncIterator[DbInstance]:
        """Describe ``identifier`` every ``interval`` s, yielding each poll, until it is
        ``available``. Raises :class:`AwsTimeout` at the deadline, and :class:`AwsError`
        at once for a state it cannot leave by itself (failed, storage-full, stopped...)."""
        operation = "DBInstanceAvailable"

        def done(inst: DbInstance) -> bool:
            if inst.status in DB_STATES_NEEDING_AN_OPERATOR:
                raise AwsError("rds", operation, "InstanceState",
                               f"{identifier} is {inst.status}; it will not become available "
                               "by itself")
            return inst.available

        def timed_out(inst: DbInstance, polls: int) -> AwsError:
            return AwsTimeout("rds", operation, "Timeout",
                              f"{identifier} still {inst.status} after {timeout:g} s "
                              f"({polls} polls)")

        async for inst in self._polls(lambda: self.db_instance(identifier), done,
                                      timeout=timeout, interval=interval, timed_out=timed_out):
            yield inst

    # ---- Route53 ---------------------------------------------------------------------------
    async def hosted_zone_id(self, name: str) -> str:
        """The id (``Z...``, no prefix) of the one hosted zone called ``name``."""
        wanted = _fqdn(name)
        found = await self._call("route53", "ListHostedZonesByName", DNSName=wanted,
                                 MaxItems="10")
        ids = [zone_id_of(z["Id"]) for z in found.get("HostedZones") or ()
               if _fqdn(z["Name"]) == wanted]
        if not ids:
            raise AwsError("route53", "ListHostedZonesByName", "NoSuchHostedZone",
                           f"no hosted zone is named {wanted}")
        if len(ids) > 1:
            raise AwsError("route53", "ListHostedZonesByName", "AmbiguousHostedZone",
                           f"{len(ids)} hosted zones are named {wanted} ({', '.join(ids)}); "
                           "configure aws.route53_zone_id")
        return ids[0]

    async def hosted_zone_name(self, zone_id: str) -> str:
        found = await self._call("route53", "GetHostedZone", Id=zone_id_of(zone_id))
        return _fqdn(found["HostedZone"]["Name"])

    async def record(self, zone_id: str, name: str, type: str) -> DnsRecord | None:
        """The simple record set ``name``/``type`` of the zone, or None. Record sets with a
        routing policy (a SetIdentifier: weighted, failover...) are not read here."""
        wanted = _fqdn(name)
        found = await self._call("route53", "ListResourceRecordSets",
                                 HostedZoneId=zone_id_of(zone_id), StartRecordName=wanted,
                                 StartRecordType=type, MaxItems="20")
        for item in found.get("ResourceRecordSets") or ():
            if _fqdn(item["Name"]) != wanted or item["Type"] != type:
                break  # listed in order: past the name, nothing more can match
            if not item.get("SetIdentifier"):
                return DnsRecord.from_aws(item)
        return None

    async def change(self, change_id: str) -> ChangeInfo:
        found = await self._call("route53", "GetChange", Id=change_id.rsplit("/", 1)[-1])
        return ChangeInfo.from_aws(found["ChangeInfo"])

    async def wait_change_insync(self, change_id: str, *, timeout: float = 300.0,
                                 interval: float = 5.0) -> AsyncIterator[ChangeInfo]:
        """Poll a Route53 change, yielding each poll, until it is INSYNC (every Route53
        server answers with it). Raises :class:`AwsTimeout` at the deadline."""
        def timed_out(info: ChangeInfo, polls: int) -> AwsError:
            return AwsTimeout("route53", "ResourceRecordSetsChanged", "Timeout",
                              f"change {info.id} still {info.status} after {timeout:g} s "
                              f"({polls} polls)")

        async for info in self._polls(lambda: self.change(change_id), lambda i: i.insync,
                                      timeout=timeout, interval=interval, timed_out=timed_out):
            yield info

    # ---- S3 --------------------------------------------------------------------------------
    async def list_objects(self, bucket: str, prefix: str = "", *,
                           page_size: int | None = None) -> list[S3Object]:
        """Every object under ``prefix`` (recursively), across all pages (S3 answers up to
        1000 keys a page; ``page_size`` asks for fewer)."""
        paging = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
        return [S3Object(bucket, item["Key"], int(item.get("Size", 0)), item.get("LastModified"),
                         _etag(item.get("ETag")))
                async for page in self._pages("s3", "ListObjectsV2", Bucket=bucket,
                                              Prefix=prefix, **paging)
                for item in page.get("Contents") or ()]

    async def head_object(self, bucket: str, key: str) -> S3Object:
        try:
            found = await self._call("s3", "HeadObject", Bucket=bucket, Key=key)
        except AwsError as err:
            if err.code in ("404", "NoSuchKey", "NotFound"):  # HEAD answers have no body
                raise AwsError("s3", "HeadObject", "NoSuchKey",
                               f"s3://{bucket}/{key} does not exist") from err
            raise
        return S3Object(bucket, key, int(found.get("ContentLength", 0)),
                        found.get("LastModified"), _etag(found.get("ETag")),
                        found.get("ContentType"))

    async def stream_object(self, bucket: str, key: str, chunk: int = MiB) -> AsyncIterator[bytes]:
        """The object's bytes, ``chunk`` at a time, without holding it all in memory."""
        found = await self._call("s3", "GetObject", Bucket=bucket, Key=key)
        body = found["Body"]
        try:
            with _aws_errors("s3", "GetObject"):
                async for part in body.iter_chunks(chunk):
                    yield part
        finally:
            body.close()

    # ---- EC2 -------------------------------------------------------------------------------
    async def instances(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[Ec2Instance]:
        """Instances matching ``{"tag:Environment": ["production"], ...}`` (every page)."""
        aws_filters = _ec2_filters(filters)
        return [Ec2Instance.from_aws(inst)
                async for page in self._pages("ec2", "DescribeInstances", Filters=aws_filters)
                for reservation in page.get("Reservations") or ()
                for inst in reservation.get("Instances") or ()]


class AwsWriter(AwsReader):
    """What a granted change step may do on AWS; also everything :class:`AwsReader` does."""

    change_batch = staticmethod(change_batch)

    async def promote_read_replica(self, identifier: str) -> DbInstance:
        """``aws rds promote-read-replica --db-instance-identifier ID``; the instance as
        RDS answers (follow it with :meth:`wait_db_available`)."""
        found = await self._call("rds", "PromoteReadReplica", DBInstanceIdentifier=identifier)
        return DbInstance.from_aws(found["DBInstance"])

    async def upsert_record(self, zone_id: str, record: DnsRecord,
                            comment: str | None = None) -> ChangeInfo:
        """UPSERT one record set with :func:`change_batch`; refuses a name outside the zone."""
        zone = zone_id_of(zone_id)
        zone_name = await self.hosted_zone_name(zone)
        name = _fqdn(record.name)
        if name != zone_name and not name.endswith("." + zone_name):
            raise WriterRefused(f"{record.name} is not in hosted zone {zone} ({zone_name}); "
                                "nothing was changed")
        found = await self._call("route53", "ChangeResourceRecordSets", HostedZoneId=zone,
                                 ChangeBatch=self.change_batch(record, comment))
        return ChangeInfo.from_aws(found["ChangeInfo"])

    async def put_object(self, bucket: str, key: str, body: bytes | IO[bytes], *,
                         content_type: str | None = None,
                         server_side_encryption: str | None = None) -> S3Object:
        """Upload one object (bytes, or a binary file opened by the caller; up to S3's
        5 GB single-request limit), encrypted at rest when ``server_side_encryption`` says
        so (``AES256`` or ``aws:kms``). Returns what was written."""
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        if server_side_encryption:
            extra["ServerSideEncryption"] = server_side_encryption
        found = await self._call("s3", "PutObject", Bucket=bucket, Key=key, Body=body, **extra)
        size = len(body) if isinstance(body, bytes | bytearray) else None
        if size is None:
            return await self.head_object(bucket, key)
        return S3Object(bucket, key, size, None, _etag(found.get("ETag")), content_type)


def _snake(operation: str) -> str:
    """botocore's method name of an API operation: DescribeDBInstances -> describe_db_instances."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", operation)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _etag(value: str | None) -> str | None:
    return value.strip('"') if value else None


def _ec2_filters(filters: Mapping[str, Sequence[str]] | None) -> list[dict[str, Any]]:
    result = []
    for name, values in (filters or {}).items():
        if isinstance(values, str):
            raise ValueError(f"EC2 filter {name}: give a list of values, not the string {values!r}")
        result.append({"Name": name, "Values": list(values)})
    return result
