"""``python -m sandbox.kube``: the seeded emulator in the foreground, with the
kubeconfig it writes driving the real kubectl, ``--pods`` adding pods, and a clean exit
on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.kubectl, pytest.mark.slow, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]


def test_foreground_server_writes_a_kubeconfig_and_stops_on_sigterm(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.kube", "--port", "0", "--kubeconfig-out",
         str(kubeconfig), "--pods", "20", "--token", "operator-token", "--speed", "5"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not kubeconfig.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert kubeconfig.exists(), proc.stderr.read() if proc.poll() is not None else "no kubeconfig"
        config = yaml.safe_load(kubeconfig.read_text())
        assert config["current-context"] == "sandbox"
        assert config["users"][0]["user"]["token"] == "operator-token"
        assert config["clusters"][0]["cluster"]["server"].startswith("https://127.0.0.1:")
        assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
        env = dict(os.environ, KUBECONFIG=str(kubeconfig), KUBECACHEDIR=str(tmp_path / "cache"))
        out = subprocess.run(["kubectl", "get", "pods", "-o", "name", "--request-timeout=10s"],
                             env=env, capture_output=True, text=True, timeout=30, check=True)
        pods = out.stdout.split()
        assert sum("mcp-server-production" in p for p in pods) == 6
        assert len(pods) >= 20 + 6  # the extra pods land in mcp-production too
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0
