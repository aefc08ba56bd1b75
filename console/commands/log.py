"""``mcp-ops log list | show ID | verify ID|FILE | export ID --format md``.

``verify`` exits 1 naming the first bad record; ``list`` marks sessions that can be
resumed (interrupted, failed or aborted, chain intact) with the command to do it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from console.config import ConfigError, load
from console.execution.log_export import describe_event, export_markdown
from console.execution.log_store import list_sessions, read_records, resolve, verify
from console.execution.redaction import Redactor, redactor_for
from console.execution.session_log import default_directory


def _context(args) -> tuple[Path, Redactor]:
    """The session directory and redactor; a missing config still allows reading logs."""
    try:
        _, config = load(getattr(args, "config", None))
    except ConfigError:
        return default_directory(), Redactor()
    return default_directory(config.session_log.directory), redactor_for(config)


def main(args) -> int:
    directory, redactor = _context(args)
    command = args.log_command
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
    return 2


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
