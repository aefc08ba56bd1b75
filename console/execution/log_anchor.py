"""The session log anchored off the machine while the session runs (issue 19, part 6).

A local hash chain and its ``.head`` can be rewritten whole by anyone who can write the
log directory. With ``session_log.s3_archive_bucket`` set (and ``s3_anchor_at_steps``, on
by default) the log and its head are uploaded at every step boundary — every fsynced
record: ``session_start``, ``inputs``, ``confirmation``, ``step_start``, ``step_end`` —
as a new version of the same object; with Object Lock on the bucket those versions cannot
be changed or deleted until their retention ends. ``mcp-ops log verify --remote``
(:mod:`.log_remote`) then compares the local log with every locked version.

Uploads run in the background on the session's event loop, one at a time, on one S3
client kept for the session: boundaries that come while one is under way are coalesced
into the next upload (the newest file holds them all). Only a change step waits — at most
:data:`FLUSH_TIMEOUT` — for the log up to its plan to be uploaded before it acts
(:meth:`LiveAnchor.flush`). An S3 that does not answer is a warning, never a changed
outcome: :attr:`LiveAnchor.warning` keeps the last failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from .log_archive import ArchiveError, archive_session, destination, s3_client

CLOSE_TIMEOUT = 30.0  # waiting for the upload under way when the session ends
FLUSH_TIMEOUT = 10.0  # the most a change step waits for the log before it to be uploaded


class LiveAnchor:
    def __init__(self, path: Path, *, config: Any, env_name: str):
        self.path, self.config, self.env_name = path, config, env_name
        self.uploads = 0  # versions uploaded
        self.failures = 0
        self.warning: str | None = None
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._s3: Any = None
        self._stack: contextlib.AsyncExitStack | None = None

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

    async def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Upload what is written now and wait for it (bounded): before a change step, so
        the record of everything up to its plan is off the machine before it acts. False
        when it did not land in time (the upload goes on; the step is not held up more)."""
        failures = self.failures
        self.mark()
        task = self._task
        if task is None:
            return False
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            return False
        return self.failures == failures

    async def _drain(self) -> None:
        while self._dirty:
            self._dirty = False
            try:
                await archive_session(self.path, config=self.config, env_name=self.env_name,
                                      client=await self._client())
            except ArchiveError as err:
                self.failures += 1
                self.warning = str(err)
                await self._drop_client()  # a new connection for the next boundary
            else:
                self.uploads += 1

    async def _client(self) -> Any:
        """One S3 client for the session (opening one costs more than an upload)."""
        if self._s3 is None:
            try:
                _, env = self.config.environment(self.env_name)
                stack = contextlib.AsyncExitStack()
                self._s3 = await stack.enter_async_context(s3_client(env.aws))
            except Exception as err:  # noqa: BLE001 - no client: this upload fails
                raise ArchiveError(f"no S3 client: {err}") from None
            self._stack = stack
        return self._s3

    async def _drop_client(self) -> None:
        stack, self._stack, self._s3 = self._stack, None, None
        if stack is not None:
            try:
                await stack.aclose()
            except Exception:  # noqa: BLE001, S110 - closing a broken client: nothing to keep
                pass

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Let the upload under way finish (bounded); later boundaries are not uploaded —
        the session's final archive follows."""
        self._dirty = False
        task, self._task = self._task, None
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                task.cancel()
        await self._drop_client()
