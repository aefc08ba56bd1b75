"""The sandbox's AWS: moto in server mode on 127.0.0.1, seeded as the runbook's account.

What the runbook touches is there, reached over HTTP exactly as the real thing would be:
the S3 backup bucket with a week of dated database dumps (real ``pg_dump -Fc`` output of
the sandbox database, so a restore rehearsal restores real rows), the RDS primary in
eu-west-1 with its cross-region read replica in eu-central-1 (what the DR failover
promotes), the Route53 zone with the service record and its DR and staging targets, and
EC2 instances tagged ``Environment=production`` (plus one staging instance, so the tag
filter has something to filter out).

moto accepts any credentials; the sandbox uses fixed dummy ones (see ``CREDENTIALS``).

moto runs in a process of its own (``aws_process.py``), on another core than the
emulators. Where moto is kinder than AWS, :func:`hook_backends` makes it as strict (it
wraps the backends in moto's process): promoting the DR replica is refused unless
it is a replica in state ``available``; a promoted replica reads back as a standalone
primary (moto keeps ``ReadReplicaSourceDBInstanceIdentifier``), ``modifying`` until the
sandbox has promoted the real standby behind it (``dr_region.py``), then ``available``.
``deny(action)`` makes an IAM-style ``AccessDenied`` of one action, for fault rehearsals
(an RDS promotion refused, a Route53 change failing).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .aws_process import MOTO_LOG, MotoChild, end_child

log = logging.getLogger(__name__)

REGION = "eu-west-1"
DR_REGION = "eu-central-1"
BUCKET = "pratiko-backups"
PREFIX = "production/postgres/"
ZONE = "pratiko.ai"
RECORD = "mcp.pratiko.ai"
DR_TARGET = "mcp-dr.pratiko.ai"
STAGING_TARGET = "mcp-staging.pratiko.ai"
RDS_PRIMARY = "pratiko-mcp-primary"
RDS_DR_REPLICA = "pratiko-mcp-dr-replica"
DUMP_DAYS = 7
# moto checks nothing; these only have to exist for the AWS SDKs to sign a request
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "sandbox-access-key",
               "AWS_SECRET_ACCESS_KEY": "sandbox-secret-key"}


def dump_key(day: datetime) -> str:
    return f"{PREFIX}pratiko_mcp_production_{day:%Y%m%d}_0200.dump"


def nightly_dump_times(now: datetime, days: int = DUMP_DAYS) -> list[datetime]:
    """When the last ``days`` nightly dumps finished (02:04 UTC each night), oldest first."""
    last = now.replace(hour=2, minute=4, second=0, microsecond=0)
    if last > now:
        last -= timedelta(days=1)
    return [last - timedelta(days=n) for n in range(days - 1, -1, -1)]


def backdate(bucket_name: str, key: str, when: datetime) -> None:
    """Give an object the LastModified of the night it was dumped. S3 has no API for that,
    so moto's backend is told directly (in moto's process); should moto's internals
    change, the dumps merely look freshly written (still healthy)."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        bucket = s3_backends[DEFAULT_ACCOUNT_ID]["global"].get_bucket(bucket_name)
        bucket.keys[key].last_modified = when.replace(tzinfo=None)
    except Exception:  # noqa: BLE001 - cosmetic: ages of the seeded dumps
        log.debug("could not backdate %s", key, exc_info=True)


@dataclass
class SandboxAws:
    endpoint_url: str
    zone_id: str = ""
    dump_keys: list[str] = field(default_factory=list)
    dump_times: list[datetime] = field(default_factory=list)
    _moto: MotoChild | None = field(default=None, repr=False)
    _good_dump: bytes = field(default=b"", repr=False)
    denied: set[str] = field(default_factory=set)  # "rds:PromoteReadReplica", ...
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)
    _clients_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def deny(self, action: str, denied: bool = True) -> None:
        """Make ``action`` (IAM name) fail with AccessDenied, or allow it again."""
        self._moto.command("deny", action=action, on=denied)
        (self.denied.add if denied else self.denied.discard)(action)

    def endpoint(self, identifier: str, region: str) -> tuple[str, int]:
        """The RDS endpoint address and port of an instance, as AWS reports it."""
        data = self.client("rds", region).describe_db_instances(
            DBInstanceIdentifier=identifier)["DBInstances"][0]["Endpoint"]
        return data["Address"], int(data["Port"])

    def set_db_status(self, identifier: str, status: str) -> None:
        """moto has no API for an instance's status; set it on moto's backend."""
        self._moto.command("db-status", identifier=identifier, status=status)

    def backdate(self, key: str, when: datetime) -> None:
        """The backup bucket's object ``key`` reads as written at ``when``."""
        self._moto.command("backdate", bucket=BUCKET, key=key, when=when.isoformat())

    def client(self, service: str, region: str = REGION):
        """A boto3 client of moto, one per service and region, made once: making one
        costs tens of milliseconds of CPU (the front door asks Route53 on every request),
        and boto3's clients may be shared between threads, unlike its default session."""
        with self._clients_lock:
            found = self._clients.get((service, region))
            if found is None:
                import boto3

                found = self._clients[(service, region)] = boto3.client(
                    service, region_name=region, endpoint_url=self.endpoint_url,
                    aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                )
            return found

    async def set_latest_dump_broken(self, broken: bool) -> None:
        """The backup-failed scenario: tonight's dump is an empty file (the job died before
        writing a byte); reverting puts the real dump back."""
        body = b"" if broken else self._good_dump
        await asyncio.to_thread(self.client("s3").put_object, Bucket=BUCKET,
                                Key=self.dump_keys[-1], Body=body)
        if not broken:
            await asyncio.to_thread(self.backdate, self.dump_keys[-1], self.dump_times[-1])

    def stop(self) -> None:
        if self._moto is not None:
            self._moto.stop()
            self._moto = None


