"""The database password for a local program (pg_dump) in a password file, never in its
arguments nor its environment.

``/proc/PID/cmdline`` and ``/proc/PID/environ`` show both for as long as the program runs,
and PostgreSQL's own documentation advises against ``PGPASSWORD`` because other users may
see a process's environment on some systems. libpq reads ``PGPASSFILE`` instead: a file of
mode 0600, here in a private directory removed when the program is done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def pg_password_file(password: str) -> Iterator[Path]:
    """A libpq password file holding ``password`` for every server, removed when the
    block ends."""
    directory = Path(tempfile.mkdtemp(prefix="mcp-ops-pgpass-"))  # mode 0700
    try:
        path = directory / "pgpass"
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"*:*:*:*:{escaped}\n")
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
