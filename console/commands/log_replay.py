"""``mcp-ops log replay ID [--speed N]``: a session played back in the terminal.

What the operator saw and did, in the order and with the pauses it happened — plans, the
confirmations, every output line, the refusals, the environment's health around each step
— with the real time between records divided by ``--speed`` (default 10; pauses longer
than :data:`MAX_PAUSE` seconds after scaling are cut to it, and said so). The log is
verified first; a log that does not verify is still replayed, under a warning, because an
incident review may need exactly that one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from console.execution.log_export import describe_event
from console.execution.log_store import read_records, verify
from console.execution.redaction import Redactor

MAX_PAUSE = 3.0


def _when(record: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(str(record.get("ts", "")).replace("Z", "+00:00"))
    except ValueError:
        return None


def replay(path: Path, redactor: Redactor, *, speed: float = 10.0,
           write: Callable[[str], None] = print,
           sleep: Callable[[float], None] = time.sleep) -> int:
    result = verify(path)
    if not result.ok:
        write(f"warning: {path.stem} does not verify ({result.describe()}); replaying anyway")
    records = read_records(path)
    start = _when(records[0]) if records else None
    previous = start
    for record in records:
        at = _when(record)
        if at is not None and previous is not None:
            pause = max((at - previous).total_seconds(), 0.0) / speed
            if pause > MAX_PAUSE:
                write(f"   … {pause * speed:.0f} s later")
                pause = MAX_PAUSE
            if pause > 0:
                sleep(pause)
            previous = at
        offset = f"+{(at - start).total_seconds():7.1f}s" if at and start else "        "
        write(redactor.text(f"{offset}  {describe_event(record)}"))
    write(f"-- {result.describe()}")
    return 0 if result.ok else 1


def main(path: Path, redactor: Redactor, speed: float) -> int:
    if speed <= 0:
        print("mcp-ops log replay: --speed must be above 0", file=sys.stderr)
        return 2
    return replay(path, redactor, speed=speed,
                  write=lambda line: print(line, flush=True))