async def start_aws(workdir: Path, early: subprocess.Popen | None = None) -> SandboxAws:
    """Start moto (a child process, on a free 127.0.0.1 port; its own, so the account
    starts empty), or take over ``early``, one started by ``MotoChild.spawn`` already;
    then seed RDS, Route53 and EC2 (the S3 dumps follow with :func:`seed_backups` once
    the database can be dumped)."""
    log_path = workdir / MOTO_LOG
    process = early or MotoChild.spawn(log_path)
    try:
        moto = await asyncio.to_thread(MotoChild.wait_ready, process, log_path)
    except asyncio.CancelledError:  # the thread still waits; the child goes all the same
        await asyncio.to_thread(end_child, process)
        raise
    aws = SandboxAws(endpoint_url=moto.endpoint_url, _moto=moto)
    try:
        await asyncio.gather(*(asyncio.to_thread(seed, aws)
                               for seed in (_seed_rds, _seed_route53, _seed_ec2)))
    except BaseException:
        aws.stop()
        raise
    return aws


async def seed_backups(aws: SandboxAws, dump: bytes) -> None:
    """The backup bucket with a week of dated dumps; ``dump`` is a pg_dump -Fc archive."""
    aws._good_dump = dump
    await asyncio.to_thread(_seed_s3, aws, dump)


def _seed_s3(aws: SandboxAws, dump: bytes) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for when in nightly_dump_times(datetime.now(UTC)):
        key = dump_key(when)
        s3.put_object(Bucket=BUCKET, Key=key, Body=dump,
                      Metadata={"database": "pratiko_mcp_production", "format": "custom"})
        aws.backdate(key, when)
        aws.dump_keys.append(key)
        aws.dump_times.append(when)


def _seed_rds(aws: SandboxAws) -> None:
    rds = aws.client("rds", REGION)
    primary = rds.create_db_instance(
        DBInstanceIdentifier=RDS_PRIMARY, Engine="postgres", EngineVersion="15.5",
        DBInstanceClass="db.r6g.xlarge", AllocatedStorage=500, MultiAZ=True,
        MasterUsername="pratiko", MasterUserPassword="sandbox-only-password",
        DBName="pratiko_mcp_production", BackupRetentionPeriod=7,
        Tags=[{"Key": "Environment", "Value": "production"}],
    )["DBInstance"]
    aws.client("rds", DR_REGION).create_db_instance_read_replica(
        DBInstanceIdentifier=RDS_DR_REPLICA, SourceDBInstanceIdentifier=primary["DBInstanceArn"],
        DBInstanceClass="db.r6g.xlarge",
        Tags=[{"Key": "Environment", "Value": "production-dr"}],
    )


def _seed_route53(aws: SandboxAws) -> None:
    r53 = aws.client("route53")
    zone = r53.create_hosted_zone(Name=f"{ZONE}.", CallerReference="mcp-ops-sandbox",
                                  HostedZoneConfig={"Comment": "PratikoAI public zone"})
    aws.zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    records = {RECORD: "mcp-prod-lb.eu-west-1.elb.amazonaws.com",
               DR_TARGET: "mcp-dr-lb.eu-central-1.elb.amazonaws.com",
               STAGING_TARGET: "mcp-staging-lb.eu-west-1.elb.amazonaws.com"}
    r53.change_resource_record_sets(HostedZoneId=aws.zone_id, ChangeBatch={
        "Comment": "sandbox seed",
        "Changes": [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": target}]}}
            for name, target in records.items()],
    })


