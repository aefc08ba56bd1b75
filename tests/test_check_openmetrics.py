"""``mcp-ops check --format openmetrics``: parsed by a real OpenMetrics parser, and read by
a real node_exporter's textfile collector (as cron would feed it), with the same verdicts
as the JSON."""
# ruff: noqa: F811 - pytest fixtures imported from another test module are parameters here

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from test_check_command import (  # noqa: F401 - the fixtures are used by name
    dead_kubeconfig,
    dead_port,
    moto,
    run_cli,
    service,
    write_config,
)
from waiting import until_sync

from console.health.openmetrics import to_openmetrics

STATUS = {"HEALTHY": 0, "WARNING": 1, "CRITICAL": 2, "UNREACHABLE": 3}


async def test_openmetrics_has_the_verdicts_the_json_has(tmp_path, service, moto, dead_port):
    cfg = write_config(tmp_path, service.url, moto, dead_kubeconfig(tmp_path, dead_port),
                       dead_port)
    code, text, err = await run_cli("--config", str(cfg), "check", "all", "--format",
                                    "openmetrics")
    assert code == 3, err
    families = {f.name: f for f in text_string_to_metric_families(text)}  # raises if invalid
    assert text.endswith("# EOF\n")
    status = {s.labels["environment"]: s.value for s in families["mcp_ops_check_status"].samples}
    assert set(status) == {"live", "dead"} and status["dead"] == 3
    components = {(s.labels["environment"], s.labels["component"]): s.value
                  for s in families["mcp_ops_check_component_status"].samples}
    assert components[("dead", "database")] == 3 and components[("dead", "service")] == 2
    assert families["mcp_ops_check_duration_seconds"].unit == "seconds"

    code, out, _ = await run_cli("--config", str(cfg), "check", "all", "--format", "json")
    doc = json.loads(out)
    dead = next(e for e in doc["environments"] if e["name"] == "dead")
    assert {("dead", c["name"]): STATUS[c["status"]] for c in dead["components"]} == {
        k: v for k, v in components.items() if k[0] == "dead"}
    live = next(e for e in doc["environments"] if e["name"] == "live")
    db_checks = {c["check"] for c in next(c for c in live["components"]
                                          if c["name"] == "database")["checks"]}
    values = {s.labels["check"] for s in families["mcp_ops_check_value"].samples
              if s.labels["environment"] == "live" and s.labels["component"] == "database"}
    assert "connections" in " ".join(values) and values <= db_checks


def test_label_values_are_escaped_for_any_text():
    from datetime import UTC, datetime

    from console.health.check import EnvironmentReport
    from console.health.evaluate import ComponentHealth, HealthReport
    from console.health.status import Finding, Status

    finding = Finding("service", 'odd "check"\\n\nnext', Status.WARNING, "r", 1.5)
    health = HealthReport((ComponentHealth("service", Status.WARNING, (finding,)),))
    report = EnvironmentReport("prod", "", datetime.now(UTC), 12.0, health, {})
    families = {f.name: f for f in text_string_to_metric_families(to_openmetrics([report]))}
    (sample,) = families["mcp_ops_check_value"].samples
    assert sample.labels["check"] == 'odd "check"\\n\nnext' and sample.value == 1.5


@pytest.mark.skipif(not shutil.which("prometheus-node-exporter"),
                    reason="prometheus-node-exporter is not installed (.ci/run installs it)")
async def test_node_exporter_textfile_collector_reads_it(tmp_path, service, moto, dead_port):
    from health_support import refused_port

    cfg = write_config(tmp_path, service.url, moto, dead_kubeconfig(tmp_path, dead_port),
                       dead_port)
    code, text, err = await run_cli("--config", str(cfg), "check", "all", "--format",
                                    "openmetrics")
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    (textfiles / "mcp_ops.prom").write_text(text)
    with refused_port() as port:
        pass
    exporter = subprocess.Popen(
        ["prometheus-node-exporter", "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={textfiles}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        scraped = until_sync(lambda: _scrape(port), timeout=20)
    finally:
        exporter.terminate()
        exporter.wait(10)
    assert 'node_textfile_scrape_error 0' in scraped, scraped[-2000:]
    assert 'mcp_ops_check_status{environment="dead"} 3' in scraped
    assert 'mcp_ops_check_component_status{component="database",environment="dead"} 3' \
        in scraped


def _scrape(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None
