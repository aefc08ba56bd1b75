"""Local servers the sandbox starts: free ports on 127.0.0.1, probes, and child processes
that are always stopped again.

Every sandbox piece listens on 127.0.0.1 only and on a port the kernel hands out, so two
sandboxes (or a sandbox and the test suite) never collide. A child process is started from
an argument list, in its own process group (a Ctrl+C in the terminal reaches the sandbox,
which then stops its children in order, instead of killing them mid-write), and stopping
it escalates from the program's graceful signal to SIGKILL after a deadline, so nothing is
left running whatever state the program is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import pwd
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOCALHOST = "127.0.0.1"
# the pid of the process that asked for a sandbox: the sandbox stops when it is gone
PARENT_ENV = "MCP_OPS_SANDBOX_PARENT_PID"


def free_port(host: str = LOCALHOST) -> int:
    """A port nobody listens on right now (the kernel's choice). There is a short window
    before the caller binds it; callers that start a foreign server retry on a clash."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def parse_host_port(text: str, default_port: int) -> tuple[str, int]:
    """``host:port``, ``host`` or ``:port`` -> (host, port)."""
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    return (host or LOCALHOST), int(port) if port else default_port


async def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts a TCP connection on host:port within ``timeout``."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True


def unprivileged_user() -> str | None:
    """The account to run database servers as when we are root (PostgreSQL refuses to run
    as root); None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pgserver", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged account (postgres, nobody) exists")


def hand_over(path: Path, user: str | None) -> None:
    """Give ``path`` to ``user`` (when running as root), so a server started as that user
    can write there."""
    if user is None:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class ChildProcess:
    """A server program the sandbox started and must stop.

    ``stop_signal`` is the program's graceful shutdown (SIGINT is PostgreSQL's "fast"
    shutdown, SIGTERM Redis's save-less shutdown when configured so)."""

    name: str
    process: asyncio.subprocess.Process
    stop_signal: int = signal.SIGTERM
    log_path: Path | None = None
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    async def stop(self, grace: float = 10.0) -> int | None:
        """Graceful signal, then SIGKILL to the whole process group after ``grace`` s."""
        if self.stopped:
            return self.process.returncode
        self.stopped = True
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(self.stop_signal)
            try:
                await asyncio.wait_for(self.process.wait(), grace)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()
        return self.process.returncode


PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int):
    """A ``preexec_fn`` asking Linux to send ``sig`` to the child when the sandbox process
    dies, however it dies (SIGKILL included), so no server outlives it. Elsewhere: None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:  # runs in the forked child: no locks, no imports
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return preexec


async def start_child(
    name: str,
    argv: Sequence[str],
    *,
    log_path: Path,
    user: str | None = None,
    env: dict[str, str] | None = None,
    stop_signal: int = signal.SIGTERM,
) -> ChildProcess:
    """Start ``argv`` (an argument list, never a shell string) with output to ``log_path``,
    in a new session so terminal signals reach the sandbox first, and bound to die with the
    sandbox process (``_die_with_parent``)."""
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed right after
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
            user=user,
            preexec_fn=_die_with_parent(stop_signal),
        )
    finally:
        log.close()
    return ChildProcess(name, process, stop_signal=stop_signal, log_path=log_path)


async def wait_until(check, *, timeout: float, interval: float = 0.05, what: str = "") -> None:
    """Poll the coroutine function ``check`` until it returns true or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if await check():
            return
        if loop.time() >= deadline:
            raise TimeoutError(f"{what or 'condition'} not reached within {timeout:g} s")
        await asyncio.sleep(interval)