def _amazon_linux_image(ec2) -> str:
    """An Amazon Linux 2023 image, asked for by name as one would on AWS: all of Amazon's
    images (over a thousand in moto's eu-west-1) take a second of this process's CPU to
    serialise. Any image of Amazon's when no name matches (another moto version)."""
    images = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}])["Images"]
    images = images or ec2.describe_images(Owners=["amazon"])["Images"]
    return images[0]["ImageId"]


def _seed_ec2(aws: SandboxAws) -> None:
    ec2 = aws.client("ec2", REGION)
    image = _amazon_linux_image(ec2)
    for environment, count in (("production", 3), ("staging", 1)):
        ec2.run_instances(
            ImageId=image, InstanceType="m6i.xlarge", MinCount=count, MaxCount=count,
            TagSpecifications=[{"ResourceType": "instance", "Tags": [
                {"Key": "Environment", "Value": environment},
                {"Key": "Name", "Value": f"eks-{environment}-node"},
                {"Key": f"kubernetes.io/cluster/pratiko-{environment}", "Value": "owned"},
            ]}],
        )


ACCOUNT = "123456789012"  # moto's default account


def _access_denied(cls: type[Exception], action: str, resource: str) -> Exception:
    return cls("AccessDenied", f"User: arn:aws:iam::{ACCOUNT}:user/oncall is not "
                            f"authorized to perform: {action} on resource: {resource} "
                            "with an explicit deny in an identity-based policy")


def _rds_backends():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.rds.models import rds_backends

    return rds_backends[DEFAULT_ACCOUNT_ID]


def backend_db(identifier: str):
    for region in (REGION, DR_REGION):
        found = _rds_backends()[region].databases.get(identifier)
        if found is not None:
            return found
    raise KeyError(identifier)


def install_hooks(aws: SandboxAws, on_promote: Callable[[str], None]) -> None:
    """``on_promote(identifier)`` is called (in a thread of the sandbox's) once moto
    accepted a promotion of the DR replica (:func:`hook_backends`)."""
    aws._moto.on_promote = on_promote


def hook_backends(denied: set[str], on_promote: Callable[[str], None]) -> None:
    """Make moto's RDS promotion and Route53 changes behave as AWS's (module doc), in
    moto's process; ``on_promote(identifier)`` is called (in moto's thread) once a
    promotion is accepted, ``denied`` holds the IAM actions refused."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.rds.exceptions import RDSClientError
    from moto.route53.exceptions import Route53ClientError
    from moto.route53.models import route53_backends

    rds = _rds_backends()[DR_REGION]
    promote_original = rds.promote_read_replica

    def promote(db_kwargs: dict[str, Any]):
        identifier = db_kwargs["db_instance_identifier"]
        db = rds.databases.get(identifier)
        if db is None:
            return promote_original(db_kwargs)  # moto's DBInstanceNotFound
        if "rds:PromoteReadReplica" in denied:
            raise _access_denied(RDSClientError, "rds:PromoteReadReplica", db.db_instance_arn)
        if not db.is_replica:
            raise RDSClientError("InvalidDBInstanceState",
                                 f"DB Instance {identifier} is not a read replica.")
        if db.status != "available":
            raise RDSClientError("InvalidDBInstanceState",
                                 f"DB Instance {identifier} is not in available state "
                                 f"(it is {db.status}).")
        result = promote_original(db_kwargs)
        for backend in _rds_backends().values():
            for other in list(backend.databases.values()):
                for name in (db.db_instance_arn, identifier):
                    if other is not db and name in other.replicas:
                        other.replicas.remove(name)
        db.source_db_instance_identifier = None
        db.status = "modifying"
        on_promote(identifier)
        return result

    rds.promote_read_replica = promote
    r53 = route53_backends[DEFAULT_ACCOUNT_ID]["global"]
    change_original = r53.change_resource_record_sets

    def change(zoneid: str, change_list: list[dict[str, Any]]) -> None:
        if "route53:ChangeResourceRecordSets" in denied:
            raise _access_denied(Route53ClientError, "route53:ChangeResourceRecordSets",
                                 f"arn:aws:route53:::hostedzone/{zoneid}")
        return change_original(zoneid, change_list)

    r53.change_resource_record_sets = change


def velero_bucket_writer(aws: SandboxAws) -> Callable[[str, str, bytes], None]:
    """``put(bucket, key, body)`` into moto, creating a Velero bucket the first time it is
    named: the emulated Velero's storage locations (``kube/controllers/velero_store.py``)."""
    s3 = aws.client("s3")
    made: set[str] = set()

    def put(bucket: str, key: str, body: bytes) -> None:
        if bucket not in made:
            try:
                s3.create_bucket(Bucket=bucket,
                                 CreateBucketConfiguration={"LocationConstraint": REGION})
            except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                pass
            made.add(bucket)
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    return put
