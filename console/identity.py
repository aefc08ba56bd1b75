"""Who is at the keyboard: user, host and, over SSH, the client's address.

Shown in the console header and stamped on every session-log record.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Operator:
    user: str
    host: str
    ssh_client: str | None = None  # the SSH client's IP address, when connected over SSH

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}"

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def current_operator(environ: Mapping[str, str] | None = None) -> Operator:
    env = os.environ if environ is None else environ
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry (containers): fall back to the uid
        user = f"uid{os.getuid()}"
    # SSH_CLIENT is "address client-port server-port"; SSH_CONNECTION has the same first field
    ssh = env.get("SSH_CLIENT") or env.get("SSH_CONNECTION") or ""
    return Operator(user=user, host=socket.gethostname(), ssh_client=ssh.split()[0] if ssh else None)
