"""``mcp-ops log list | show ID | verify ID|FILE | export ID --format md | archive ID |
replay ID [--speed N]``.

``verify`` exits 1 naming the first bad record; ``verify --remote`` also compares the log
with its locked copies in the archive bucket and names the first difference
(:mod:`console.execution.log_remote`); ``list`` marks sessions that can be
resumed (interrupted, failed or aborted, chain intact) with the command to do it.
``archive`` copies one session to ``session_log.s3_archive_bucket`` now: exit 0 archived,
1 the upload failed (the reason is printed), 2 no bucket configured or no such session.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from console.config import ConfigError, load
from console.execution.log_archive import ArchiveError, archive_session
from console.execution.log_export import describe_event, export_markdown
from console.execution.log_remote import verify_remote
from console.execution.log_store import list_sessions, read_records, resolve, verify
from console.execution.redaction import Redactor, redactor_for
from console.execution.session_log import default_directory


def _context(args) -> tuple[Path, Redactor, Any]:
    """The session directory, redactor and config; a missing config still allows reading
    logs (the config is then None)."""
    try:
        _, config = load(getattr(args, "config", None))
    except ConfigError:
        return default_directory(), Redactor(), None
    return default_directory(config.session_log.directory), redactor_for(config), config


def main(args) -> int:
    directory, redactor, config = _context(args)
    command = args.log_command
    remote = command == "verify" and getattr(args, "remote", False)
    if (command == "archive" or remote) and (config is None
                                             or not config.session_log.s3_archive_bucket):
        why = " (no configuration file could be loaded)" if config is None else ""
        name = "archive" if command == "archive" else "verify --remote"
        print(f"mcp-ops log {name}: no archive bucket configured{why}: set "
              "session_log.s3_archive_bucket in the configuration file", file=sys.stderr)
        return 2
    if command == "list":
        return _list(directory)
    try:
        path = resolve(args.session, directory)
    except FileNotFoundError as err:
        print(f"mcp-ops log {command}: {err}", file=sys.stderr)
        return 2
    if command == "verify":
        result = verify(path)
        print(f"{path.stem}: {result.describe()}")
        if remote:
            return _verify_remote(path, config, redactor) or (0 if result.ok else 1)
        return 0 if result.ok else 1
    if command == "show":
        for record in read_records(path):
            ts = str(record.get("ts", "?"))[:19].replace("T", " ")
            print(redactor.text(f"{record.get('seq', '?'):>5} {ts}  {describe_event(record)}"))
        result = verify(path)
        print(f"-- {result.describe()}")
        return 0 if result.ok else 1
    if command == "export":
        text = export_markdown(path, redactor)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"wrote {args.output}")
        else:
            sys.stdout.write(text)
        return 0
    if command == "archive":
        return _archive(path, config, redactor)
    if command == "replay":
        from .log_replay import main as replay

        return replay(path, redactor, args.speed)
    return 2


def _archive(path: Path, config: Any, redactor: Redactor) -> int:
    env = _session_env(path)
    if env is None:
        print(f"mcp-ops log archive: {path.stem}: no record names the session's environment",
              file=sys.stderr)
        return 1
    try:
        archived = asyncio.run(archive_session(path, config=config, env_name=env))
    except ArchiveError as err:
        print(redactor.text(f"mcp-ops log archive: {path.stem}: {err}"), file=sys.stderr)
        return 1
    print(archived.describe())
    return 0


def _session_env(path: Path) -> str | None:
    return next((r.get("env") for r in read_records(path) if isinstance(r.get("env"), str)),
                None)


def _verify_remote(path: Path, config: Any, redactor: Redactor) -> int:
    """0 the local log matches every locked version, 1 it does not (or none was read)."""
    env = _session_env(path)
    if env is None:
        print(f"{path.stem}: remote FAILED: no record names the session's environment, whose "
              "AWS settings are needed to read the locked copy")
        return 1
    try:
        check = asyncio.run(verify_remote(path, config=config, env_name=env))
    except ArchiveError as err:
        print(redactor.text(f"{path.stem}: remote FAILED: {err}"))
        return 1
    print(redactor.text(f"{path.stem}: {check.describe()}"))
    return 0 if check.ok else 1


def _list(directory: Path) -> int:
    sessions = list_sessions(directory)
    if not sessions:
        print(f"no sessions in {directory}")
        return 0
    for s in sessions:
        resumable = f"  resumable: mcp-ops run {s.wizard} --resume {s.id}" if s.resumable else ""
        print(f"{s.id}  {s.env:<12} {s.wizard or '-':<24} {s.status:<11} {s.records:>5} "
              f"records  {s.operator}{resumable}")
    return 0
