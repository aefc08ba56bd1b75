"""Fixtures shared by the whole suite."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from console.config import Config, load_file
from console.identity import Operator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "config.example.yaml"


def pytest_configure(config):
    """Under pytest-xdist each worker gets its own PostgreSQL and Redis (tests/servers.py),
    started before any test module is imported."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    if worker is not None:
        import servers

        config._mcp_ops_servers = servers.start_for_worker(worker)


def pytest_unconfigure(config):
    own = getattr(config, "_mcp_ops_servers", None)
    if own is not None:
        own.stop()


# ---- the reliability suite's summary line (tests/reliability_tally.py) -----------------
def pytest_sessionfinish(session):
    """A worker sends its tally to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        from reliability_tally import TALLY

        output["reliability"] = TALLY.as_dict()


def pytest_testnodedown(node, error):
    """The controller adds up what each worker tallied."""
    from reliability_tally import TALLY

    TALLY.merge(getattr(node, "workeroutput", {}).get("reliability") or {})


def pytest_terminal_summary(terminalreporter) -> None:
    from reliability_tally import TALLY

    if not TALLY.anything:
        return
    terminalreporter.section("reliability")
    for line in TALLY.lines():
        terminalreporter.write_line(line)


@pytest.fixture
def example_config() -> Config:
    return load_file(EXAMPLE_CONFIG)


@pytest.fixture
def fixed_operator() -> Operator:
    """A stable identity, so screens and snapshots do not depend on the machine."""
    return Operator(user="oncall", host="ops-1", ssh_client="192.0.2.10")


@pytest.fixture
def fixed_clock():
    return lambda: datetime(2026, 11, 29, 3, 0, 0)


@pytest.fixture(autouse=True)
def _isolated_xdg(tmp_path_factory, monkeypatch):
    """Keep every test's config lookup and session logs out of the real home directory."""
    base = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(base / "state"))
    monkeypatch.delenv("MCP_OPS_CONFIG", raising=False)


@pytest.fixture
def log_review_planned(monkeypatch):
    """Every catalogue id is built now; the 'planned' path (listed, refusing with its
    runbook section) is still the catalogue's, for a wizard not built yet. This puts
    log-review back in that state for one test."""
    from actions import catalogue
    from console.execution.model import Risk

    built = catalogue._built
    monkeypatch.setattr(catalogue, "_built",
                        lambda: {k: v for k, v in built().items() if k != "log-review"})
    monkeypatch.setitem(catalogue.PLANNED, "log-review", catalogue.Planned(
        "Daily log review", "Daily Operations › Log Review",
        "Daily: errors, authentication failures and slow queries of the last 24 h.", Risk.READ))
    return "log-review"
