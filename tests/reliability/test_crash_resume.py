"""``kill -9`` of ``mcp-ops run db-pitr`` on a sandbox, then ``--resume`` (issue 19, part 3).

Each case starts a sandbox of its own (``mcp-ops sandbox serve``), runs the whole recovery
headless as an operator would (``--confirm sandbox``), and kills the console with SIGKILL
the moment its session log shows a chosen record: inside or right after the steps that
change the platform (the recovery pod, the restore, traffic stopped, the database switch).
Then: the killed log verifies, is listed as resumable, ``--resume`` completes, and what must
happen once happened once — read back from the platform with kubectl and SQL (one recovery
pod, the recovered table holds the dump's rows once, the deployment back at 6/6, the
``postgres-credentials-before-pitr`` copy still names the old primary, so the switch did not
run twice) and from the log (a step that ended ok before the kill never started again).

Only the platform-changing steps are killed at (each case costs a sandbox start and a
whole recovery); the read steps between them change nothing a resume could repeat.

``dr-failover`` the same way on an in-process sandbox in ``region-failure``, killed after
the RDS promotion and as DNS moves: the resumed run must not promote again, and the DR
region ends serving (read back with ``mcp-ops sandbox status``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from console.execution.log_store import list_sessions, read_records, verify

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))

from sandbox_support import REHEARSAL_SPEED, ROOT, serving  # noqa: E402
from wizard_support import sandbox_sql  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

OLD_HOST = "postgres-production-primary.mcp-production.svc.cluster.local"
RECOVERY_HOST = "postgres-recovery.mcp-production.svc.cluster.local"


def at(event: str, step_id: str, status: str | None = None):
    def reached(records: list[dict]) -> bool:
        return any(r.get("event") == event and r["data"].get("id") == step_id
                   and (status is None or r["data"].get("status") == status) for r in records)
    reached.__name__ = f"{event} {step_id}" + (f" {status}" if status else "")
    return reached


def said(prefix: str):
    """An output line starting with ``prefix``: the step is doing its work."""
    def reached(records: list[dict]) -> bool:
        return any(r.get("event") == "output" and str(r["data"].get("line", "")).startswith(prefix)
                   for r in records)
    reached.__name__ = f"output {prefix!r}"
    return reached


KILL_POINTS = {
    "recovery-pod-being-created": at("step_start", "recovery-instance"),
    # pg_restore runs in one transaction: a console killed while it streams the dump
    # leaves it to roll back, or (the whole dump already in its stdin) to commit; the
    # resumed restore empties what the interrupted one left and restores again
    "restore-under-way": said("restoring "),
    "restore-done": at("step_end", "restore", "ok"),
    "traffic-stopped": at("step_end", "stop-traffic", "ok"),
    "switch-under-way": at("step_start", "switch-database"),
}


@pytest.fixture
def sandbox(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("crash-sandbox"), timeout=180,
                 speed=REHEARSAL_SPEED) as serve:
        yield serve


def env_for(tmp: Path) -> dict[str, str]:
    return {**os.environ, "XDG_STATE_HOME": str(tmp / "state"),
            "KUBECACHEDIR": str(tmp / "kubecache"), "PYTHONPATH": str(ROOT)}


def argv(sandbox, *args: str) -> list[str]:
    return [sys.executable, "-m", "console.cli", "--config", str(sandbox.config), *args]


def sessions_dir(tmp: Path) -> Path:
    return tmp / "state" / "mcp-ops" / "sessions"


def run_and_kill(sandbox, tmp: Path, reached, timeout: float = 300) -> tuple[Path, list[dict]]:
    """Start the recovery; SIGKILL it once its log satisfies ``reached``."""
    process = subprocess.Popen(argv(sandbox, "run", "db-pitr", "--env", "sandbox",
                                    "--confirm", "sandbox"),
                               cwd=ROOT, env=env_for(tmp), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            logs = sorted(sessions_dir(tmp).glob("*.jsonl")) if sessions_dir(tmp).is_dir() else []
            records = read_records(logs[0]) if logs else []
            if records and reached(records):
                os.kill(process.pid, signal.SIGKILL)
                break
            if process.poll() is not None:
                raise AssertionError(f"the run ended ({process.returncode}) before "
                                     f"{reached.__name__}:\n{process.stdout.read()}")
            assert time.monotonic() < deadline, f"never reached {reached.__name__}"
            time.sleep(0.02)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(30)
        process.stdout.close()
    return logs[0], read_records(logs[0])


def resume(sandbox, tmp: Path, session: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(argv(sandbox, "run", "db-pitr", "--env", "sandbox", "--confirm",
                               "sandbox", "--resume", session, *extra),
                          cwd=ROOT, env=env_for(tmp), capture_output=True, text=True,
                          timeout=400)


def kubectl(sandbox, tmp: Path, *args: str) -> dict:
    import yaml

    kubeconfig = yaml.safe_load(sandbox.config.read_text())["environments"]["sandbox"][
        "kubernetes"]["kubeconfig"]
    out = subprocess.run(["kubectl", "--context", "sandbox", "--request-timeout=20s", *args,
                          "-o", "json"], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "KUBECONFIG": kubeconfig,
                              "KUBECACHEDIR": str(tmp / "kubecache")})
    return json.loads(out.stdout)


def host_of(secret: dict) -> str:
    return base64.b64decode(secret["data"]["host"]).decode()


def ended_ok(records: list[dict]) -> list[str]:
    return [r["data"]["id"] for r in records
            if r.get("event") == "step_end" and r["data"].get("status") == "ok"]


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_then_resume_completes_and_runs_nothing_twice(sandbox, tmp_path, point):
    database = sandbox.info["postgres"]["dsn"].rsplit("/", 1)[1]
    rows = sandbox_sql(sandbox, "SELECT count(*) FROM critical_table")
    started = time.monotonic()

    log, at_kill = run_and_kill(sandbox, tmp_path, KILL_POINTS[point])
    killed_after = time.monotonic() - started
    check = verify(log)
    assert check.ok and not check.ended, check.describe()
    [listed] = list_sessions(sessions_dir(tmp_path))
    assert listed.resumable and listed.status == "interrupted", listed
    done_before = ended_ok(check.records)

    out = resume(sandbox, tmp_path, log.stem)
    retried = False
    if out.returncode != 0 and "clean_leftover=yes" in out.stdout:
        # killed inside the restore: the half-filled recovery database is refused, as it
        # must be, until the operator says to empty it
        retried = True
        out = resume(sandbox, tmp_path, log.stem, "--set", "clean_leftover=yes")
    whole = time.monotonic() - started
    last = at_kill[-1]
    what = last["data"].get("id") or str(last["data"].get("line", ""))[:40]
    print(f"\n{point}: killed after {killed_after:.1f}s at record {last['seq']} "
          f"({last['event']} {what}); steps done "
          f"{done_before}; resumed{' twice (clean_leftover=yes)' if retried else ''}; "
          f"{whole:.1f}s in all")
    assert out.returncode == 0, out.stdout + out.stderr

    final = verify(log)
    assert final.ok and final.ended, final.describe()
    assert final.records[-1]["data"]["status"] == "completed"
    records = final.records
    starts = Counter(r["data"]["id"] for r in records if r["event"] == "step_start")
    oks = Counter(ended_ok(records))
    assert all(n == 1 for n in oks.values()), oks  # every step ended ok once
    for step_id in done_before:  # a step done before the kill never started again
        assert starts[step_id] == 1, (step_id, starts)
    assert sum(r["event"] == "resume" for r in records) == 1 + retried

    # the platform, read back: everything that must happen once happened once
    pods = kubectl(sandbox, tmp_path, "get", "pods", "-n", "mcp-production",
                   "-l", "app=postgresql,role=recovery")["items"]
    assert [p["metadata"]["name"] for p in pods] == ["postgres-recovery"]
    assert sandbox_sql(sandbox, "SELECT count(*) FROM critical_table", f"{database}_recovery") == rows
    deployment = kubectl(sandbox, tmp_path, "get", "deployment/mcp-server-production",
                         "-n", "mcp-production")
    assert deployment["spec"]["replicas"] == 6
    assert deployment["status"].get("readyReplicas") == 6
    secret = kubectl(sandbox, tmp_path, "get", "secret/postgres-credentials", "-n",
                     "mcp-production")
    assert host_of(secret) == RECOVERY_HOST
    before = kubectl(sandbox, tmp_path, "get", "secret/postgres-credentials-before-pitr",
                     "-n", "mcp-production")
    assert host_of(before) == OLD_HOST  # the switch's copy of the old secret, not overwritten


# ---- dr-failover: a sandbox of its own per case (a promotion cannot be undone) --------
DR_KILL_POINTS = {
    "replica-promoted": at("step_end", "promote-replica", "ok"),
    "dns-moving": at("step_start", "move-dns"),
}


async def _mcp_ops(sb, tmp: Path, *args: str) -> tuple[int, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", "--config", str(sb.config_path), *args,
        cwd=ROOT, env=env_for(tmp), stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(child.communicate(), 300)
    return child.returncode or 0, out.decode()


async def _failover_and_kill(sb, tmp: Path, reached) -> tuple[Path, list[dict]]:
    """As :func:`run_and_kill`, on this loop (the in-process sandbox serves from it)."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "console.cli", "--config", str(sb.config_path), "run",
        "dr-failover", "--env", "sandbox-dr", "--confirm", "sandbox-dr",
        cwd=ROOT, env=env_for(tmp), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    try:
        while True:
            logs = sorted(sessions_dir(tmp).glob("*.jsonl")) if sessions_dir(tmp).is_dir() else []
            records = read_records(logs[0]) if logs else []
            if records and reached(records):
                child.send_signal(signal.SIGKILL)
                break
            assert child.returncode is None, f"the run ended before {reached.__name__}"
            assert time.monotonic() < deadline, f"never reached {reached.__name__}"
            await asyncio.sleep(0.02)
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()
    return logs[0], read_records(logs[0])


