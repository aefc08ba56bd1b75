"""``mcp-ops check [ENV|all] --format report|json|openmetrics``: the runbook's health-check.sh.

Exit status: 0 healthy, 1 warning, 2 critical, 3 unreachable (the worst environment
decides). A configuration problem, an unknown environment or an unexpected error exits 3
as well, after saying why on stderr: for cron, "could not check" must never look like
"healthy" — nor like WARNING, the 1 Python exits with on an uncaught exception.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys

from console.collectors.base import describe_error, utcnow
from console.config import ConfigError, load
from console.health.check import exit_code, resolve_targets, run_checks
from console.health.openmetrics import to_openmetrics
from console.health.report import render_report, to_json

EXIT_UNREACHABLE = 3


def main(args) -> int:
    try:
        _, config = load(getattr(args, "config", None))
        names = resolve_targets(config, args.target or getattr(args, "env", None))
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyError as err:
        print(f"mcp-ops check: {err.args[0]}", file=sys.stderr)
        return EXIT_UNREACHABLE
    started = utcnow()
    try:
        reports = asyncio.run(run_checks(config, names))
        if args.format == "json":
            text = json.dumps(to_json(reports, started), indent=2, ensure_ascii=False)
        elif args.format == "openmetrics":
            text = to_openmetrics(reports).rstrip("\n")
        else:
            text = render_report(reports, width=shutil.get_terminal_size((100, 24)).columns)
    except Exception as exc:  # noqa: BLE001 - a bug of ours must not read as WARNING (1)
        print(f"mcp-ops check: could not check: {describe_error(exc)}", file=sys.stderr)
        return EXIT_UNREACHABLE
    print(text)
    return exit_code(reports)
