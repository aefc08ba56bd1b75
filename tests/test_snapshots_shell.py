"""Snapshot of the console shell at 80x24 (stable: fixed operator and clock)."""

from __future__ import annotations

from pathlib import Path

from console.config import load_file
from console.identity import Operator
from screens.app import McpOpsApp

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.yaml"


def _app() -> McpOpsApp:
    from datetime import datetime

    app = McpOpsApp(load_file(EXAMPLE), "production", operator=Operator("oncall", "ops-1"),
                    clock=lambda: datetime(2026, 11, 29, 3, 0, 0), live=False)
    return app  # the shell's layout only: panels unconnected (live data: test_dashboard_*)


def test_shell_snapshot_80x24(snap_compare):
    assert snap_compare(_app(), terminal_size=(80, 24))
