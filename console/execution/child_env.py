"""What a local program started by a step (helm, psql, pg_dump, pg_restore) may see of our
secrets: nothing.

A child inherits the environment, and ``/proc/PID/environ`` shows it for as long as the
child runs; so every variable the configuration names for a secret (``*_env``) and the AWS
secret variables are taken out of it. A program that needs the database password gets a
password file instead (``PGPASSFILE``, mode 0600, removed afterwards): PostgreSQL's own
documentation advises against ``PGPASSWORD`` because other users may see a process's
environment on some systems.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from console.config.secrets import env_var_names

ALWAYS_SECRET = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def child_environment(settings: Any, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) without the secret variables ``settings`` (an environment's
    or the whole config's model) names."""
    out = dict(os.environ if env is None else env)
    for name in {*env_var_names(settings), *ALWAYS_SECRET}:
        out.pop(name, None)
    return out


@contextmanager
def pg_password_file(password: str) -> Iterator[Path]:
    """A libpq password file (``PGPASSFILE``) holding ``password`` for every server, in a
    private directory removed when the block ends."""
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
