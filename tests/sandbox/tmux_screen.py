"""Driving a program in a real terminal: a private tmux server, keys in, screen out.

The screen is read with ``capture-pane -e`` so colours are kept: :func:`colored_cells`
turns one line with SGR escapes into (character, RGB foreground) pairs, which is how a
test can tell that a panel's border "turned red" the way an operator's eyes would.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SGR = re.compile(r"\x1b\[([0-9;:]*)m")
LEVELS = (0, 95, 135, 175, 215, 255)
BASIC = [(0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128), (128, 0, 128),
         (0, 128, 128), (192, 192, 192), (128, 128, 128), (255, 0, 0), (0, 255, 0),
         (255, 255, 0), (0, 0, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255)]


def palette(n: int) -> tuple[int, int, int]:
    """The xterm 256-colour palette."""
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        return LEVELS[n // 36], LEVELS[n // 6 % 6], LEVELS[n % 6]
    grey = 8 + (n - 232) * 10
    return grey, grey, grey


def colored_cells(line: str) -> list[tuple[str, tuple[int, int, int] | None]]:
    """Each visible character of ``line`` with its foreground colour (None: default)."""
    cells: list[tuple[str, tuple[int, int, int] | None]] = []
    fg: tuple[int, int, int] | None = None
    pos = 0
    for match in SGR.finditer(line):
        cells += [(ch, fg) for ch in line[pos:match.start()]]
        pos = match.end()
        params = [int(p) if p else 0 for p in re.split("[;:]", match.group(1))] or [0]
        i = 0
        while i < len(params):
            p = params[i]
            if p in (0, 39):
                fg = None
            elif 30 <= p <= 37:
                fg = palette(p - 30)
            elif 90 <= p <= 97:
                fg = palette(p - 90 + 8)
            elif p == 38 and i + 2 < len(params) and params[i + 1] == 5:
                fg = palette(params[i + 2])
                i += 2
            elif p == 38 and i + 4 < len(params) and params[i + 1] == 2:
                fg = tuple(params[i + 2:i + 5])  # type: ignore[assignment]
                i += 4
            i += 1
    cells += [(ch, fg) for ch in line[pos:]]
    return cells


def is_red(rgb: tuple[int, int, int] | None) -> bool:
    return rgb is not None and rgb[0] >= 150 and rgb[0] - max(rgb[1], rgb[2]) >= 60


@dataclass
class Tmux:
    """One private tmux server (its own socket) with one session."""

    socket: str
    session: str
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, env=self.env, timeout=20, check=check)

    def start(self, argv: Sequence[str], *, width: int = 80, height: int = 24) -> None:
        """Start ``argv`` (an argument list, no shell) in a width x height pane that stays
        on screen after the program ends, so its exit status can be read."""
        self.run("new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                 "--", "sleep", "3600")
        self.run("set-option", "-t", self.session, "remain-on-exit", "on")
        self.run("respawn-pane", "-k", "-t", self.session, "--", *argv)

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.session, *keys)

    def screen(self, colors: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", self.session] + (["-e"] if colors else [])
        return self.run(*args).stdout

    def pane(self, fmt: str) -> str:
        return self.run("display-message", "-p", "-t", self.session, fmt).stdout.strip()

    def wait_for(self, accept: Callable[[str], bool], timeout: float, what: str,
                 colors: bool = False) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(colors)
            if accept(screen):
                return screen
            if self.pane("#{pane_dead}") == "1":
                break  # the program ended: waiting longer cannot help
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}; screen:\n{self.screen()}")

    def wait_exit(self, timeout: float) -> tuple[str, str]:
        """(exit status, signal) of the pane's program once it has ended; one of the two is
        empty. Read from tmux when it knows, else from the kernel: tmux 3.3 marks a pane
        dead as soon as its pty reads end-of-file, which comes before the exit is reported
        to tmux (SIGCHLD); and on a loaded machine tmux sometimes leaves the ended program
        an unreaped zombie for minutes — dead, with neither status nor signal. A zombie's
        wait status is in ``/proc/PID/stat`` (field 52, Linux >= 3.5), so the program's own
        exit status is known either way."""
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.pane("#{pane_dead}|#{pane_dead_status}|#{pane_dead_signal}|#{pane_pid}")
            dead, status, sig, pid = state.split("|")
            if dead == "1" and (status or sig):
                self.exit_source = "tmux"
                return status, sig
            zombie = zombie_wait_status(int(pid)) if pid.isdigit() else None
            if zombie is not None:
                self.exit_source = "zombie"
                return ((str(os.WEXITSTATUS(zombie)), "") if os.WIFEXITED(zombie)
                        else ("", str(os.WTERMSIG(zombie))))
            time.sleep(0.05)
        raise AssertionError(f"the program did not end within {timeout:g} s (tmux: dead|status|"
                             f"signal|pid = {state}); screen:\n{self.screen()}")

    def kill(self) -> None:
        self.run("kill-server", check=False)


def tmux_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    env.update({"TERM": "xterm-256color", "COLORTERM": "", "LANG": "C.UTF-8"}, **extra)
    return env


def zombie_wait_status(pid: int) -> int | None:
    """The wait status of ``pid`` if it has ended and its parent has not reaped it yet."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the command name: field 3 (state) is fields[0], field 52 (exit_code) fields[49]
    if fields[0] != "Z" or len(fields) < 50:
        return None
    return int(fields[49])
