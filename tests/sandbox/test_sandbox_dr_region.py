"""The sandbox's DR region is really separate: its own PostgreSQL streaming from
production's, promoted only through the RDS API (and as strictly as AWS would); a DR
cluster that waits as a DR site; simulators that follow their cluster's credentials
secret; a front door that follows the Route53 record; a region failure that takes
production's database away. Each test runs a sandbox in this process."""

from __future__ import annotations

import asyncio
import base64
import time

import asyncpg
import botocore.exceptions
import httpx
import pytest

from console.config import load_file
from sandbox import aws as sandbox_aws
from sandbox.dr_region import DEPLOYMENT, NAMESPACE, SECRET
from sandbox.platform import Sandbox


def rds(sb: Sandbox, region: str = sandbox_aws.DR_REGION):
    return sb.aws.client("rds", region)


def describe(sb: Sandbox, identifier: str, region: str) -> dict:
    return rds(sb, region).describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]


async def in_recovery(dsn: str) -> bool:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
    finally:
        await conn.close()


async def until(check, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def point_secret(sb: Sandbox, host: str) -> None:
    def edit(secret: dict) -> None:
        secret["data"]["host"] = base64.b64encode(host.encode()).decode()
    sb.clusters.dr.cluster.store.mutate("secrets", NAMESPACE, SECRET, edit)


async def test_the_dr_standby_streams_and_is_promoted_only_through_rds():
    async with Sandbox() as sb:
        standby = sb.dr_db.dsn()
        assert sb.dr_db.port != sb.db.port
        assert await in_recovery(standby)
        conn = await sb.db.connect()
        await conn.execute("CREATE TABLE streamed (note text); INSERT INTO streamed "
                           "VALUES ('from production')")
        await conn.close()

        async def replayed() -> bool:
            conn = await asyncpg.connect(standby, timeout=5)
            try:
                return await conn.fetchval("SELECT to_regclass('streamed') IS NOT NULL")
            finally:
                await conn.close()
        assert await until(replayed), "production's write never reached the standby"
        conn = await asyncpg.connect(standby, timeout=5)
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("INSERT INTO streamed VALUES ('on the replica')")
        await conn.close()

        replica = describe(sb, sandbox_aws.RDS_DR_REPLICA, sandbox_aws.DR_REGION)
        assert replica["ReadReplicaSourceDBInstanceIdentifier"].endswith(sandbox_aws.RDS_PRIMARY)
        # AWS refuses: an IAM deny, and promoting an instance that is no replica
        sb.aws.deny("rds:PromoteReadReplica")
        with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
            rds(sb).promote_read_replica(DBInstanceIdentifier=sandbox_aws.RDS_DR_REPLICA)
        sb.aws.deny("rds:PromoteReadReplica", False)
        assert await in_recovery(standby)

        began = time.monotonic()
        answer = rds(sb).promote_read_replica(DBInstanceIdentifier=sandbox_aws.RDS_DR_REPLICA)
        assert answer["DBInstance"]["DBInstanceStatus"] == "modifying"

        async def available() -> dict | None:
            found = await asyncio.to_thread(describe, sb, sandbox_aws.RDS_DR_REPLICA,
                                            sandbox_aws.DR_REGION)
            return found if found["DBInstanceStatus"] == "available" else None
        promoted = await until(available)
        assert promoted, "the RDS replica never became available"
        print(f"\nRDS promotion to available: {time.monotonic() - began:.2f} s")
        assert "ReadReplicaSourceDBInstanceIdentifier" not in promoted
        primary = describe(sb, sandbox_aws.RDS_PRIMARY, sandbox_aws.REGION)
        assert not primary.get("ReadReplicaDBInstanceIdentifiers")
        assert not await in_recovery(standby)  # available only once the real one is primary
        conn = await asyncpg.connect(standby, timeout=5)
        await conn.execute("INSERT INTO streamed VALUES ('on the promoted database')")
        assert await conn.fetchval("SELECT count(*) FROM streamed") == 2
        await conn.close()
        with pytest.raises(botocore.exceptions.ClientError, match="not a read replica"):
            rds(sb).promote_read_replica(DBInstanceIdentifier=sandbox_aws.RDS_DR_REPLICA)


async def test_simulators_follow_their_secret_and_the_front_door_follows_route53():
    async with Sandbox() as sb:
        config = load_file(sb.config_path)
        dr_env = config.environments["sandbox-dr"]
        assert dr_env.protected and not config.environments["sandbox"].protected
        assert dr_env.postgres.dsn == sb.dr_db.dsn()
        assert dr_env.service.public_url == sb.front_door.url
        store = sb.clusters.dr.cluster.store
        assert store.peek("deployments.apps", NAMESPACE, DEPLOYMENT) is None
        async with httpx.AsyncClient(timeout=10) as http:
            dr = sb.dr_simulator.base_url
            health = await http.get(dr + "/health")
            assert health.status_code == 503 and "no ready" in health.json()["error"]
            answer = (await http.get(dr + "/health/database")).json()
            assert answer["status"] == "healthy"  # the secret names production's primary
            assert answer["database"]["host"].startswith(f"127.0.0.1:{sb.db.port}/")

            replica_host = sb.aws.endpoint(sandbox_aws.RDS_DR_REPLICA, sandbox_aws.DR_REGION)[0]
            point_secret(sb, replica_host)
            answer = await http.get(dr + "/health/database")
            assert answer.status_code == 503
            assert "replica in recovery" in answer.json()["database"]["error"]
            point_secret(sb, "postgres-typo.mcp-production.svc.cluster.local")
            assert (await http.get(dr + "/health/database")).status_code == 503

            door = sb.front_door.url
            first = await http.get(door + "/health")
            assert first.status_code == 200 and first.json()["region"] == "sandbox"
            r53 = sb.aws.client("route53")
            r53.change_resource_record_sets(HostedZoneId=sb.aws.zone_id, ChangeBatch={
                "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": sandbox_aws.RECORD, "Type": "CNAME", "TTL": 60,
                    "ResourceRecords": [{"Value": sandbox_aws.DR_TARGET}]}}]})
            moved = await http.get(door + "/health")
            assert moved.headers["x-route53-target"] == sandbox_aws.DR_TARGET
            assert moved.status_code == 503 and moved.json()["region"] == "sandbox-dr"

            # region failure: production's database accepts a connection, never answers
            await sb.switch("region-failure")
            with pytest.raises((TimeoutError, OSError, asyncpg.PostgresError)):
                await asyncpg.connect(sb.db.dsn(), timeout=2)
            await sb.switch("healthy")
            conn = await asyncpg.connect(sb.db.dsn(), timeout=5)
            assert await conn.fetchval("SELECT count(*) FROM critical_table") > 0
            await conn.close()


