"""``mcp-ops run`` / ``wizards`` / ``log`` as an operator uses them: real subprocesses,
the Kubernetes emulator in its own process, real kubectl to check what changed.

helm cannot be installed here (DESIGN.md), so a stand-in program named ``helm`` is put on
PATH: it records the argument list it received, prints its environment's secrets (so the
test can prove they are redacted) and can be told to sleep, which is where ``kill -9``
strikes. It also records its pid, so a test can check it was stopped and end one left
sleeping behind a killed console.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from waiting import process_gone, until_sync
from wizard_support import PYTHON, ROOT, EmulatorProcess, cli_env, write_config

from console.execution.log_store import list_sessions, read_records, verify

pytestmark = pytest.mark.timeout(180)

SECRETS = {
    "WZ_TEST_PG_PASSWORD": "pg-Secret-4471",
    "WZ_TEST_REDIS_PASSWORD": "redis-Secret-9923",
    "WZ_TEST_SLACK": "https://hooks.slack.com/services/T0SECRET/B0SECRET/abcdefSECRET",
    "AWS_SECRET_ACCESS_KEY": "aws-Secret-wJalrXUtnFEMI",
}

HELM_STANDIN = """#!{python}
import json, os, subprocess, sys, time
args = sys.argv[1:]
with open(os.environ["HELM_STANDIN_RECORD"], "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:1] == ["list"]:  # the release as helm list -o json shows it
    print(json.dumps([{{"name": "postgres-production", "namespace": "mcp-production",
                       "revision": "41", "status": "deployed", "chart": "postgresql-ha-14.2.3",
                       "app_version": "16.4.0"}}]))
    sys.exit(0)
with open(os.environ["HELM_STANDIN_PIDS"], "a") as f:
    f.write(f"{{os.getpid()}}\\n")
print("Release \\"postgres-production\\" has been upgraded. Happy Helming!", flush=True)
# a program that learned the secrets elsewhere (a values file, the cluster) and prints them:
# the console gives it none of them in its environment, and masks them in its output
with open(os.environ["HELM_STANDIN_SECRETS"]) as f:
    known = json.load(f)
for name in {names!r}:
    print(f"env {{name}}={{os.environ.get(name, '')}}", flush=True)
    print(f"knows {{name}}={{known[name]}}", flush=True)
print("connecting to postgresql://app:" + known["WZ_TEST_PG_PASSWORD"] + "@db/x", flush=True)
time.sleep(float(os.environ.get("HELM_STANDIN_SLEEP", "0")))
# what bitnami/postgresql-ha does with postgresql.replicaCount=N (any other key is ignored,
# as --reuse-values ignores an unknown key): its StatefulSet runs N PostgreSQL pods
opts = dict(zip(args, args[1:]))
count = [a.split("=", 1)[1] for a in args if a.startswith("postgresql.replicaCount=")]
if count:
    labels = {{"app.kubernetes.io/instance": "postgres-production",
              "app.kubernetes.io/component": "postgresql"}}
    sts = {{"apiVersion": "apps/v1", "kind": "StatefulSet",
           "metadata": {{"name": "postgres-production-postgresql-ha-postgresql",
                        "namespace": opts["--namespace"], "labels": labels}},
           "spec": {{"replicas": int(count[0]), "serviceName": "postgresql-headless",
                    "podManagementPolicy": "Parallel", "selector": {{"matchLabels": labels}},
                    "template": {{"metadata": {{"labels": labels}}, "spec": {{"containers": [
                        {{"name": "postgresql", "image": "bitnami/postgresql-repmgr:16.4.0"}}]}}}}}}}}
    subprocess.run(["kubectl", "--kubeconfig", opts["--kubeconfig"], "--context",
                    opts["--kube-context"], "apply", "-f", "-"], input=json.dumps(sts),
                   text=True, check=True, capture_output=True)
print("REVISION: 42", flush=True)
"""


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    with EmulatorProcess(tmp_path_factory.mktemp("emu"), speed=20) as emu:
        yield emu


@pytest.fixture
def setup(tmp_path, emulator):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helm = bindir / "helm"
    helm.write_text(HELM_STANDIN.format(python=PYTHON, names=sorted(SECRETS)))
    helm.chmod(0o755)
    config = write_config(tmp_path, kubeconfig=str(emulator.kubeconfig), context="sandbox")
    env = cli_env(tmp_path, **SECRETS, PATH=f"{bindir}:{os.environ['PATH']}",
                  HELM_STANDIN_RECORD=str(tmp_path / "helm-argv.jsonl"),
                  HELM_STANDIN_PIDS=str(tmp_path / "helm-pids"),
                  HELM_STANDIN_SECRETS=str(tmp_path / "helm-knows.json"))
    (tmp_path / "helm-knows.json").write_text(json.dumps(SECRETS))
    yield config, env, tmp_path
    end_stand_ins(tmp_path)


def stand_in_pids(tmp_path: Path) -> list[int]:
    path = tmp_path / "helm-pids"
    return [int(word) for word in path.read_text().split()] if path.exists() else []


def end_stand_ins(tmp_path: Path) -> None:
    """SIGKILL any helm stand-in still running, with its process group (the runner starts
    it in a session of its own). Only a pid that is still this test's stand-in is touched."""
    for pid in stand_in_pids(tmp_path):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(tmp_path / "bin" / "helm").encode() in cmdline and not process_gone(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)


def mcp_ops(config: Path, env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "console.cli", "--config", str(config), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)


def kubectl_json(emulator, *args: str) -> dict:
    env = {**os.environ, "KUBECONFIG": str(emulator.kubeconfig),
           "KUBECACHEDIR": str(emulator.directory / "cache")}
    out = subprocess.run(["kubectl", *args, "-o", "json", "--request-timeout=10s"],
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    return json.loads(out.stdout)


def sessions(tmp_path: Path):
    return list_sessions(tmp_path / "sessions")


def events(path: Path, event: str) -> list[dict]:
    return [r for r in read_records(path) if r["event"] == event]


# ---- without a cluster -----------------------------------------------------------------
def test_wizards_lists_the_catalogue(tmp_path):
    out = mcp_ops(write_config(tmp_path), cli_env(tmp_path), "wizards")
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line for line in out.stdout.splitlines()[1:] if line.strip()}
    assert rows["morning-health-check"].rstrip().endswith("read")
    assert "Scaling Operations" in rows["scaling"] and rows["scaling"].rstrip().endswith("change")
    assert rows["dr-failover"].rstrip().endswith("destructive")
    assert not any("planned" in line for line in rows.values())
    assert "22 wizards, 22 built" in out.stdout


def test_invalid_inputs_are_all_listed_and_refused(tmp_path):
    config = write_config(tmp_path)
    out = mcp_ops(config, cli_env(tmp_path), "run", "scaling", "--set", "replicas=500",
                  "--set", "cpu_target=abc", "--set", "nonsense=1", "--confirm", "sandbox")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "3 invalid input(s)" in out.stderr
    for expected in ("replicas: 500 is out of range 1..50", "cpu_target: 'abc' is not a whole",
                     "nonsense: no such input"):
        assert expected in out.stderr
    (summary,) = sessions(tmp_path)
    assert summary.status == "refused"
    assert len(events(summary.path, "input_rejected")) == 2


def test_change_steps_without_confirm_are_listed_and_refused(tmp_path):
    out = mcp_ops(write_config(tmp_path), cli_env(tmp_path), "run", "scaling")
    assert out.returncode == 2
    assert "2 step(s) need confirmation" in out.stderr
    assert "step 2 Auto-scaling (HPA) settings: needs --confirm sandbox" in out.stderr
    assert "step 3 Scale the deployment: needs --confirm sandbox" in out.stderr
    out = mcp_ops(write_config(tmp_path), cli_env(tmp_path), "run", "scaling",
                  "--confirm", "production")
    assert out.returncode == 2 and "does not name this environment" in out.stderr


def test_planned_wizard_refuses_with_its_section(tmp_path, log_review_planned, capsys,
                                                monkeypatch):
    from console.cli import main

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    code = main(["--config", str(write_config(tmp_path)), "run", log_review_planned])
    err = capsys.readouterr().err
    assert code == 2
    assert "planned but not built" in err and "Daily Operations › Log Review" in err


def test_dry_run_prints_each_plan_and_command(tmp_path):
    out = mcp_ops(write_config(tmp_path), cli_env(tmp_path), "run", "scaling", "--dry-run",
                  "--set", "replicas=10", "--set", "hpa_max=20", "--set", "read_replicas=3")
    assert out.returncode == 0, out.stderr
    assert "$ kubectl scale deployment/mcp-server-production --replicas=10 -n mcp-production" \
        in out.stdout
    # postgresql-ha's key (not the runbook's readReplicas.replicaCount), the chart version
    # read at run time (no cluster here), --wait
    assert "$ helm upgrade postgres-production bitnami/postgresql-ha --namespace " \
           "mcp-production --reuse-values --version '<deployed chart version, read with helm " \
           "list>' --set postgresql.replicaCount=3 --wait" in out.stdout
    (summary,) = sessions(tmp_path)
    assert summary.status == "dry-run" and not summary.resumable


# ---- against the emulator --------------------------------------------------------------
def test_read_only_runs_reads_and_refuses_the_first_change(setup, emulator):
    config, env, tmp_path = setup
    before = kubectl_json(emulator, "get", "deployment/mcp-server-production",
                          "-n", "mcp-production")["spec"]["replicas"]
    out = mcp_ops(config, env, "run", "scaling", "--read-only", "--set", f"replicas={before + 3}",
                  "--set", "hpa_max=30")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "[1/5] Current state (read)" in out.stdout and "-> ok" in out.stdout
    assert "refused: read-only mode" in out.stdout
    after = kubectl_json(emulator, "get", "deployment/mcp-server-production", "-n", "mcp-production")
    assert after["spec"]["replicas"] == before
    (summary,) = sessions(tmp_path)
    assert [r["data"]["id"] for r in events(summary.path, "refusal")] == ["hpa-settings"]


def test_full_run_changes_the_cluster_and_never_shows_a_secret(setup, emulator):
    config, env, tmp_path = setup
    out = mcp_ops(config, env, "run", "scaling", "--confirm", "sandbox", "--set", "replicas=9",
                  "--set", "hpa_min=9", "--set", "hpa_max=25", "--set", "cpu_target=55", "--set", "read_replicas=2")
    assert out.returncode == 0, out.stdout + out.stderr
    deployment = kubectl_json(emulator, "get", "deployment/mcp-server-production",
                              "-n", "mcp-production")
    assert deployment["spec"]["replicas"] == 9 and deployment["status"]["readyReplicas"] == 9
    hpa = kubectl_json(emulator, "get", "hpa/mcp-server-hpa", "-n", "mcp-production")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (9, 25)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 55
    calls = [json.loads(line) for line in (tmp_path / "helm-argv.jsonl").read_text().splitlines()]
    assert calls[0][:2] == ["list", "--namespace"]  # the deployed chart version, read first
    (argv,) = [c for c in calls if c[0] == "upgrade"]
    assert argv == ["upgrade", "postgres-production", "bitnami/postgresql-ha", "--namespace",
                    "mcp-production", "--reuse-values", "--version", "14.2.3",
                    "--set", "postgresql.replicaCount=2", "--wait", "--timeout", "300s",
                    "--kube-context", "sandbox", "--kubeconfig", str(emulator.kubeconfig)]
    sts = kubectl_json(emulator, "get", "statefulset/postgres-production-postgresql-ha-postgresql",
                       "-n", "mcp-production")
    assert sts["status"]["readyReplicas"] == 2  # checked by the step, read back here
    assert "statefulset/postgres-production-postgresql-ha-postgresql: 2/2 ready" in out.stdout
    (summary,) = sessions(tmp_path)
    assert verify(summary.path).ok and summary.status == "completed"
    export = mcp_ops(config, env, "log", "export", summary.id)
    show = mcp_ops(config, env, "log", "show", summary.id)
    assert "helm: knows WZ_TEST_PG_PASSWORD=***" in out.stdout  # the line was there, masked
    for name in ("WZ_TEST_PG_PASSWORD", "WZ_TEST_REDIS_PASSWORD", "WZ_TEST_SLACK"):
        assert f"helm: env {name}=\n" in out.stdout + "\n"  # named by the config: not given
    for name, value in SECRETS.items():
        for where, text in (("stdout", out.stdout + out.stderr), ("log", summary.path.read_text()),
                            ("export", export.stdout), ("show", show.stdout)):
            assert value not in text, f"{name} leaked into {where}"
    assert "T0SECRET" not in summary.path.read_text()


def test_kill_9_mid_step_then_resume_finishes_without_repeating(setup, emulator):
    config, env, tmp_path = setup
    args = ["run", "scaling", "--confirm", "sandbox", "--set", "replicas=7", "--set",
            "hpa_min=7", "--set", "hpa_max=20", "--set", "cpu_target=65", "--set", "read_replicas=1"]
    process = subprocess.Popen([PYTHON, "-m", "console.cli", "--config", str(config), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**env, "HELM_STANDIN_SLEEP": "60"}, cwd=ROOT)
    seen = []
    try:
        deadline = time.monotonic() + 90
        for line in process.stdout:
            seen.append(line)
            if "helm: REVISION" in line or "helm: connecting" in line or time.monotonic() > deadline:
                break
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        process.stdout.close()
        # the stand-in outlives a console killed with -9 (as a real helm would), sleeping
        # out its 60 s: end it here rather than leave it to the rest of the session
        end_stand_ins(tmp_path)
    assert any("[4/5] PostgreSQL read replicas" in line for line in seen), "".join(seen)

    (killed,) = sessions(tmp_path)
    check = verify(killed.path)
    assert check.ok and not check.ended, check.describe()
    assert check.records[-1]["event"] == "output"  # it died inside step 4
    assert killed.status == "interrupted" and killed.resumable
    assert killed.completed_steps == (0, 1, 2)
    listing = mcp_ops(config, env, "log", "list")
    assert f"resumable: mcp-ops run scaling --resume {killed.id}" in listing.stdout

    out = mcp_ops(config, env, "run", "scaling", "--resume", killed.id, "--confirm", "sandbox")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "resuming" in out.stdout and "[1/5]" not in out.stdout and "[4/5]" in out.stdout
    final = verify(killed.path)
    assert final.ok and final.ended, final.describe()
    starts = [r["data"]["id"] for r in final.records if r["event"] == "step_start"]
    assert starts == ["current-state", "hpa-settings", "scale-deployment", "read-replicas",
                      "read-replicas", "verify-pods"]
    assert final.records[-1]["data"]["status"] == "completed"
    resume = next(r for r in final.records if r["event"] == "resume")
    assert resume["data"]["completed_steps"] == [0, 1, 2]
    inputs = [r for r in final.records if r["event"] == "inputs"][-1]
    assert inputs["data"]["values"]["replicas"] == "7"  # recorded inputs were reused
    print(f"kill -9 after {len(seen)} lines; resumed and finished: "
          f"{len(final.records)} records, chain intact")


def test_ctrl_c_mid_step_aborts_cleanly_and_stays_resumable(setup, emulator):
    config, env, tmp_path = setup
    process = subprocess.Popen(
        [PYTHON, "-m", "console.cli", "--config", str(config), "run", "scaling", "--confirm",
         "sandbox", "--set", "replicas=6", "--set", "hpa_min=6", "--set", "read_replicas=1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "HELM_STANDIN_SLEEP": "60"}, cwd=ROOT)
    try:
        for line in process.stdout:
            if "helm: connecting" in line:
                break
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        rest = process.stdout.read()
        assert process.wait(40) == 130, rest
        print(f"Ctrl+C to exit: {time.monotonic() - started:.2f} s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        process.stdout.close()
    (helm,) = stand_in_pids(tmp_path)
    # the helm stand-in was stopped by the console, not left to sleep out its 60 s
    until_sync(lambda: process_gone(helm), what=f"helm stand-in {helm} gone")
    assert "can be resumed with --resume" in rest
    (summary,) = sessions(tmp_path)
    records = verify(summary.path).records
    assert [r["data"]["status"] for r in records if r["event"] == "step_end"][-1] == "aborted"
    assert records[-1]["event"] == "session_end" and summary.status == "aborted"
    assert summary.resumable


def test_a_write_the_credentials_may_not_make_fails_the_step(setup, emulator):
    """The console is not in read-only mode, but the kubeconfig's token is a viewer's: the
    API answers 403, and the step must fail there and stop the wizard — never report a
    scale that did not happen."""
    _, env, tmp_path = setup
    config = write_config(tmp_path, kubeconfig=str(emulator.readonly_kubeconfig), context="sandbox")
    before = kubectl_json(emulator, "get", "deployment/mcp-server-production", "-n", "mcp-production")
    hpa_before = kubectl_json(emulator, "get", "hpa/mcp-server-hpa", "-n", "mcp-production")
    out = mcp_ops(config, env, "run", "scaling", "--confirm", "sandbox", "--set", "replicas=11",
                  "--set", "hpa_min=11", "--set", "hpa_max=25", "--set", "cpu_target=60",
                  "--set", "read_replicas=0")
    assert out.returncode == 1, out.stdout + out.stderr
    assert "403" in out.stdout + out.stderr
    after = kubectl_json(emulator, "get", "deployment/mcp-server-production", "-n", "mcp-production")
    assert after["spec"]["replicas"] == before["spec"]["replicas"]
    hpa = kubectl_json(emulator, "get", "hpa/mcp-server-hpa", "-n", "mcp-production")
    assert hpa["spec"] == hpa_before["spec"]  # the HPA step's patch was refused too
    (summary,) = sessions(tmp_path)
    assert summary.status != "completed"


@pytest.mark.slow
def test_two_runs_at_once_one_holds_the_environment_until_killed_then_it_expires(setup,
                                                                                 emulator):
    """Two `mcp-ops run scaling` against one environment: the second is refused naming the
    first's session while the first runs; the first killed with -9 leaves its lease, which
    expires after kubernetes.lease_seconds (5 s here, 30 by default), and a new run
    proceeds."""
    config, env, tmp_path = setup
    config.write_text(config.read_text().replace("request_timeout: 3}",
                                                 "request_timeout: 3, lease_seconds: 5}", 1))
    first = subprocess.Popen(
        [PYTHON, "-m", "console.cli", "--config", str(config), "run", "scaling", "--confirm",
         "sandbox", "--set", "replicas=7", "--set", "hpa_min=7", "--set", "read_replicas=1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**env, "HELM_STANDIN_SLEEP": "120"}, cwd=ROOT)
    try:
        holder = until_sync(lambda: _lease_holder(emulator), timeout=90, what="the lease")
        session = holder["metadata"]["annotations"]["mcp-ops.pratiko.ai/session"]
        assert holder["spec"]["leaseDurationSeconds"] == 5
        second = mcp_ops(config, env, "run", "scaling", "--confirm", "sandbox", "--set",
                         "replicas=8", "--set", "hpa_min=8")
        assert second.returncode == 2, second.stdout + second.stderr
        assert f"(scaling, session {session})" in second.stdout
        assert "--take-over" in second.stdout
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
        first.stdout.close()
        end_stand_ins(tmp_path)
    assert _lease_holder(emulator) is not None  # a killed console does not release it
    time.sleep(6)  # leaseDurationSeconds: 5
    third = mcp_ops(config, env, "run", "scaling", "--confirm", "sandbox", "--set",
                    "replicas=6", "--set", "hpa_min=6")
    assert third.returncode == 0, third.stdout + third.stderr
    assert _lease_holder(emulator) is None  # released at its end


def _lease_holder(emulator) -> dict | None:
    try:
        return kubectl_json(emulator, "get", "lease", "mcp-ops-sandbox", "-n", "mcp-production")
    except subprocess.CalledProcessError:
        return None
