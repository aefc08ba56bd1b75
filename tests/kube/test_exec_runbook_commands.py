"""The runbook's own exec and log commands, typed as the guide has them, against the
seeded world with its controllers running (kubectl resolves deployment/... to a pod).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter

import pytest
from kube_support import kubectl

from sandbox.kube.mcp_endpoints import set_check_failure

pytestmark = [pytest.mark.kubectl, pytest.mark.timeout(180), pytest.mark.emulator(speed=20)]

NS = "mcp-production"
RT = "--request-timeout=30s"  # before "--", so the helper does not append it to the command
IPV4 = re.compile(r"([0-9]{1,3}\.){3}[0-9]{1,3}")


async def ready(emulator):
    """Wait until the seeded MCP deployment has Running pods (the controllers start them)."""
    for _ in range(100):
        pods = [p for p in emulator.store.iter("pods", NS)
                if (p["metadata"].get("labels") or {}).get("app") == "mcp-server"
                and p.get("status", {}).get("phase") == "Running"]
        if len(pods) >= 6:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the seeded mcp-server pods never ran")


async def test_health_checks_from_inside_the_pod(emulator):
    await ready(emulator)
    r = await kubectl(emulator, "exec", RT, "-n", NS, "deployment/mcp-server-production", "--",
                      "curl", "-f", "http://localhost:8080/health/database")
    assert json.loads(r.stdout)["status"] == "healthy"
    r = await kubectl(emulator, "exec", RT, "-n", NS, "deployment/mcp-server-production", "--",
                      "curl", "-f", "http://localhost:8080/health/dependencies")
    assert set(json.loads(r.stdout)["dependencies"]) >= {"database", "redis"}
    set_check_failure(emulator.cluster, "redis")
    r = await kubectl(emulator, "exec", RT, "-n", NS, "deployment/mcp-server-production", "--",
                      "curl", "-f", "http://localhost:8080/health/dependencies", check=False)
    assert r.returncode == 22
    r = await kubectl(emulator, "exec", RT, "-n", NS, "deployment/mcp-server-production", "--",
                      "curl", "http://localhost:8080/metrics")
    assert [line for line in r.stdout.splitlines() if "memory" in line and not line.startswith("#")]
    r = await kubectl(emulator, "exec", RT, "-n", NS, "deployment/redis-production-master", "--",
                      "redis-cli", "info", "stats")
    assert re.search(r"^keyspace_hits:\d+", r.stdout, re.M)


async def test_log_review_greps_find_their_lines(emulator):
    await ready(emulator)
    r = await kubectl(emulator, "logs", RT, "-n", NS, "deployment/mcp-server-production",
                      "--since=24h")
    lines = r.stdout.splitlines()
    assert len(lines) > 1000
    assert [line for line in lines if re.search(r"(?i)error", line)]
    assert [line for line in lines if re.search(r"(?i)auth|unauthorized|forbidden", line)]
    assert [line for line in lines if re.search(r"(?i)slow|timeout", line)]
    assert [line for line in lines if re.search(r"(?i)authentication failed|unauthorized", line)]
    ips = Counter(m.group(0) for line in lines for m in [IPV4.search(line)] if m)
    assert len(ips) > 10
    falco = await kubectl(emulator, "logs", RT, "-n", "security", "daemonset/falco", "--since=24h")
    assert [line for line in falco.stdout.splitlines() if re.search(r"(?i)warning|error", line)]


async def test_startup_lines_and_backup_job_log(emulator):
    await ready(emulator)
    r = await kubectl(emulator, "logs", RT, "-n", NS, "deployment/mcp-server-production")
    assert re.search(r"Starting MCP server", r.stdout) and re.search(r"Started MCP server", r.stdout)
    jobs = [p["metadata"]["name"] for p in emulator.store.iter("pods", NS)
            if (p["metadata"].get("labels") or {}).get("app") == "postgres-backup"]
    assert jobs
    r = await kubectl(emulator, "logs", RT, "-n", NS, jobs[0])
    assert [line for line in r.stdout.splitlines() if re.search(r"(?i)success|error", line)]


async def test_previous_log_of_a_pod_the_controllers_oom_killed(emulator):
    from sandbox.kube.controllers import chaos

    await ready(emulator)
    pod = sorted(p["metadata"]["name"] for p in emulator.store.iter("pods", NS)
                 if (p["metadata"].get("labels") or {}).get("app") == "mcp-server")[0]
    before = await kubectl(emulator, "logs", RT, "-n", NS, pod, "--previous", check=False)
    assert before.returncode == 1 and "previous terminated container" in before.stderr
    chaos.oom_kill(emulator.cluster, NS, pod)
    for _ in range(100):
        statuses = emulator.store.get("pods", NS, pod)["status"].get("containerStatuses") or []
        if any(((s.get("lastState") or {}).get("terminated") or {}).get("reason") == "OOMKilled"
               for s in statuses):
            break
        await asyncio.sleep(0.1)
    r = await kubectl(emulator, "logs", RT, "-n", NS, pod, "--previous")
    assert "Starting MCP server" in r.stdout.splitlines()[0]
    assert "of limit 2GiB" in r.stdout.splitlines()[-1]
