"""dr-failover against a whole sandbox (in this process), run as an operator runs it:
``mcp-ops run dr-failover --env sandbox-dr --confirm sandbox-dr`` in a child process, and
checked with ``mcp-ops sandbox status --format json`` — the platform's own state, not the
wizard's word. Each test has a sandbox of its own: a promotion cannot be undone."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import time
from pathlib import Path

import asyncpg
from conftest import drive

from sandbox import aws as sandbox_aws
from sandbox.platform import Sandbox

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))
from sandbox_support import REHEARSAL_SPEED  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MARKER = "written-before-the-failure"


async def mcp_ops(sb: Sandbox, tmp: Path, *args: str, timeout: float = 240) -> tuple[int, str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp / "state"),
           "KUBECACHEDIR": str(tmp / "kubecache")}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", "--config", str(sb.config_path), *args,
        cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(child.communicate(), timeout)
    return child.returncode or 0, out.decode()


async def failover(sb: Sandbox, tmp: Path, *extra: str) -> tuple[int, str]:
    return await mcp_ops(sb, tmp, "run", "dr-failover", "--env", "sandbox-dr",
                         "--confirm", "sandbox-dr", *extra)


async def status(sb: Sandbox, tmp: Path) -> dict:
    code, out = await mcp_ops(sb, tmp, "sandbox", "status", "--format", "json")
    assert code == 0, out
    return json.loads(out[out.index("{"):])


async def write_marker_and_wait_for_replay(sb: Sandbox) -> None:
    """A row committed on production, then seen on the DR standby (streamed for real)."""
    conn = await sb.db.connect()
    try:
        await conn.execute("INSERT INTO critical_table (account_id, kind, amount) "
                           "VALUES (1, $1, 42.00)", MARKER)
    finally:
        await conn.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if await marker_rows(sb.dr_db.dsn()) == 1:
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the DR standby never replayed the row")


async def marker_rows(dsn: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM critical_table WHERE kind = $1",
                                       MARKER))
    finally:
        await conn.close()


def dr_endpoint(sb: Sandbox) -> str:
    return sb.aws.endpoint(sandbox_aws.RDS_DR_REPLICA, sandbox_aws.DR_REGION)[0]


def rds_replica(sb: Sandbox) -> dict:
    return sb.aws.client("rds", sandbox_aws.DR_REGION).describe_db_instances(
        DBInstanceIdentifier=sandbox_aws.RDS_DR_REPLICA)["DBInstances"][0]


def essentials(st: dict) -> dict:
    """What a failover changes, from a status."""
    dr = st["regions"]["sandbox-dr"]
    return {"dr_deployment": dr["deployment"], "dr_secret_host": dr["database"].get("host"),
            "dns": st["dns"].get("target"), "dr_db_role": st["dr_database"]["role"],
            "rds": st["dr_database"]["rds"], "front_door": st["front_door"].get("http_status")}


async def test_failover_from_a_region_failure_leaves_dr_serving_the_old_rows(tmp_path):
    async with Sandbox(speed=REHEARSAL_SPEED) as sb:
        await write_marker_and_wait_for_replay(sb)
        await sb.switch("region-failure")
        began = time.monotonic()
        code, out = await failover(sb, tmp_path)
        took = time.monotonic() - began
        assert code == 0, out
        st = await status(sb, tmp_path)
        dr = st["regions"]["sandbox-dr"]
        assert dr["deployment"]["ready"] == dr["deployment"]["desired"] == 6, dr
        assert dr["database"]["host"] == dr_endpoint(sb)
        assert dr["database"]["address"] == f"127.0.0.1:{sb.dr_db.port}"  # the DR server
        assert dr["database"]["role"] == "primary" and dr["database"]["accepts_writes"], dr
        assert st["dr_database"]["role"] == "primary"
        assert st["dr_database"]["rds"]["replica_of"] is None
        assert st["dr_database"]["rds"]["status"] == "available"
        assert st["dns"]["target"] == sandbox_aws.DR_TARGET and st["dns"]["on_dr_target"]
        assert st["front_door"]["healthy"] and st["front_door"]["region"] == "sandbox-dr", st
        assert st["front_door"]["database_http_status"] == 200
        assert st["front_door"]["database_host"].startswith(f"127.0.0.1:{sb.dr_db.port}/")
        assert "error" in st["regions"]["sandbox"]["deployment"]  # production is still gone
        # the promoted database holds production's rows and takes new ones
        assert await marker_rows(sb.dr_db.dsn()) == 1
        conn = await asyncpg.connect(sb.dr_db.dsn(), timeout=5)
        try:
            await conn.execute("INSERT INTO critical_table (account_id, kind, amount) "
                               "VALUES (1, 'after-failover', 1)")
        finally:
            await conn.close()
        # what the operator saw: go, the typed confirmation, the change batch, the summary
        assert "GO: the DR region can take over" in out
        assert re.search(r"last transaction replayed [\d.]+ s ago", out), out
        assert "data loss to expect: what the primary committed after" in out
        assert "Type 'sandbox-dr' to go on" in out
        assert '"Action": "UPSERT"' in out
        assert "achieved recovery time" in out and "failback, later:" in out
        session = re.search(r"completed: session (\S+)", out).group(1)
        code, verified = await mcp_ops(sb, tmp_path, "log", "verify", session)
        assert code == 0, verified
        log_file = next((tmp_path / "state").rglob(f"{session}*.jsonl"))
        records = [json.loads(line) for line in log_file.read_text().splitlines()]
        ends = [r for r in records if r["event"] == "step_end"]
        assert len(ends) == 7 and all("duration" in json.dumps(r) for r in ends)
        notes = [r for r in records if r["event"] == "note"
                 and r["data"].get("text") == "recovery time"]
        assert notes and 0 < notes[0]["data"]["seconds"] < took
        print(f"\nfailover took {took:.1f} s end to end")


async def test_dry_run_and_faults_leave_the_platform_as_the_summary_says(tmp_path):
    async with Sandbox(speed=REHEARSAL_SPEED) as sb:
        await sb.switch("region-failure")
        before = essentials(await status(sb, tmp_path))
        assert before["dr_db_role"] == "replica" and before["dns"] != sandbox_aws.DR_TARGET

        # --dry-run: plans only, nothing changes
        code, out = await failover(sb, tmp_path, "--dry-run")
        assert code == 0, out
        patch = next(line for line in out.splitlines()
                     if "kubectl patch secret postgres-credentials" in line)
        assert "--context sandbox-dr" in patch and "--type merge" in patch
        assert essentials(await status(sb, tmp_path)) == before

        # the DR cluster does not answer: no-go at the assessment, nothing changed
        fault = sb.clusters.dr.faults.add("/", hang=True, message="DR region unavailable")
        try:
            code, out = await failover(sb, tmp_path)
        finally:
            sb.clusters.dr.faults.remove(fault.id)
        assert code != 0
        assert "NO-GO: DR cluster (context sandbox-dr) unreachable" in out
        assert "Nothing was changed" in out
        assert essentials(await status(sb, tmp_path)) == before

        # RDS refuses the promotion (IAM): the wizard stops there, DNS and secret untouched
        sb.aws.deny("rds:PromoteReadReplica")
        code, out = await failover(sb, tmp_path)
        sb.aws.deny("rds:PromoteReadReplica", False)
        assert code != 0
        assert "RDS refused to promote pratiko-mcp-dr-replica" in out and "AccessDenied" in out
        assert "still a read replica" in out
        after = essentials(await status(sb, tmp_path))
        assert after["rds"]["replica_of"] and after["dr_db_role"] == "replica"
        assert after["dns"] == before["dns"] and after["dr_secret_host"] == before["dr_secret_host"]
        assert after["dr_deployment"]["desired"] == 6  # the restore before it did happen

        # Route53 refuses the change: the database is promoted, DNS unchanged and said so
        sb.aws.deny("route53:ChangeResourceRecordSets")
        code, out = await failover(sb, tmp_path)
        sb.aws.deny("route53:ChangeResourceRecordSets", False)
        assert code != 0
        assert "Route53 refused the change" in out and "DNS is unchanged" in out
        after = essentials(await status(sb, tmp_path))
        assert after["dns"] == before["dns"]
        assert after["dr_db_role"] == "primary" and after["rds"]["replica_of"] is None
        assert after["dr_secret_host"] == dr_endpoint(sb)

        # run again: what is done is recognised, and the failover completes
        code, out = await failover(sb, tmp_path)
        assert code == 0, out
        assert "already a standalone primary: nothing to promote" in out
        final = essentials(await status(sb, tmp_path))
        assert final["dns"] == sandbox_aws.DR_TARGET and final["front_door"] == 200


async def test_run_against_an_environment_that_is_no_dr_site_is_a_no_go(world):
    driven = await drive(world, "dr-failover")
    assert driven.statuses == {"assess": "failed"}, driven.statuses
    assert "sandbox is no environment's disaster recovery" in driven.outcomes["assess"].error
    assert world.secret()["data"]["host"]  # untouched
