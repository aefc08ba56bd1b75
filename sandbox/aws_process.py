"""moto in a process of its own: ``python -m sandbox.aws_process``.

moto's server, its backends (importing EC2's and RDS's alone takes about a second of
CPU) and its request handling used to run in the sandbox's own process, where they
competed for one interpreter lock with the Kubernetes emulators and everything else
starting; in a child they run on another core. The sandbox still reaches moto over HTTP
only, except for what AWS has no API for, which travels as one JSON line each way on the
child's stdin and stdout (:class:`MotoChild` is the sandbox's end):

- ``{"op": "deny", "action": "rds:PromoteReadReplica", "on": true}``: an IAM-style
  AccessDenied of one action (``aws.SandboxAws.deny``);
- ``{"op": "db-status", "identifier": ..., "status": ...}``: an RDS instance's status;
- ``{"op": "backdate", "bucket": ..., "key": ..., "when": ISO-8601}``: an S3 object's
  LastModified (the nightly dumps' ages).

Each command is answered ``{"reply": SEQ, "error": null | "..."}`` once it took effect, so
the next request to moto sees it. An accepted promotion of the DR replica is reported as
``{"event": "promoted", "identifier": ...}`` (``aws.install_hooks``). The child exits when
its stdin closes, that is when the sandbox goes, however it goes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from .local_process import LOCALHOST, _die_with_parent

MOTO_LOG = "moto.log"
# the backends the sandbox's seeding asks for first, imported before "ready" is said
WARM_BACKENDS = ("s3", "rds", "route53", "ec2")

_write_lock = threading.Lock()


def _emit(message: dict) -> None:
    with _write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def _apply(command: dict, denied: set[str]) -> None:
    from . import aws

    op = command["op"]
    if op == "deny":
        (denied.add if command["on"] else denied.discard)(command["action"])
    elif op == "db-status":
        aws.backend_db(command["identifier"]).status = command["status"]
    elif op == "backdate":
        aws.backdate(command["bucket"], command["key"], datetime.fromisoformat(command["when"]))
    else:
        raise ValueError(f"unknown command {op!r}")


def main() -> int:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log
    from moto.backends import get_backend
    from moto.server import ThreadedMotoServer

    from . import aws

    server = ThreadedMotoServer(ip_address=LOCALHOST, port=0, verbose=False)
    server.start()
    for name in WARM_BACKENDS:
        get_backend(name)
    denied: set[str] = set()
    aws.hook_backends(denied, lambda identifier: _emit({"event": "promoted",
                                                        "identifier": identifier}))
    host, port = server.get_host_and_port()
    _emit({"event": "ready", "endpoint_url": f"http://{host}:{port}"})
    try:
        for line in sys.stdin:
            command = json.loads(line)
            try:
                _apply(command, denied)
                error = None
            except Exception as exc:  # noqa: BLE001 - reported to the sandbox
                error = f"{type(exc).__name__}: {exc}"
            _emit({"reply": command.get("seq"), "error": error})
    finally:
        server.stop()
    return 0



@dataclass
class EarlyStart:
    """The sandbox's directory and moto's child, made by ``mcp-ops sandbox serve`` before
    it imports the rest of the sandbox (about a second of CPU under which moto boots on
    the other core). ``platform.Sandbox`` takes both over."""

    workdir: Path
    moto: subprocess.Popen

    @classmethod
    def begin(cls) -> EarlyStart:
        from .leftovers import DIR_PREFIXES, mark_owner

        workdir = Path(tempfile.mkdtemp(prefix=DIR_PREFIXES[0]))
        mark_owner(workdir)
        return cls(workdir, MotoChild.spawn(workdir / MOTO_LOG))


class MotoChild:
    """The sandbox's end of the child: its endpoint, its commands, its promotion events."""

    def __init__(self, process: subprocess.Popen, endpoint_url: str) -> None:
        self.process = process
        self.endpoint_url = endpoint_url
        self.on_promote: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._seq = 0
        self._waiters: dict[int, list] = {}  # seq -> [threading.Event, error]
        self._gone = ""
        self._reader = threading.Thread(target=self._read, name="moto-child-reader",
                                        daemon=True)
        self._reader.start()

    @staticmethod
    def spawn(log_path: Path) -> subprocess.Popen:
        """Start the child. Call it in the sandbox's main thread: Linux sends the child its
        parent-death signal when the thread that started it ends, not only the process."""
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)}
        with open(log_path, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "sandbox.aws_process"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=log, env=env, text=True,
                start_new_session=True, preexec_fn=_die_with_parent(signal.SIGTERM))

    @classmethod
    def wait_ready(cls, process: subprocess.Popen, log_path: Path) -> MotoChild:
        """Wait for the child's ready line (blocking: run it in a thread)."""
        try:
            line = process.stdout.readline()
            ready = json.loads(line) if line.strip() else {}
            if ready.get("event") != "ready":
                raise RuntimeError(f"moto did not start (exit status {process.poll()}):\n"
                                   + log_path.read_text(errors="replace")[-2000:])
        except BaseException:
            end_child(process)
            raise
        return cls(process, ready["endpoint_url"])

    def command(self, op: str, timeout: float = 15, **fields) -> None:
        """Send one command and wait until it took effect (see the module doc)."""
        with self._lock:
            if self._gone:
                raise RuntimeError(self._gone)
            self._seq += 1
            waiter = self._waiters[self._seq] = [threading.Event(), None]
            self.process.stdin.write(json.dumps({"op": op, "seq": self._seq, **fields}) + "\n")
            self.process.stdin.flush()
        if not waiter[0].wait(timeout):
            raise TimeoutError(f"moto did not answer {op} within {timeout:g} s")
        if waiter[1]:
            raise RuntimeError(f"moto: {op}: {waiter[1]}")

    def _read(self) -> None:
        for line in self.process.stdout:
            message = json.loads(line)
            if message.get("event") == "promoted":
                if self.on_promote is not None:
                    self.on_promote(message["identifier"])
                continue
            waiter = self._waiters.pop(message.get("reply"), None)
            if waiter is not None:
                waiter[1] = message.get("error")
                waiter[0].set()
        with self._lock:
            self._gone = f"moto exited (status {self.process.poll()})"
            for waiter in self._waiters.values():
                waiter[1] = self._gone
                waiter[0].set()
            self._waiters.clear()

    def stop(self) -> None:
        end_child(self.process)
        self._reader.join(5)


def end_child(process: subprocess.Popen) -> None:
    """Close the child's stdin (it stops its server and exits), kill it if it lingers."""
    with contextlib.suppress(OSError, ValueError):
        process.stdin.close()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


if __name__ == "__main__":
    sys.exit(main())
