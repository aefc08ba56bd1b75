"""End to end, as a person would use it: ``mcp-ops sandbox`` in tmux at 80x24.

Live data appears; the sandbox menu (``S``) switches to ``crashloop``; the Pods panel
turns red with the crashing pod named in it; ``q`` quits; and afterwards no process, no
listening port and no temporary directory of the sandbox is left. PostgreSQL and Redis are
pointed at closed ports so the run is the "fresh machine" one and touches nothing shared;
TMPDIR is the test's own, so "no temporary directory left" can be checked exactly.
"""

from __future__ import annotations

import json
import os
import re
import sys

import psutil
import pytest
from sandbox_support import (
    ROOT,
    assert_gone,
    embedded_env,
    footprint,
    wait_for_check,
)
from tmux_screen import Tmux, colored_cells, is_red, tmux_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

DEPLOYMENT_PREFIX = "mcp-server-production-"


def pods_panel(screen: str) -> list[str]:
    """The lines of the Pods panel (right half of the first row of panels)."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if "╭─ Pods" in line)
    column = lines[top].index("╭─ Pods")
    panel = []
    for line in lines[top:]:
        panel.append(line[column:])
        if line[column:].startswith("╰"):
            break
    return panel


def pods_panel_colored(colored_screen: str, plain_screen: str) -> list[list]:
    lines = plain_screen.splitlines()
    top = next(i for i, line in enumerate(lines) if "╭─ Pods" in line)
    column = lines[top].index("╭─ Pods")
    rows = colored_screen.splitlines()[top:top + len(pods_panel(plain_screen))]
    return [colored_cells(row)[column:] for row in rows]


def find_sidecar(tmpdir) -> dict:
    found = list(tmpdir.glob("mcp-ops-sandbox-*/config.yaml.sandbox.json"))
    assert found, f"no sandbox started under {tmpdir}"
    return json.loads(found[0].read_text())


def test_sandbox_console_in_tmux_crashloop_then_quit_leaves_nothing(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = tmux_env({**embedded_env(), "TMPDIR": str(tmpdir),
                    "XDG_STATE_HOME": str(tmp_path / "state"),
                    "XDG_CONFIG_HOME": str(tmp_path / "config")})
    tmux = Tmux(socket=f"mcp-ops-test-{os.getpid()}", session="sandbox", env=env)
    try:
        tmux.start([sys.executable, "-m", "console", "sandbox"])
        # 1. live data: all six pods ready, a request rate measured from real scrapes
        screen = tmux.wait_for(lambda s: "6/6 ready" in s and re.search(r"req/s \d", s) and
                               re.search(r"conn \d+/\d+", s), 150, "live data")
        assert "SANDBOX" in screen.splitlines()[0]
        info = find_sidecar(tmpdir)
        seen = footprint(info["pid"])
        assert seen["listening"]
        plain = tmux.screen()
        border = pods_panel_colored(tmux.screen(colors=True), plain)[0]
        assert not is_red(border[-1][1]), "the Pods panel starts healthy"

        # 2. the sandbox menu switches to crashloop (healthy is highlighted: one down)
        tmux.keys("S")
        tmux.wait_for(lambda s: "Sandbox scenario" in s and "crashloop" in s, 30, "the menu")
        tmux.keys("Down")
        tmux.keys("Enter")
        _, report = wait_for_check(ROOT / info["config"], lambda code, r: any(
            "CrashLoopBackOff" in x for c in r["components"] for x in c["reasons"]), timeout=60)
        reason = next(x for c in report["components"] for x in c["reasons"]
                      if "CrashLoopBackOff" in x)
        pod = re.search(r"pod (\S+) CrashLoopBackOff", reason).group(1)
        short = pod.removeprefix(DEPLOYMENT_PREFIX)

        def pods_red_with_pod(screen: str) -> bool:
            return any(short in line and "CrashLo" in line for line in pods_panel(screen))

        plain = tmux.wait_for(pods_red_with_pod, 60, f"{short} in CrashLoopBackOff on screen")
        colored = pods_panel_colored(tmux.screen(colors=True), plain)
        panel = pods_panel(plain)
        assert is_red(colored[0][-1][1]), "the Pods panel's border turned red"
        row = next(i for i, line in enumerate(panel) if short in line)
        start = panel[row].index("CrashLo")
        assert all(is_red(rgb) for _, rgb in colored[row][start:start + 7]), \
            "the pod's status is written in red"

        # 3. q quits; everything the sandbox started is gone
        tmux.keys("q")
        status, sig = tmux.wait_exit(90)
        print(f"exit status read from {tmux.exit_source}")
        assert (status, sig) == ("0", ""), (
            f"exit status {status!r}, signal {sig!r}",
            tmux.run("capture-pane", "-p", "-S", "-40", "-t", tmux.session).stdout)
        assert_gone(info, seen, ROOT / info["config"])
        assert list(tmpdir.iterdir()) == [], "temporary directories left behind"
        leftovers = [p.pid for p in psutil.process_iter(["cmdline"])
                     if any(str(tmpdir) in part for part in (p.info["cmdline"] or []))]
        assert leftovers == []
    finally:
        tmux.kill()
