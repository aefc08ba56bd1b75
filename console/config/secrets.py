"""Secrets come from environment variables named in the config, never from the file.

The variables may also come from a *secrets file* (``secrets_file`` in the config): lines of
``NAME=value`` as systemd's ``EnvironmentFile`` has them, ``#`` comments and blank lines
allowed. Like ssh with a private key, it is refused when others may read it (mode must not
grant group or other any access); :func:`read_secrets_file` says which line is wrong. A
variable set in the environment wins over the file.

:func:`secret_values` gathers every value that must never be shown or logged, for the
executor's redaction.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import BaseModel

from .model import Config, Environment


def env_var_names(model: BaseModel) -> Iterator[str]:
    """Every environment-variable name a (nested) settings model refers to."""
    for name, value in model:
        if name.endswith("_env") and isinstance(value, str):
            yield value
        elif isinstance(value, BaseModel):
            yield from env_var_names(value)
        elif isinstance(value, dict):
            for item in value.values():
                if isinstance(item, BaseModel):
                    yield from env_var_names(item)


# variables read from secrets files, newest file last; the process environment is not
# touched, so nothing leaks into child processes and a second config loaded in the same
# process (another sandbox) replaces the first one's values
_FROM_FILES: dict[str, str] = {}


def remember_file_secrets(values: Mapping[str, str]) -> None:
    _FROM_FILES.update(values)


def secret(name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the variable ``name`` (None when unset or no name is configured): from
    the environment, else from a secrets file the loaded config named."""
    if not name:
        return None
    if environ is not None:
        return environ.get(name) or None
    return os.environ.get(name) or _FROM_FILES.get(name) or None


def secret_values(config: Config | Environment, environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of every configured secret variable that is set (longest first), plus the
    standard AWS secret variables."""
    names = set(env_var_names(config)) | {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    values = {v for n in names if (v := secret(n, environ)) and len(v) >= 4}
    return sorted(values, key=len, reverse=True)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_secrets_file(path: Path) -> dict[str, str]:
    """The ``NAME=value`` pairs of a secrets file; ValueError names the line that is wrong."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(f"others may read it (mode {stat.S_IMODE(mode):04o}); "
                         f"run: chmod 600 {path}")
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.strip().removeprefix("export ").strip()
        if not sep or not _NAME.match(name):
            raise ValueError(f"line {number}: expected NAME=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        values[name] = value
    return values
