"""The command line: help, config validation, exit codes, and lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.yaml"
SUBCOMMANDS = ["console", "check", "wizards", "run", "log", "config", "sandbox"]


def mcp_ops(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console", *args], capture_output=True,
                          text=True, cwd=kw.pop("cwd", ROOT), timeout=60, **kw)


def test_help_lists_every_subcommand_and_the_lookup_order():
    out = mcp_ops("--help")
    assert out.returncode == 0
    for name in SUBCOMMANDS:
        assert f"    {name}" in out.stdout
    assert "MCP_OPS_CONFIG" in out.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_its_own_help(name):
    out = mcp_ops(name, "--help")
    assert out.returncode == 0, out.stderr
    assert f"usage: mcp-ops {name}" in out.stdout


@pytest.mark.parametrize("argv", [["sandbox", "--speed", "0", "serve"],
                                  ["sandbox", "serve", "--speed", "25"],
                                  ["sandbox", "serve", "--speed", "nan"]])
def test_a_sandbox_speed_out_of_range_is_refused_before_anything_starts(tmp_path, argv):
    config = tmp_path / "sandbox.yaml"
    out = mcp_ops(*argv, "--config-out", str(config))
    assert out.returncode == 2
    assert "--speed must be between 1 and 20" in out.stderr
    assert not config.exists()


def test_config_validate_ok_and_bad(tmp_path):
    ok = mcp_ops("config", "validate", str(EXAMPLE))
    assert ok.returncode == 0 and ok.stdout.startswith("OK")
    bad = tmp_path / "bad.yaml"
    text = EXAMPLE.read_text().replace("  staging:\n    description", "  staging:\n    descripton", 1)
    bad.write_text(text)
    out = mcp_ops("config", "validate", str(bad))
    assert out.returncode == 2
    line = text[: text.index("descripton")].count("\n") + 1
    assert f"line {line}: environments.staging.descripton: unknown key" in out.stderr
    assert "did you mean 'description'" in out.stderr


def test_config_validate_uses_the_lookup_order(tmp_path):
    (tmp_path / "mcp-ops.yaml").write_text(EXAMPLE.read_text())
    out = mcp_ops("config", "validate", cwd=tmp_path,
                  env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "x"),
                       "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert str(tmp_path / "mcp-ops.yaml") in out.stdout


def test_console_with_bad_config_exits_2_before_any_screen(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nenvironments: {}\n")
    out = mcp_ops("--config", str(bad))
    assert out.returncode == 2
    assert "environments" in out.stderr and "line 2" in out.stderr
    out = mcp_ops("--config", str(EXAMPLE), "--env", "nowhere")
    assert out.returncode == 2 and "nowhere" in out.stderr and "production" in out.stderr


def test_every_command_resolves_to_a_function():
    """Each subcommand names a module:function that exists (a typo would crash at run time)."""
    import importlib

    for name, target in cli.COMMANDS.items():
        module_name, func = target.split(":")
        assert callable(getattr(importlib.import_module(module_name), func)), name


def test_help_and_validate_do_not_import_heavy_clients():
    probe = (
        "import sys, contextlib, io\n"
        "from console import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"    cli.main(['config', 'validate', {str(EXAMPLE)!r}])\n"
        "heavy = ('textual', 'kubernetes_asyncio', 'aioboto3', 'botocore', 'asyncpg')\n"
        "print(__import__('json').dumps(sorted({m.split('.')[0] for m in sys.modules} & set(heavy))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
