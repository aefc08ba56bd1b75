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

from sandbox_support import ROOT, ServeProcess  # noqa: E402

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
    # leaves it to roll back, and the resumed restore finds an empty database
    "restore-under-way": said("restoring "),
    "restore-done": at("step_end", "restore", "ok"),
    "traffic-stopped": at("step_end", "stop-traffic", "ok"),
    "switch-under-way": at("step_start", "switch-database"),
}


@pytest.fixture
def sandbox(tmp_path_factory):
    serve = ServeProcess.start(tmp_path_factory.mktemp("crash-sandbox"))
    try:
        serve.wait_ready(timeout=180)
        yield serve
    finally:
        serve.stop()


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


def sql(sandbox, query: str, database: str | None = None):
    async def one():
        import asyncpg

        dsn = sandbox.info["postgres"]["dsn"]
        if database:
            dsn = dsn.rsplit("/", 1)[0] + "/" + database
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetchval(query)
        finally:
            await conn.close()

    return asyncio.run(one())


def host_of(secret: dict) -> str:
    return base64.b64decode(secret["data"]["host"]).decode()


def ended_ok(records: list[dict]) -> list[str]:
    return [r["data"]["id"] for r in records
            if r.get("event") == "step_end" and r["data"].get("status") == "ok"]


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_kill_9_then_resume_completes_and_runs_nothing_twice(sandbox, tmp_path, point):
    database = sandbox.info["postgres"]["dsn"].rsplit("/", 1)[1]
    rows = sql(sandbox, "SELECT count(*) FROM critical_table")
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
    assert sql(sandbox, "SELECT count(*) FROM critical_table", f"{database}_recovery") == rows
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
