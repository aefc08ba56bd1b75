"""A canary in every secret slot, a whole sandbox session, and a look everywhere a secret
could end up: session logs, ``log export``, screen captures, the S3 archive, and the argv
and environment of every process ``mcp-ops`` starts (sampled from /proc while it runs).

The slots: the PostgreSQL and Redis passwords (``password_env``), both AWS keys
(``access_key_id_env``, ``secret_access_key_env``), the Slack and status-page webhook URLs
and the Kubernetes token. Their values come from the config's ``secrets_file`` (as in the
sandbox), not from the environment. Each must really be used, so each is a working
credential on a sandbox of the test's own: Redis gets an ACL user whose password is the
canary, moto takes any AWS key, the webhook receivers take the canary as a query
parameter, and the Kubernetes token is the sandbox's own (random per sandbox).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sandbox_support import REHEARSAL_SPEED, ServeProcess  # noqa: E402
from wizard_support import ROOT  # noqa: E402

pytestmark = [pytest.mark.timeout(900), pytest.mark.slow]
TAG = uuid.uuid4().hex[:10]
CANARIES = {
    "MCP_CANARY_PG_PASSWORD": f"pgpw-CANARY-{TAG}",
    "MCP_CANARY_REDIS_PASSWORD": f"redispw-CANARY-{TAG}",
    "MCP_CANARY_AWS_KEY_ID": f"AKIACANARY{TAG.upper()}",
    "MCP_CANARY_AWS_SECRET": f"awssecret-CANARY-{TAG}",
}
REAL_RUNS = ["morning-health-check", "backup-verification", "security-checks", "log-review",
             "security-incident"]
# answers for the real runs; security-incident blocks a documentation range, so that its
# evidence step (pg_dump with the database password) runs
ANSWERS = {"security-incident": ("--set", "block=198.51.100.0/24", "--set",
                                 "evidence-dir={base}/evidence", "--confirm", "sandbox")}


class ChildWatcher:
    """Samples /proc every few ms for the descendants of one process: each one's argv and
    environment, read while it runs."""

    def __init__(self, root_pid: int):
        self.root = root_pid
        self.seen: dict[int, tuple[bytes, bytes]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _children(self) -> dict[int, int]:
        """Every descendant of the root, with its parent."""
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        found, frontier = set(), {self.root}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
            found |= frontier
        return {pid: parents[pid] for pid in found}

    def _run(self) -> None:
        while not self.stop.is_set():
            for pid, parent in self._children().items():
                if pid in self.seen:
                    continue
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                    environ = Path(f"/proc/{pid}/environ").read_bytes()
                    parent_argv = Path(f"/proc/{parent}/cmdline").read_bytes()
                except OSError:
                    continue
                # empty: a zombie. The parent's own argv: forked, not yet exec'd, so its
                # environment is still the parent's (mcp-ops's own, not what the program
                # it is about to run will get). Both are sampled again on the next pass.
                if argv and argv != parent_argv:
                    self.seen[pid] = (argv, environ)
            time.sleep(0.005)

    def close(self) -> dict[int, tuple[bytes, bytes]]:
        self.stop.set()
        self.thread.join(5)
        return self.seen


@pytest.fixture(scope="module")
def canary_sandbox(tmp_path_factory):
    """A sandbox of this module's own, and a config for it with a canary in every slot."""
    base = tmp_path_factory.mktemp("canary-sandbox")
    serve = ServeProcess.start(base, speed=REHEARSAL_SPEED)
    try:
        info = serve.wait_ready(timeout=240)
        yield serve, info, base
    finally:
        serve.stop()


