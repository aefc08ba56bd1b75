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

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from console.config import load_file
from console.sandbox.control import ControlAddress
from console.sandbox.platform import PARENT_ENV
from console.sandbox.sandbox_config import aws_environment

START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


class SandboxChild:
    """The ``mcp-ops sandbox serve`` process behind the console."""

    def __init__(self, base: Path, scenario: str) -> None:
        self.config = base / "sandbox.yaml"
        self.log = base / "sandbox.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "console", "sandbox", "serve",
                 "--config-out", str(self.config), "--scenario", scenario],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                env={**os.environ, PARENT_ENV: str(os.getpid())}, start_new_session=True)

    def wait_ready(self) -> dict:
        """Echo the child's progress until its ready line (or its death) arrives."""
        shown = 0
        deadline = time.monotonic() + START_TIMEOUT
        os.set_blocking(self.process.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline:
            shown = self._echo_progress(shown)
            buffer += self.process.stdout.read() or b""
            *complete, buffer = buffer.split(b"\n")
            for line in complete:
                if line.startswith(b"{") and json.loads(line).get("event") == "ready":
                    self._echo_progress(shown)
                    return json.loads(line)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self._echo_progress(shown)
        raise RuntimeError("the sandbox did not start (see the messages above)")

    def _echo_progress(self, shown: int) -> int:
        text = self.log.read_bytes() if self.log.exists() else b""
        if len(text) > shown:
            sys.stderr.write(text[shown:].decode(errors="replace"))
            sys.stderr.flush()
        return len(text)

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
    base = Path(tempfile.mkdtemp(prefix="mcp-ops-sandbox-console-"))
    child = None
    previous_term = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        print("Starting the sandbox: PostgreSQL, Redis, two Kubernetes emulators, moto and the "
              "MCP-server simulator…", file=sys.stderr, flush=True)
        child = SandboxChild(base, args.scenario)
        try:
            info = child.wait_ready()
        except RuntimeError as err:
            print(f"mcp-ops sandbox: {err}", file=sys.stderr)
            return 1
        config = load_file(child.config)
        os.environ.update(aws_environment())  # moto's placeholder keys, named by the config
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
        shutil.rmtree(base, ignore_errors=True)
        for sig, handler in held.items():
            signal.signal(sig, previous_term if sig == signal.SIGTERM else handler)


def _raise_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)
