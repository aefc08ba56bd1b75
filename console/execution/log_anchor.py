"""The session log anchored off the machine while the session runs (issue 19, part 6).

A local hash chain and its ``.head`` can be rewritten whole by anyone who can write the
log directory. With ``session_log.s3_archive_bucket`` set (and ``s3_anchor_at_steps``, on
by default) the log and its head are uploaded at every step boundary — every fsynced
record: ``session_start``, ``inputs``, ``confirmation``, ``step_start``, ``step_end`` —
as a new version of the same object; with Object Lock on the bucket those versions cannot
be changed or deleted until their retention ends. ``mcp-ops log verify --remote``
(:mod:`.log_remote`) then compares the local log with every locked version.

Uploads run in the background on the session's event loop, one at a time: boundaries that
come while one is under way are coalesced into the next upload (the newest file holds
them all). A step never waits for S3, and an S3 that does not answer is a warning, never a
changed outcome: :attr:`LiveAnchor.warning` keeps the last failure.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from .log_archive import ArchiveError, archive_session, destination

CLOSE_TIMEOUT = 30.0  # waiting for the upload under way when the session ends


class LiveAnchor:
    def __init__(self, path: Path, *, config: Any, env_name: str):
        self.path, self.config, self.env_name = path, config, env_name
        self.uploads = 0  # versions uploaded
        self.failures = 0
        self.warning: str | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def wanted(cls, config: Any, session_id: str) -> bool:
        return (destination(config, session_id) is not None
                and bool(config.session_log.s3_anchor_at_steps))

    def mark(self) -> None:
        """A step boundary was written: upload the log soon (called from the log writer)."""
        self._dirty = True
        if self._task is not None and not self._task.done():
            return  # the running upload loop picks this boundary up
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous caller): the next boundary uploads it
        self._task = loop.create_task(self._drain(), name=f"anchor {self.path.stem}")

    async def _drain(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await archive_session(self.path, config=self.config, env_name=self.env_name)
            except ArchiveError as err:
                self.failures += 1
                self.warning = str(err)
            else:
                self.uploads += 1

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Let the upload under way finish (bounded); later boundaries are not uploaded —
        the session's final archive follows."""
        self._dirty = False
        task, self._task = self._task, None
        if task is None or task.done():
            return
        try:
            await asyncio.wait_for(task, timeout)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
