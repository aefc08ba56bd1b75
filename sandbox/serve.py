"""``mcp-ops sandbox serve``: the sandbox without a terminal, until SIGTERM.

Progress goes to stderr as it happens; when everything answers, one JSON line goes to
stdout (``{"event": "ready", "config": ..., "control_url": ..., ...}``) so a script, a
test or the interactive ``mcp-ops sandbox`` knows the sandbox is up and where. SIGTERM,
SIGINT, or the death of the process named by ``MCP_OPS_SANDBOX_PARENT_PID`` stop it; the
last line on stdout is then ``{"event": "stopped"}``. ``--config-out -`` keeps the config
inside the sandbox's own temporary directory (the ready line says where), so that nothing
outlives the sandbox even if whoever started it is killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from pathlib import Path

from .aws_process import EarlyStart, end_child
from .local_process import PARENT_ENV

PARENT_POLL_SECONDS = 0.5


def _say(message: str) -> None:
    print(f"sandbox: {message}", file=sys.stderr, flush=True)


def _emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Stop when the parent process is gone (we are re-parented)."""
    while not stop.is_set():
        if os.getppid() != parent:
            _say(f"parent process {parent} is gone; stopping")
            stop.set()
            return
        await asyncio.sleep(PARENT_POLL_SECONDS)


async def serve(config_out: Path, *, scenario: str = "healthy", extra_pods: int = 0,
                speed: float = 1.0) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, stop.set)
    # moto's child boots on the other core while this process imports the sandbox
    early = EarlyStart.begin()
    try:
        from .platform import Sandbox

        sandbox = Sandbox(scenario=scenario, extra_pods=extra_pods, speed=speed,
                          config_out=None if str(config_out) == "-" else config_out.resolve(),
                          progress=_say, early=early)
    except BaseException:
        end_child(early.moto)
        shutil.rmtree(early.workdir, ignore_errors=True)
        raise
    watcher = None
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit():
        watcher = asyncio.create_task(_watch_parent(int(parent), stop))
    starting = asyncio.create_task(sandbox.start())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopper}, return_when=asyncio.FIRST_COMPLETED)
    status = 0
    if not starting.done():  # asked to stop while starting: start() cleans up on cancel
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        status = 130
    elif starting.exception() is not None:
        error = starting.exception()
        _say(f"could not start: {error}" if str(error).strip()
             else f"could not start: {type(error).__name__} (no message)")
        status = 1
    else:
        _emit(sandbox.describe())
        _say(f"config written to {sandbox.config_path}; stop with SIGTERM or Ctrl+C")
        await stop.wait()
        _say("stopping")
        await sandbox.stop()
    stopper.cancel()
    if watcher is not None:
        watcher.cancel()
    _emit({"event": "stopped", "status": status})
    return status


def run(config_out: str | os.PathLike, *, scenario: str = "healthy", extra_pods: int = 0,
        speed: float = 1.0) -> int:
    return asyncio.run(serve(Path(config_out), scenario=scenario, extra_pods=extra_pods,
                             speed=speed))
