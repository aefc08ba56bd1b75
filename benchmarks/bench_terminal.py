"""The console in a process of its own on a real pseudo-terminal, read as a terminal
would: its output timestamped as it arrives, escape sequences stripped for matching."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=$]*[A-Za-z~]|\x1b[()][A-Z0-9]|\x1b[=>]|\x1b\][^\x07]*\x07")


class Terminal:
    def __init__(self, argv: list[str], *, rows: int = 24, cols: int = 80,
                 env: dict | None = None, cwd: Path = ROOT) -> None:
        self.fd, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary,
                                     env={**os.environ, "TERM": "xterm-256color",
                                          "PYTHONPATH": str(ROOT), **(env or {})},
                                     cwd=cwd, start_new_session=True)
        os.close(secondary)
        self.text = ""  # everything printed, escape sequences stripped
        self._raw = b""

    def _read(self, timeout: float) -> bool:
        if not select.select([self.fd], [], [], max(0.0, timeout))[0]:
            return False
        try:
            data = os.read(self.fd, 65536)
        except OSError:
            return False
        self._raw += data
        # decode only whole characters; keep an unfinished escape sequence for later
        text = self._raw.decode("utf-8", errors="ignore")
        cut = text.rfind("\x1b")
        if cut >= 0 and not ESCAPES.match(text, cut):
            self._raw = text[cut:].encode()
            text = text[:cut]
        else:
            self._raw = b""
        self.text += ESCAPES.sub("", text)
        return True

    def wait_for(self, pattern: re.Pattern, since: int, timeout: float,
                 started: float | None = None) -> float | None:
        """Seconds from ``started`` (default: now) until ``pattern`` appears in what was
        printed after offset ``since``, or None at ``timeout``."""
        started = started or time.monotonic()
        while True:
            if pattern.search(self.text, since):
                return time.monotonic() - started
            left = timeout - (time.monotonic() - started)
            if left <= 0 or self.proc.poll() is not None:
                return None
            self._read(left)

    def drain(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._read(left)

    def press(self, key: bytes) -> tuple[int, float]:
        """Sends ``key``; returns the offset from which its effect is looked for, and when
        it was sent."""
        while self._read(0):  # what was already printed is not the key's doing
            pass
        offset = len(self.text)
        sent = time.monotonic()
        os.write(self.fd, key)
        return offset, sent

    def cpu_seconds(self) -> float:
        """CPU time the console's process has used so far (user + system), which the
        machine's load does not inflate as it does wall time."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        os.close(self.fd)


def console(config: Path, env_name: str, state: Path) -> Terminal:
    return Terminal([sys.executable, "-m", "console", "--config", str(config), "--env", env_name],
                    env={"XDG_STATE_HOME": str(state)})