@pytest.mark.parametrize("point", list(DR_KILL_POINTS))
async def test_dr_failover_killed_then_resumed_promotes_once(tmp_path, point):
    from sandbox import aws as sandbox_aws
    from sandbox.platform import Sandbox

    async with Sandbox(speed=REHEARSAL_SPEED) as sb:
        await sb.switch("region-failure")
        started = time.monotonic()
        log, at_kill = await _failover_and_kill(sb, tmp_path, DR_KILL_POINTS[point])
        check = verify(log)
        assert check.ok and not check.ended, check.describe()
        done_before = ended_ok(check.records)
        code, out = await _mcp_ops(sb, tmp_path, "run", "dr-failover", "--env", "sandbox-dr",
                                   "--confirm", "sandbox-dr", "--resume", log.stem)
        print(f"\n{point}: killed at record {at_kill[-1]['seq']} ({at_kill[-1]['event']} "
              f"{at_kill[-1]['data'].get('id', '')}); steps done {done_before}; "
              f"{time.monotonic() - started:.1f}s in all")
        assert code == 0, out
        final = verify(log)
        assert final.ok and final.ended and final.records[-1]["data"]["status"] == "completed"
        starts = Counter(r["data"]["id"] for r in final.records if r["event"] == "step_start")
        assert all(n == 1 for n in Counter(ended_ok(final.records)).values())
        for step_id in done_before:
            assert starts[step_id] == 1, (step_id, starts)
        assert "promote-replica" in done_before  # both points come after the promotion

        code, text = await _mcp_ops(sb, tmp_path, "sandbox", "status", "--format", "json")
        assert code == 0, text
        st = json.loads(text[text.index("{"):])
        dr = st["regions"]["sandbox-dr"]
        assert dr["deployment"]["ready"] == dr["deployment"]["desired"] == 6, dr
        assert dr["database"]["role"] == "primary" and dr["database"]["accepts_writes"], dr
        assert st["dr_database"]["rds"]["replica_of"] is None
        assert st["dr_database"]["rds"]["status"] == "available"
        assert st["dns"]["target"] == sandbox_aws.DR_TARGET
        assert st["front_door"]["healthy"] and st["front_door"]["region"] == "sandbox-dr", st
