"""The built wizards run with no ``--set`` at all against the sandbox (``mcp-ops sandbox
serve``): every input has a default from the config or the live state."""

from __future__ import annotations

import subprocess
import time

import pytest
from wizard_support import PYTHON, ROOT, cli_env

from console.execution.log_store import list_sessions, verify

pytestmark = [pytest.mark.timeout(240), pytest.mark.slow]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sandbox")
    config = tmp / "sandbox.yaml"
    # moto accepts any credentials; the standard chain needs some to sign requests
    env = cli_env(tmp, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    process = subprocess.Popen([PYTHON, "-m", "console.cli", "sandbox", "serve", "--config-out",
                                str(config)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (config.exists() and config.stat().st_size) and time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("the sandbox did not start")
        time.sleep(0.3)
    time.sleep(0.5)
    yield config, env, tmp
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.parametrize("wizard, arguments", [
    ("morning-health-check", []),
    ("scaling", ["--confirm", "sandbox"]),
])
def test_wizard_runs_without_answers_in_the_sandbox(sandbox, wizard, arguments):
    config, env, tmp = sandbox
    out = subprocess.run([PYTHON, "-m", "console.cli", "--config", str(config), "run", wizard,
                          *arguments], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "completed: session" in out.stdout
    session = next(s for s in list_sessions(tmp / "state" / "mcp-ops" / "sessions")
                   if s.wizard == wizard)
    assert session.status == "completed" and verify(session.path).ok
