"""``mcp-ops sandbox status`` reads the rehearsal's ground truth from the platform itself,
and the sandbox's webhook receivers get what a wizard posts through the config's secret URL.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess

import asyncpg
from sandbox_support import MCP_OPS, ROOT, client_env

from console.config import load_file
from console.config.secrets import secret_values
from console.execution.writers.http import WebhookWriter
from sandbox.control import switch_scenario


def status(config, *extra: str, env: dict[str, str] | None = None):
    return subprocess.run([*MCP_OPS, "sandbox", "status", "--config", str(config), *extra],
                          capture_output=True, text=True, cwd=ROOT, env=client_env(**(env or {})),
                          timeout=60)


def test_status_reports_regions_database_dns_and_what_the_webhooks_got(embedded_sandbox, control):
    switch_scenario(control, "healthy")
    config = load_file(embedded_sandbox.config)  # reads the secrets file it names
    _, env = config.environment("sandbox")
    posted = "Scheduled maintenance in 1 hour (rehearsal)"
    assert asyncio.run(WebhookWriter(env.notifications).post("status_page", posted,
                                                             status="scheduled")) == 200
    url = embedded_sandbox.config.with_name(embedded_sandbox.config.name + ".secrets") \
        .read_text()
    assert any(line.split("=", 1)[1] in secret_values(config) for line in url.splitlines())

    done = status(embedded_sandbox.config, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["sandbox"]["scenario"] == "healthy"
    production = data["regions"]["sandbox"]
    deployment = production["deployment"]
    assert deployment["ready"] == deployment["desired"] >= 6  # the HPA's floor; it may scale
    assert production["deployment"]["image"].startswith("pratiko/mcp-server:")
    db = production["database"]
    assert (db["role"], db["accepts_writes"], db["database"]) == (
        "primary", True, "pratiko_mcp_production")
    assert data["dns"]["record"] == "mcp.pratiko.ai" and data["dns"]["on_dr_target"] is False
    assert data["dns"]["target"].startswith("mcp-prod-lb.")
    notes = [n for n in data["notifications"] if n["text"] == posted]
    assert notes and notes[-1]["channel"] == "status_page" and notes[-1]["status"] == "scheduled"
    assert set(data["regions"]) == {"sandbox", "sandbox-dr"}

    text = status(embedded_sandbox.config)
    assert text.returncode == 0, text.stderr
    assert "sandbox  (context sandbox)" in text.stdout
    assert re.search(r"\b(\d+)/\1 ready", text.stdout) and "primary, accepts writes" in text.stdout
    assert f"status_page [scheduled]: {posted}" in " ".join(text.stdout.split())
    assert max(map(len, text.stdout.splitlines())) <= 80


def test_status_sees_a_database_that_stops_accepting_writes(embedded_sandbox, control):
    """Read from the database itself: made read-only, it is reported so at once."""
    switch_scenario(control, "healthy")
    dsn = embedded_sandbox.info["postgres"]["dsn"]

    async def read_only(on: bool) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("SET default_transaction_read_only = off")
            await conn.execute(f"ALTER DATABASE pratiko_mcp_production SET "
                               f"default_transaction_read_only = {'on' if on else 'off'}")
        finally:
            await conn.close()

    asyncio.run(read_only(True))
    try:
        data = json.loads(status(embedded_sandbox.config, "--format", "json").stdout)
    finally:
        asyncio.run(read_only(False))
    db = data["regions"]["sandbox"]["database"]
    assert db["role"] == "primary" and db["accepts_writes"] is False
    after = json.loads(status(embedded_sandbox.config, "--format", "json").stdout)
    assert after["regions"]["sandbox"]["database"]["accepts_writes"] is True


def test_status_of_a_config_that_is_no_running_sandbox_says_what_to_do(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text((ROOT / "config.example.yaml").read_text())
    done = status(config)
    assert done.returncode == 2
    assert "not the config of a running sandbox" in done.stderr
    assert "mcp-ops sandbox serve" in done.stderr
