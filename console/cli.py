"""The ``mcp-ops`` command line.

Parsing only: each subcommand is a function in :mod:`console.commands`, imported when it
runs, so ``mcp-ops --help`` and ``mcp-ops config validate`` never load Textual, the
Kubernetes client or boto. The console itself is the default command.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

DESCRIPTION = """\
Operations console for the PratikoAI MCP server platform: a live dashboard of pods,
database and cache, the runbook's procedures as guided wizards (preview, confirm, stream,
tamper-evident session log), a scriptable health check and a local sandbox.

Run without a command to open the console. Try it safely with `mcp-ops sandbox`."""

EPILOG = """\
config file lookup: --config, $MCP_OPS_CONFIG, ./mcp-ops.yaml,
$XDG_CONFIG_HOME/mcp-ops/config.yaml (see config.example.yaml)

examples:
  mcp-ops sandbox                         local platform + console, to try things safely
  mcp-ops --env production --read-only    watch production; nothing can be changed
  mcp-ops check all --format json         health of every environment, for cron/CI
  mcp-ops run scaling --env staging --set replicas=4 --dry-run
  mcp-ops log verify SESSION              prove a session log was not edited"""


def _common(parser: argparse.ArgumentParser, top: bool = False) -> None:
    # Sub-commands repeat the option without a default, so a value given before the
    # command (`mcp-ops --config X check`) is not overwritten by the sub-parser's default.
    parser.add_argument("--config", metavar="PATH", default=None if top else argparse.SUPPRESS,
                        help="configuration file (see lookup order below)")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="mcp-ops", description=DESCRIPTION, epilog=EPILOG, formatter_class=fmt
    )
    _common(parser, top=True)
    parser.add_argument("--env", metavar="ENV", help="environment to open (default: the config's default_environment)")
    parser.add_argument("--read-only", action="store_true", help="refuse every action that changes anything")
    parser.set_defaults(command="console")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("console", help="open the full-screen console (the default)", formatter_class=fmt,
                       description="Open the full-screen console: dashboard, wizards, logs.")
    _common(p)
    p.add_argument("--env", metavar="ENV", default=argparse.SUPPRESS, help="environment to open")
    p.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help="refuse every action that changes anything")

    p = sub.add_parser(
        "check", help="health check for cron and CI (exit 0/1/2/3)", formatter_class=fmt,
        description="Check the health of one or all environments, as the runbook's health-check.sh.",
        epilog="exit status: 0 healthy, 1 warning, 2 critical, 3 unreachable\n\n"
               "for Prometheus, from cron:\n"
               "  mcp-ops check all --format openmetrics > DIR/mcp_ops.prom.tmp && "
               "mv DIR/mcp_ops.prom.tmp DIR/mcp_ops.prom\n"
               "  (DIR: node_exporter's --collector.textfile.directory)",
    )
    _common(p)
    p.add_argument("target", nargs="?", default=None, metavar="ENV|all", help="environment, or 'all' (default: default environment)")
    p.add_argument("--format", choices=("report", "json", "openmetrics"), default="report",
                   help="report (a table), json (stable schema: docs/check-json.md) or "
                        "openmetrics (gauges for node_exporter's textfile collector)")

    p = sub.add_parser("wizards", help="list the wizard catalogue", formatter_class=fmt,
                       description="List every wizard: id, title, runbook section, highest risk.")
    _common(p)

    p = sub.add_parser(
        "run", help="run a wizard headless, answers on the command line", formatter_class=fmt,
        description="Run a wizard without the console; output streams to stdout and to the session log.",
        epilog="exit status: 0 success, 1 a step failed, 2 refused (read-only, missing "
               "confirmation, invalid input, another operator holds the environment)\n\n"
               "A run with change steps holds the environment's Lease mcp-ops-ENV (kubectl get "
               "lease -n NAMESPACE) from its first change step to its end; while another "
               "operator holds it, change steps are refused and the holder is named.",
    )
    _common(p)
    p.add_argument("wizard", metavar="WIZARD", help="wizard id (see `mcp-ops wizards`)")
    p.add_argument("--env", metavar="ENV", default=argparse.SUPPRESS, help="environment to act on")
    p.add_argument("--set", dest="values", action="append", default=[], metavar="KEY=VALUE", help="answer an input (repeatable)")
    p.add_argument("--dry-run", action="store_true", help="show every step's plan and command; run nothing")
    p.add_argument("--confirm", metavar="ENV", help="confirm change/destructive steps by naming the environment")
    p.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                   help="refuse every step that changes anything")
    p.add_argument("--resume", metavar="SESSION", help="continue an interrupted run from its session log")
    p.add_argument("--take-over", metavar="USER", default=None,
                   help="take the environment's operator lease from USER, who holds it now "
                        "(both sessions log it)")

    p = sub.add_parser("log", help="session logs: list, show, verify, export, archive", formatter_class=fmt,
                       description="Work with the tamper-evident session logs.")
    _common(p)
    logs = p.add_subparsers(dest="log_command", metavar="ACTION", required=True)
    q = logs.add_parser("list", help="sessions, newest first (resumable ones marked)")
    _common(q)
    q = logs.add_parser("show", help="print one session's records")
    _common(q)
    q.add_argument("session", metavar="ID")
    q = logs.add_parser("verify", help="check a log's hash chain; exit 1 naming the first bad record",
                        epilog="exit status: 0 intact, 1 a bad record or (--remote) a difference "
                               "from the locked copy, 2 no such session or (--remote) no "
                               "archive bucket configured")
    _common(q)
    q.add_argument("session", metavar="ID|FILE")
    q.add_argument("--remote", action="store_true",
                   help="also compare with the locked copies in session_log.s3_archive_bucket "
                        "and name the first difference (catches a chain rewritten whole)")
    q = logs.add_parser("export", help="write an incident timeline")
    _common(q)
    q.add_argument("session", metavar="ID")
    q.add_argument("--format", choices=("md",), default="md")
    q.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    q = logs.add_parser("replay", help="play a session back with its timing (plans, "
                        "confirmations, output, health at each step)", formatter_class=fmt,
                        description="Replay a session in the terminal as it happened, with "
                                    "the time between records divided by --speed.",
                        epilog="exit status: 0 replayed, 1 the log does not verify "
                               "(replayed anyway, under a warning), 2 no such session")
    _common(q)
    q.add_argument("session", metavar="ID")
    q.add_argument("--speed", type=float, default=10.0, metavar="N",
                   help="N times faster than it happened (default 10; long pauses are cut "
                        "to 3 s)")
    q = logs.add_parser("archive", help="copy a session log to S3 (session_log.s3_archive_bucket)",
                        epilog="exit status: 0 archived, 1 upload failed, 2 no bucket configured")
    _common(q)
    q.add_argument("session", metavar="ID")

    p = sub.add_parser("config", help="configuration: validate", formatter_class=fmt,
                       description="Check a configuration file.")
    cfg = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    q = cfg.add_parser("validate", help="print OK or every problem with its key path and line (exit 2)")
    q.add_argument("path", nargs="?", metavar="PATH", help="file to check (default: the lookup order)")
    q.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    p = sub.add_parser(
        "sandbox", help="local replica of the platform + console", formatter_class=fmt,
        description="Start a local replica of the whole platform (emulated Kubernetes, PostgreSQL, "
                    "Redis, moto AWS, MCP-server simulator) and open the console on it.",
    )
    p.add_argument("--scenario", metavar="NAME", default="healthy", help="fault scenario to start with (default: healthy)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="run the emulated clusters' clocks X times faster (1-20, default 1): "
                        "pods start, drain and roll out in 1/X of the time")
    sp = p.add_subparsers(dest="sandbox_command", metavar="ACTION")
    q = sp.add_parser("serve", help="run the sandbox headless until SIGTERM")
    q.add_argument("--config-out", metavar="FILE", required=True,
                   help="write the sandbox's config here ('-': in its temporary directory)")
    q.add_argument("--pods", type=int, default=0, metavar="N", help="extra pods for scale tests")
    q.add_argument("--scenario", metavar="NAME", default=argparse.SUPPRESS,
                   help="fault scenario to start with (default: healthy)")
    q.add_argument("--speed", type=float, default=argparse.SUPPRESS, metavar="X",
                   help="the emulated clusters' clock speed (1-20, default 1)")
    q = sp.add_parser(
        "status", help="what the running sandbox really is: regions, database, DNS, webhooks",
        formatter_class=fmt,
        description="Read the ground truth of a rehearsal from the sandbox's own parts (not "
                    "from any session log): per region the deployment's ready replicas and "
                    "image, the database its postgres-credentials secret points at and whether "
                    "it is a primary accepting writes, the Route53 target of the service "
                    "record, what the front door answers, and the notifications the sandbox's "
                    "webhook receivers got.",
        epilog="exit status: 0 read (parts that did not answer are reported as such), "
               "2 not a running sandbox's config")
    q.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                   help="the sandbox's config (default: the lookup order, e.g. $MCP_OPS_CONFIG)")
    q.add_argument("--format", choices=("report", "json"), default="report")
    return parser


# command name -> "module:function"; the module is imported only when the command runs
COMMANDS = {
    "console": "screens.launch:main",
    "check": "console.commands.check:main",
    "wizards": "console.commands.wizards:main",
    "run": "console.commands.run:main",
    "log": "console.commands.log:main",
    "config": "console.commands.config:main",
    "sandbox": "console.commands.sandbox:main",
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            code = _dispatch(argv)
        except SystemExit:  # --help, a usage error: flushed here too
            sys.stdout.flush()
            raise
        sys.stdout.flush()  # a reader gone already is found here, not at interpreter exit
        return code
    except BrokenPipeError:
        return _reader_went_away()


def _dispatch(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.command = args.command or "console"
    module_name, func_name = COMMANDS[args.command].split(":")
    module = importlib.import_module(module_name)
    try:
        return int(getattr(module, func_name)(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _reader_went_away() -> int:
    """The reader of our output closed early (``mcp-ops wizards | head -3``): end quietly,
    as a shell tool killed by SIGPIPE does (status 128 + SIGPIPE), without a traceback.
    stdout is pointed at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass
    return 128 + signal.SIGPIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
