"""Secrets come from environment variables named in the config, never from the file.

:func:`secret_values` gathers every value that must never be shown or logged, for the
executor's redaction.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

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


def secret(name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of the variable ``name`` (None when unset or no name is configured)."""
    if not name:
        return None
    return (os.environ if environ is None else environ).get(name) or None


def secret_values(config: Config | Environment, environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of every configured secret variable that is set (longest first), plus the
    standard AWS secret variables."""
    names = set(env_var_names(config)) | {"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    values = {v for n in names if (v := secret(n, environ)) and len(v) >= 4}
    return sorted(values, key=len, reverse=True)