async def test_failover_faults_switch_through_the_control_api():
    async with Sandbox() as sb:
        auth = {"Authorization": f"Bearer {sb.control.token}"}
        async with httpx.AsyncClient(base_url=sb.control.url, headers=auth, timeout=10) as c:
            answer = await c.post("/v1/fault", json={"name": "rds-promotion-refused"})
            assert answer.status_code == 200 and answer.json()["faults"] == [
                "rds-promotion-refused"]
            with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
                rds(sb).promote_read_replica(DBInstanceIdentifier=sandbox_aws.RDS_DR_REPLICA)
            await c.post("/v1/fault", json={"name": "route53-change-failing"})
            with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
                sb.aws.client("route53").change_resource_record_sets(
                    HostedZoneId=sb.aws.zone_id, ChangeBatch={"Changes": [{
                        "Action": "UPSERT", "ResourceRecordSet": {
                            "Name": sandbox_aws.RECORD, "Type": "CNAME", "TTL": 60,
                            "ResourceRecords": [{"Value": sandbox_aws.DR_TARGET}]}}]})
            await c.post("/v1/fault", json={"name": "dr-unreachable"})
            dr_api = sb.clusters.dr.url
            async with httpx.AsyncClient(verify=False, timeout=2) as kube:
                with pytest.raises(httpx.TimeoutException):
                    await kube.get(dr_api + "/version")
            for name in ("rds-promotion-refused", "route53-change-failing", "dr-unreachable"):
                answer = await c.post("/v1/fault", json={"name": name, "on": False})
            assert answer.json()["faults"] == []
            async with httpx.AsyncClient(verify=False, timeout=5) as kube:
                assert (await kube.get(dr_api + "/version")).status_code in (200, 401, 403)
            assert (await c.post("/v1/fault", json={"name": "no-such"})).status_code == 400
            assert await in_recovery(sb.dr_db.dsn())  # nothing was promoted
