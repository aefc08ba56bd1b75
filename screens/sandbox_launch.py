"""``mcp-ops sandbox [--scenario NAME]``: start the sandbox, open the console on it, and
take everything down again when the console closes.

The sandbox runs as a child process (``mcp-ops sandbox serve``): its servers and
synthetic traffic then never compete with the console's event loop for a keypress, and
whatever happens to the console — ``q``, Ctrl+C, a lost SSH connection (SIGHUP), SIGTERM,
even a crash — the child is stopped, and it also stops by itself if this process dies
without a word. Its config and log live in a temporary directory removed at exit.

The console is the ordinary one, opened on the ``sandbox`` environment, plus ``S`` for
the sandbox menu (switch scenario) and Ctrl+C as a plain quit.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading

from console.config import load_file
from sandbox.control import ControlAddress
from sandbox.platform import PARENT_ENV

START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


class SandboxChild:
    """The ``mcp-ops sandbox serve`` process behind the console. Its config stays inside
    its own temporary directory (``--config-out -``), so there is nothing of ours to clean
    up if this process is killed: the child notices and removes everything itself."""

    def __init__(self, scenario: str, speed: float = 1.0) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "console", "sandbox", "serve", "--config-out", "-",
             "--scenario", scenario, "--speed", repr(speed)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env={**os.environ, PARENT_ENV: str(os.getpid())}, start_new_session=True)
        self.events: queue.Queue[dict | None] = queue.Queue()
        self.echo = True  # progress to the terminal until the console takes the screen
        self.log: collections.deque[str] = collections.deque(maxlen=200)
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_progress, daemon=True).start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            if line.startswith(b"{"):
                self.events.put(json.loads(line))
        self.events.put(None)

    def _read_progress(self) -> None:
        for raw in self.process.stderr:  # always drained, so the child never blocks on it
            line = raw.decode(errors="replace")
            self.log.append(line)
            if self.echo:
                sys.stderr.write(line)
                sys.stderr.flush()

    def wait_ready(self) -> dict:
        try:
            event = self.events.get(timeout=START_TIMEOUT)
        except queue.Empty:
            event = None
        if not event or event.get("event") != "ready":
            raise RuntimeError("the sandbox did not start (see the messages above)")
        self.echo = False
        return event

    def stop(self) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode


def main(args) -> int:
    child = None
    previous_term = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        print("Starting the sandbox: PostgreSQL, Redis, two Kubernetes emulators, moto and the "
              "MCP-server simulator…", file=sys.stderr, flush=True)
        child = SandboxChild(args.scenario, getattr(args, "speed", 1.0))
        try:
            info = child.wait_ready()
        except RuntimeError as err:
            print(f"mcp-ops sandbox: {err}", file=sys.stderr)
            return 1
        config = load_file(info["config"])
        from .sandbox_app import SandboxConsoleApp  # Textual only now

        app = SandboxConsoleApp(config, "sandbox",
                                control=ControlAddress(info["control_url"], info["control_token"]),
                                read_only=bool(getattr(args, "read_only", False)))
        signal.signal(signal.SIGTERM, previous_term)  # the app handles it while it runs
        app.run()
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        # the clean-up is bounded (STOP_TIMEOUT, then SIGKILL): let nothing interrupt it
        held = {sig: signal.signal(sig, signal.SIG_IGN)
                for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        if child is not None:
            print("Stopping the sandbox…", file=sys.stderr, flush=True)
            child.stop()
        for sig, handler in held.items():
            signal.signal(sig, previous_term if sig == signal.SIGTERM else handler)


def _raise_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)
