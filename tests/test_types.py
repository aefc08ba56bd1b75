"""The type checker passes on ``console/`` and ``actions/`` (``[tool.mypy]`` in
pyproject.toml): the step context, the writers and the wizards are checked on every
``./dev test``, not only when someone remembers to run mypy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(600)


def test_mypy_passes_on_console_and_actions():
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success: no issues found" in out.stdout
    checked = int(out.stdout.split(" in ")[1].split()[0])
    assert checked >= 90, out.stdout  # console/ and actions/ were really checked
