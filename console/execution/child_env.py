"""What a local program started by a step (helm, psql, pg_dump, pg_restore) may see of our
secrets: none of the variables the configuration names for a secret.

A child inherits the environment, and ``/proc/PID/environ`` shows it to anyone who may
read it for as long as the child runs. So every variable the configuration names for a
secret (each ``*_env`` key: the database and Redis passwords, the AWS keys it was told to
read, webhook URLs, a kube token) is taken out of a child's environment; the rest (PATH,
HOME, KUBECONFIG, the standard AWS variables a real helm's S3 plugin would use when the
config does not name them) is left as it is. A program that needs the database password
gets a password file (:mod:`.pgpass`), never a variable or an argument.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from console.config.secrets import env_var_names


def child_environment(settings: Any, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: ours) without the secret variables ``settings`` (an environment's
    settings model) names."""
    out = dict(os.environ if env is None else env)
    for name in set(env_var_names(settings)):
        out.pop(name, None)
    return out
