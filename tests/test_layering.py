"""DESIGN.md's layering rules: `console`, `actions` and `sandbox` never import Textual or
`screens`; nothing in `console` but the command layer (`cli`, `commands/`) imports
`actions` or `sandbox`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import importlib, json, pkgutil, sys
imported = []
for top in ("console", "actions", "sandbox"):
    package = importlib.import_module(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if info.name.endswith("__main__"):
            continue  # entry points run servers when imported
        importlib.import_module(info.name)
        imported.append(info.name)
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "screens"))
print(json.dumps({"imported": imported, "bad": bad}))
"""

# Imports each module given on the command line in turn and names, for every top-level
# package it watches, the first module whose import brought it into sys.modules.
CORE_PROBE = """
import importlib, json, sys
watched = ("actions", "sandbox")
first = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    for top in watched:
        if top not in first and any(m.split(".")[0] == top for m in sys.modules):
            first[top] = name
print(json.dumps({"imported": len(sys.argv) - 1, "first": first}))
"""


def run_python(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


def core_modules() -> list[str]:
    """Every module of ``console`` outside the command layer (``cli``, ``commands/``) and
    the ``__main__`` entry point, found on disk (walking the package would import
    ``console.commands`` to look inside it)."""
    names = []
    for path in sorted((ROOT / "console").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1:2] in (("commands",), ("cli",), ("__main__",)):
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_console_actions_and_sandbox_import_without_textual():
    out = run_python("-c", PROBE)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    tops = {name.split(".")[0] for name in result["imported"]}
    assert tops == {"console", "actions", "sandbox"}
    assert "sandbox.kube.server" in result["imported"]
    assert result["bad"] == [], f"textual/screens imported: {result['bad']}"


@pytest.mark.parametrize("top", ["sandbox", "actions"])
def test_the_core_outside_the_command_layer_never_loads(top):
    modules = core_modules()
    assert {"console.config", "console.execution.executor", "console.sources.kube"} <= set(modules)
    assert not any(m.startswith(("console.commands", "console.cli")) for m in modules)
    out = run_python("-c", CORE_PROBE, *modules)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["imported"] == len(modules)
    assert top not in result["first"], f"importing {result['first'][top]} loads {top}"


def test_python_m_sandbox_kube_help(tmp_path):
    # from another directory: the installed package, not the checkout on sys.path[0]
    out = run_python("-m", "sandbox.kube", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: python -m sandbox.kube")
    assert "--kubeconfig-out" in out.stdout
    assert not (ROOT / "console" / "sandbox").exists()


def test_import_linter_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is part of the dev extra"
    out = subprocess.run([lint], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
