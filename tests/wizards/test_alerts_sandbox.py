"""The alert and troubleshooting wizards rehearsed against the sandbox, as an operator
would: ``mcp-ops sandbox serve`` switched to a scenario, ``mcp-ops run WIZARD --read-only``
names the fault and stops at the remedy (exit 2), ``mcp-ops run WIZARD --confirm sandbox``
applies it, and ``mcp-ops check`` is back to HEALTHY.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import sandbox_cli, sandbox_switch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sandbox"))
from sandbox_support import (  # noqa: E402
    REHEARSAL_SPEED,
    embedded_env,
    reasons,
    serving,
    wait_for_check,
)

from sandbox.scenarios import get as get_scenario  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """A sandbox on its own PostgreSQL (max_connections 60): the exhaustion scenario
    really opens 90 % of it, which a shared server must not suffer."""
    with serving(tmp_path_factory.mktemp("embedded"), timeout=180, env=embedded_env(),
                 speed=REHEARSAL_SPEED) as serve:
        yield serve


def rehearse(sandbox, tmp: Path, scenario: str, wizard: str, named: list[str],
             answers: tuple[str, ...] = (), settle: float = 0,
             config: Path | None = None) -> tuple[str, str]:
    """``config``: the wizards' own (default: the sandbox's)."""
    sandbox_switch(sandbox, scenario)
    try:
        expect = get_scenario(scenario).expect_reason  # its symptom, not a passing rollout
        code, report = wait_for_check(sandbox.config, lambda c, r: c != 0 and any(
            expect in reason for reason in reasons(r)), timeout=90)
        assert code != 0, f"{scenario} did not take hold: {report}"
        time.sleep(settle)
        looked = sandbox_cli(sandbox, tmp, "run", wizard, "--env", "sandbox", "--read-only",
                             *answers, config=config)
        assert looked.returncode == 2, looked.stdout + looked.stderr
        for words in named:
            assert words in looked.stdout, (words, looked.stdout)
        fixed = sandbox_cli(sandbox, tmp, "run", wizard, "--env", "sandbox", "--confirm",
                            "sandbox", *answers, timeout=400, config=config)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        code, report = wait_for_check(sandbox.config, lambda c, r: c == 0, timeout=90)
        assert code == 0, (report, fixed.stdout)
        return looked.stdout, fixed.stdout
    finally:
        sandbox_switch(sandbox, "healthy")


def test_service_down_crashloop_is_restarted_away(sandbox, tmp_path):
    looked, fixed = rehearse(sandbox, tmp_path, "crashloop", "alert-service-down",
                             ["CrashLoopBackOff", "remedy the state points at: restart"])
    assert "restarted (restartedAt" in fixed


def test_service_down_bad_rollout_is_undone(sandbox, tmp_path):
    looked, fixed = rehearse(sandbox, tmp_path, "bad-rollout", "alert-service-down",
                             ["2.5.0-rc1", "the last rollout (revision",
                              "remedy the state points at: undo"])
    assert "rolled back to revision" in fixed


def test_db_connections_blocking_queries_blocker_is_terminated(sandbox, tmp_path):
    looked, fixed = rehearse(sandbox, tmp_path, "blocking-queries", "alert-db-connections",
                             ["CRITICAL    blocking pid", "(nightly-reconcile, idle in "
                              "transaction", "cancel-backend"])
    pid = re.search(r"blocking pid (\d+)", looked).group(1)
    assert re.search(rf"backend {pid} (ended|has ended)", fixed), fixed  # the blocker is gone


def test_high_error_rate_release_is_undone(sandbox, tmp_path):
    looked, fixed = rehearse(sandbox, tmp_path, "high-error-rate", "alert-high-error-rate",
                             ["CRITICAL    error rate (5xx)", "2.4.2",
                              "remedy the state points at: undo", "error lines"])
    assert "rolled back to revision" in fixed


def test_slow_response_release_is_undone(sandbox, tmp_path):
    looked, fixed = rehearse(sandbox, tmp_path, "slow-responses", "alert-slow-response",
                             ["CRITICAL    P95 response time", "2.4.2-n1query",
                              "remedy the state points at: undo"])
    assert "rolled back to revision" in fixed


@pytest.mark.parametrize("wizard", ["alert-high-cpu-memory", "troubleshoot-memory"])
def test_memory_leak_oom_kills_stop_with_the_limit_patch(sandbox, tmp_path, wizard):
    looked, fixed = rehearse(sandbox, tmp_path, "memory-leak", wizard,
                             ["last terminated OOMKilled", "raise-limits"])
    assert "deployment/mcp-server-production patched" in fixed and "memory 6Gi" in fixed


def test_troubleshoot_redis_hot_pattern_is_unlinked(sandbox, tmp_path):
    looked, fixed = rehearse(sandbox, tmp_path, "redis-hot-keys", "troubleshoot-redis",
                             ["pattern mcp:export:*:", "without TTL", "unlink-pattern"])
    assert "keys unlinked" in fixed and "no key matches mcp:export:*" in fixed


@pytest.mark.parametrize("wizard", ["alert-db-connections", "troubleshoot-connection-pool"])
def test_connection_exhaustion_leaked_pool_is_ended(embedded, tmp_path, wizard):
    # a pool's sessions are those idle >= thresholds.idle_session_seconds (30 s by default);
    # at 5 s the leak is recognised without half a minute's wait
    config = yaml.safe_load(embedded.config.read_text())
    config["environments"]["sandbox"].setdefault("thresholds", {})["idle_session_seconds"] = 5
    own = embedded.config.with_name(f"idle-5s-{wizard}.yaml")  # beside the secrets it names
    own.write_text(yaml.safe_dump(config, sort_keys=False))
    looked, fixed = rehearse(embedded, tmp_path, "db-connection-exhaustion", wizard,
                             ["mcp-worker-leaked: ", "sessions idle ≥ 5 s", "terminate-idle"],
                             settle=5, config=own)
    assert "idle sessions of mcp-worker-leaked ended" in fixed