@pytest.fixture(scope="module")
def canary_config(canary_sandbox):
    serve, info, base = canary_sandbox
    import boto3
    import redis

    config = yaml.safe_load(serve.config.read_text())
    secrets_file = serve.config.parent / config["secrets_file"]
    secrets = dict(line.split("=", 1) for line in secrets_file.read_text().splitlines()
                   if "=" in line and not line.startswith("#"))
    webhooks = {name: f"{url}?canary=hook-CANARY-{TAG}" for name, url in secrets.items()}
    kubeconfig = yaml.safe_load(Path(config["environments"]["sandbox"]["kubernetes"]
                                     ["kubeconfig"]).read_text())
    kube_tokens = {u["user"]["token"] for u in kubeconfig["users"] if u["user"].get("token")}

    # Redis: an ACL user whose password is the canary (the default user stays as it is)
    redis_url = info["redis"]["url"]
    user = f"mcp-canary-{TAG}"
    client = redis.Redis.from_url(redis_url)
    client.execute_command("ACL", "SETUSER", user, "on", f">{CANARIES['MCP_CANARY_REDIS_PASSWORD']}",
                           "~*", "&*", "+@all")
    client.close()
    bucket = f"mcp-ops-archive-{TAG}"
    boto3.client("s3", endpoint_url=info["aws"], region_name="eu-west-1",
                 aws_access_key_id="x", aws_secret_access_key="x").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    for env in config["environments"].values():
        env["postgres"]["password_env"] = "MCP_CANARY_PG_PASSWORD"
        env["redis"]["url"] = env["redis"]["url"].replace("redis://", f"redis://{user}@", 1)
        env["redis"]["password_env"] = "MCP_CANARY_REDIS_PASSWORD"
        env["aws"]["access_key_id_env"] = "MCP_CANARY_AWS_KEY_ID"
        env["aws"]["secret_access_key_env"] = "MCP_CANARY_AWS_SECRET"
    config["session_log"] = {"directory": str(base / "sessions"), "s3_archive_bucket": bucket,
                             "s3_archive_prefix": "canary/"}
    canary_secrets = base / "canary.secrets"
    canary_secrets.write_text("".join(f"{k}={v}\n" for k, v in {**CANARIES, **webhooks}.items()))
    canary_secrets.chmod(0o600)
    config["secrets_file"] = str(canary_secrets)
    path = base / "canary.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    values = {*CANARIES.values(), *kube_tokens, f"hook-CANARY-{TAG}",
              *(url.split("/hooks/")[1].split("/")[0] for url in secrets.values())}
    return path, base, bucket, info, sorted(values)


