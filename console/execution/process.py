"""Run a local program (helm, pg_dump, pg_restore) and stream its output line by line.

Only argument lists are accepted — a string is refused, and no shell is ever involved — so
an input such as ``x; rm -rf /`` reaches the program as one literal argument. Output is
read in chunks and handed on as lines through a small bounded queue: a program printing
millions of lines, or one endless line, keeps memory flat (over-long lines are cut at
``max_line_bytes``). The program runs in its own process group so that cancelling the
step (abort, Ctrl+C, timeout) stops it and everything it started.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

CHUNK = 64 * 1024
MAX_LINE_BYTES = 64 * 1024
QUEUE_BATCHES = 32  # at most this many chunks' worth of lines wait for the consumer
TRUNCATED = " …[line truncated]"


@dataclass(frozen=True)
class ProcessLine:
    stream: str  # "stdout" | "stderr"
    text: str


@dataclass(frozen=True)
class ProcessResult:
    argv: tuple[str, ...]
    returncode: int | None  # None when it could not be started
    signal: int | None  # the signal that ended it, if any
    duration: float
    error: str | None = None  # e.g. "helm: not found"

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe(self) -> str:
        if self.error:
            return self.error
        if self.signal:
            return f"killed by {signal.Signals(self.signal).name} after {self.duration:.1f}s"
        return f"exit {self.returncode} after {self.duration:.1f}s"


class _LineSplitter:
    """Bytes in, complete lines out; an over-long line is cut and the rest of it dropped."""

    def __init__(self, max_line: int):
        self.max_line = max_line
        self.buffer = bytearray()
        self.dropping = False

    def feed(self, chunk: bytes) -> list[str]:
        lines: list[str] = []
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                self._keep(chunk[start:], lines)
                return lines
            if self.dropping:
                self.dropping = False
            else:
                self.buffer += chunk[start:nl]
                lines.append(self._decode(bytes(self.buffer[: self.max_line])))
            self.buffer.clear()
            start = nl + 1

    def _keep(self, rest: bytes, lines: list[str]) -> None:
        if self.dropping:
            return
        self.buffer += rest
        if len(self.buffer) > self.max_line:
            lines.append(self._decode(bytes(self.buffer[: self.max_line])) + TRUNCATED)
            self.buffer.clear()
            self.dropping = True

    def close(self) -> list[str]:
        if self.buffer and not self.dropping:
            return [self._decode(bytes(self.buffer))]
        return []

    @staticmethod
    def _decode(raw: bytes) -> str:
        return raw.rstrip(b"\r").decode("utf-8", errors="replace")


class Process:
    """One running program. Iterate it for lines; ``result`` is set when iteration ends."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 cwd: str | None = None, max_line_bytes: int = MAX_LINE_BYTES,
                 kill_grace: float = 3.0):
        if isinstance(argv, (str, bytes)) or not all(isinstance(a, str) for a in argv):
            raise TypeError("a command is a list of strings, never a shell string")
        if not argv:
            raise ValueError("empty command")
        self.argv = tuple(argv)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.max_line_bytes = max_line_bytes
        self.kill_grace = kill_grace
        self.result: ProcessResult | None = None
        self.pid: int | None = None

    async def __aiter__(self) -> AsyncIterator[ProcessLine]:
        started = time.monotonic()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=self.env, cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self.result = ProcessResult(self.argv, None, None, 0.0,
                                        f"{self.argv[0]}: {exc.strerror or exc}")
            return
        self.pid = proc.pid
        queue: asyncio.Queue[tuple[str, list[str]] | None] = asyncio.Queue(QUEUE_BATCHES)
        assert proc.stdout is not None and proc.stderr is not None  # both are PIPEs
        readers = [asyncio.create_task(self._pump(proc.stdout, "stdout", queue)),
                   asyncio.create_task(self._pump(proc.stderr, "stderr", queue))]
        sweeper = asyncio.create_task(self._sweep_after_exit(proc))
        finished = 0
        try:
            while finished < len(readers):
                batch = await queue.get()
                if batch is None:
                    finished += 1
                    continue
                stream, lines = batch
                for text in lines:
                    yield ProcessLine(stream, text)
            code: int | None = await proc.wait()
            await sweeper
        except BaseException:
            sweeper.cancel()
            await self._stop(proc)
            for task in readers:
                task.cancel()
            code = proc.returncode
            self.result = self._result(code, started)
            raise
        self.result = self._result(code, started)

    def _result(self, code: int | None, started: float) -> ProcessResult:
        sig = -code if code is not None and code < 0 else None
        return ProcessResult(self.argv, code, sig, time.monotonic() - started)

    async def _pump(self, stream: asyncio.StreamReader, name: str,
                    queue: asyncio.Queue) -> None:
        splitter = _LineSplitter(self.max_line_bytes)
        while chunk := await stream.read(CHUNK):
            lines = splitter.feed(chunk)
            if lines:
                await queue.put((name, lines))
        tail = splitter.close()
        if tail:
            await queue.put((name, tail))
        await queue.put(None)

    async def _sweep_after_exit(self, proc: asyncio.subprocess.Process) -> None:
        """Once the program has exited, stop what it left behind in its group. A leftover
        that inherited stdout/stderr would otherwise keep the pipes open, and the readers
        (so the step) waiting, until the step's timeout; one that did not would outlive
        the step unnoticed. Output already written stays readable after its writer dies.

        The exit is seen by polling ``returncode``: on Python 3.11, ``proc.wait()`` returns
        only once the pipes are closed too, which is exactly what a leftover prevents."""
        pause = 0.01
        while proc.returncode is None:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
        await self._stop(proc)

    async def _stop(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM to the whole process group, SIGKILL after the grace period. Done even
        when the program itself has exited: its group may still have members."""
        for sig, grace in ((signal.SIGTERM, self.kill_grace), (signal.SIGKILL, 5.0)):
            if not _signal_group(proc.pid, sig):
                return  # nobody left
            deadline = time.monotonic() + grace
            try:
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                    if not _group_alive(proc.pid):
                        return
            except asyncio.CancelledError:
                _signal_group(proc.pid, signal.SIGKILL)  # interrupted: no more grace
                raise


def _group_alive(pgid: int) -> bool:
    """Whether a member of the group still runs. A zombie does not count: it holds no
    pipe and cannot be stopped any further, and a grandchild orphaned by the program may
    stay one until init reaps it. Where /proc cannot be read, any member counts."""
    if not _signal_group(pgid, 0):
        return False
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return True
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        # after the command name: state, ppid, pgrp
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the process group (0: only ask whether it has members); False
    when the group is empty. The group is the program's own (``start_new_session``), so
    its id stays reserved while any member lives and cannot name someone else's."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # a member changed its credentials: not ours to stop
        return False
    return True


async def run_collect(argv: Sequence[str], **kw) -> tuple[ProcessResult, list[ProcessLine]]:
    """Run a short program and keep all of its output (for small outputs only)."""
    process = Process(argv, **kw)
    lines = [line async for line in process]
    assert process.result is not None
    return process.result, lines
