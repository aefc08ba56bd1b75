"""What a sandbox that was killed outright (SIGKILL, a power cut) leaves, and clearing it.

A sandbox stopped in any ordinary way removes everything itself. One that is killed cannot:
its servers die with it (they get a parent-death signal, see ``local_process``), but its
temporary directories and, on a shared PostgreSQL, its databases stay. So every sandbox
marks what it creates with its host and process id — an ``owner`` file in each directory,
the database's name — and each new sandbox first clears what belongs to sandboxes of this
host whose process no longer exists. Nothing of a running sandbox, or of another machine
sharing the same PostgreSQL, is ever touched.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

OWNER_FILE = "owner"
DIR_PREFIXES = ("mcp-ops-sandbox-",)
HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
DATABASE = re.compile(r"^pratiko_mcp_production_([0-9a-f]{6})_(\d+)_[0-9a-f]{6}(_recovery)?$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def database_name(base: str, suffix: str) -> str:
    """``<base>_<host>_<pid>_<suffix>``: whose database it is, readable from its name."""
    return f"{base}_{HOST_TAG}_{os.getpid()}_{suffix}"


def orphaned_databases(names: list[str]) -> list[str]:
    """Sandbox databases of this host whose sandbox process is gone."""
    out = []
    for name in names:
        match = DATABASE.match(name)
        if match and match.group(1) == HOST_TAG and not _alive(int(match.group(2))):
            out.append(name)
    return out


def mark_owner(directory: Path) -> None:
    (directory / OWNER_FILE).write_text(f"{HOST_TAG} {os.getpid()}\n")


def sweep_directories(roots: tuple[str, ...] = ()) -> list[Path]:
    """Remove sandbox directories (under TMPDIR and ``roots``) whose owner is gone."""
    removed = []
    for root in {tempfile.gettempdir(), *roots}:
        try:
            entries = list(Path(root).iterdir())
        except OSError:
            continue
        for path in entries:
            if not path.name.startswith(DIR_PREFIXES) or not path.is_dir():
                continue
            try:
                host, pid = (path / OWNER_FILE).read_text().split()
            except (OSError, ValueError):
                continue  # not marked (yet, or by an older version): leave it alone
            if host == HOST_TAG and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    if removed:
        log.info("removed %d directories of killed sandboxes", len(removed))
    return removed