def child_env(base: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_OPS_", "AWS_"))}
    env.update({"XDG_STATE_HOME": str(base / "state"), "KUBECACHEDIR": str(base / "kc"),
                "PYTHONPATH": str(ROOT)}, **extra)
    return env


def mcp_ops(config: Path, base: Path, *args: str, timeout: float = 600,
            extra_env: dict[str, str] | None = None):
    """Run ``mcp-ops`` with the canary config, watching every process it starts."""
    process = subprocess.Popen([sys.executable, "-m", "console", "--config", str(config), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=child_env(base, **(extra_env or {})), cwd=ROOT,
                               stdin=subprocess.DEVNULL)
    watcher = ChildWatcher(process.pid)
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        children = watcher.close()
    return process.returncode, out, err, children


def leaks_in(place: str, data: str | bytes, canaries: list[str]) -> list[str]:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return [f"{place}: {c[:12]}…" for c in canaries if c in text]


def test_no_canary_leaks_from_a_whole_sandbox_session(canary_config, tally):
    from actions.catalogue import catalogue

    config, base, bucket, info, canaries = canary_config
    built = [w.id for w in catalogue() if w.built]
    leaks: list[str] = []
    processes = 0
    programs: set[str] = set()
    sessions: list[str] = []
    outcomes: dict[str, int] = {}

    runs = [(w, ("--dry-run",)) for w in built] + [(w, ()) for w in REAL_RUNS]

    def run(item):
        wizard, extra = item
        answers = [a.format(base=base) for a in ANSWERS.get(wizard, ())] if not extra else []
        started = time.monotonic()
        done = mcp_ops(config, base, "run", wizard, "--env", "sandbox", *extra, *answers)
        return item, time.monotonic() - started, done

    # dry runs three at a time (each its own process, watched on its own); the real ones
    # one by one, so that a loaded sandbox does not fail them before their programs start
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(run, runs[:len(built)]))
    results += [run(item) for item in runs[len(built):]]
    durations = [seconds for _, seconds, _ in results]
    for (wizard, extra), _, (code, out, err, children) in results:
        label = f"{wizard}{' --dry-run' if extra else ''}"
        outcomes[label] = code
        assert "Traceback" not in err, (label, err)
        leaks += leaks_in(f"{label} stdout", out, canaries)
        leaks += leaks_in(f"{label} stderr", err, canaries)
        processes += len(children)
        for argv, environ in children.values():
            program = argv.split(b"\0")[0].decode(errors="replace")
            programs.add(program.rsplit("/", 1)[-1])
            leaks += leaks_in(f"{label} argv of {program}", argv, canaries)
            leaks += leaks_in(f"{label} environment of {program}", environ, canaries)
        if match := re.search(r"session (\S+)", out):
            sessions.append(match.group(1))

    # the session logs, and what `log show` / `log export` print
    logs = sorted((base / "sessions").glob("*.jsonl"))
    assert len(logs) >= len(runs)
    for log in logs:
        leaks += leaks_in(f"session log {log.name}", log.read_bytes(), canaries)
    for session in sessions:
        for action in ("export", "show"):
            code, out, err, children = mcp_ops(config, base, "log", action, session)
            assert code == 0, (action, session, err)
            leaks += leaks_in(f"log {action} {session}", out + err, canaries)

    # the S3 archive (moto): every archived object
    import boto3

    s3 = boto3.client("s3", endpoint_url=info["aws"], region_name="eu-west-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
    archived = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    for item in archived:
        body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        leaks += leaks_in(f"s3://{bucket}/{item['Key']}", body, canaries)

    # screen captures of the console on the same config
    leaks += asyncio.run(screen_captures(config, canaries))

    tally.inputs(len(runs))
    tally.leaks(leaks)
    real = {w: outcomes[w] for w in REAL_RUNS}
    print(f"\ncanaries: {len(canaries)} values in 7 slots; runs: {len(built)} dry, "
          f"{len(REAL_RUNS)} real (exit {real}); processes sampled: {processes} "
          f"({', '.join(sorted(programs))}); "
          f"session logs: {len(logs)}; archived objects: {len(archived)}; leaks: {len(leaks)}; "
          f"run time per wizard: median {sorted(durations)[len(durations) // 2]:.1f} s, "
          f"slowest {max(durations):.1f} s")
    assert archived, "nothing was archived to S3: the archive was not checked"
    assert processes, "no child process was sampled: argv and environment were not checked"
    assert not leaks, leaks


def test_secrets_in_the_operator_environment_stay_out_of_child_programs(canary_config, tally):
    """The same canaries, this time also in the environment of ``mcp-ops`` itself (as an
    operator exporting them would have them): backup-verification's psql and pg_restore
    must not be handed them."""
    config, base, _, _, canaries = canary_config
    code, out, err, children = mcp_ops(config, base, "run", "backup-verification", "--env",
                                       "sandbox", extra_env=CANARIES)
    assert code == 0, out + err
    assert children, "no child process was sampled"
    leaks = []
    for argv, environ in children.values():
        program = argv.split(b"\0")[0].decode(errors="replace")
        leaks += leaks_in(f"environment of {program}", environ, canaries)
    tally.inputs(1)
    assert not leaks, leaks


async def screen_captures(config: Path, canaries: list[str]) -> list[str]:
    from console.config import load_file
    from console.identity import Operator
    from screens.app import McpOpsApp
    from screens.panels import Panel
    from screens.session_log_view import SessionLogView

    loaded = load_file(config)
    leaks: list[str] = []
    app = McpOpsApp(loaded, "sandbox", operator=Operator("oncall", "ops-1"))
    async with app.run_test(size=(200, 60)) as pilot:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(
                p.snapshot is not None for p in app.query(Panel) if p.COMPONENT):
            await pilot.pause(0.2)
        leaks += leaks_in("screen: dashboard 200x60", app.export_screenshot(), canaries)
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        leaks += leaks_in("screen: dashboard 80x24", app.export_screenshot(), canaries)
        await app.push_screen(SessionLogView(Path(loaded.session_log.directory)))
        await pilot.pause(1.0)
        leaks += leaks_in("screen: session logs", app.export_screenshot(), canaries)
    return leaks
