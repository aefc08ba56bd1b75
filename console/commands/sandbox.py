"""``mcp-ops sandbox [--scenario NAME]``, ``mcp-ops sandbox serve --config-out FILE`` and
``mcp-ops sandbox status [--config FILE] [--format report|json]``.

``serve`` runs here, in ``console``, without Textual: it is what tests, scripts and
``mcp-ops check``/``mcp-ops run`` rehearsals use. The interactive form opens the console,
so it lives in ``screens.sandbox_launch`` and is reached by name, the way the CLI reaches
every Textual command — ``console`` never imports ``screens``.
"""

from __future__ import annotations

import importlib
import sys

from sandbox import scenarios
from sandbox.kube.clock import check_sandbox_speed

INTERACTIVE = "screens.sandbox_launch"


def main(args) -> int:
    try:
        scenarios.get(args.scenario)
    except KeyError as err:
        print(f"mcp-ops sandbox: {err.args[0]}", file=sys.stderr)
        return 2
    try:
        speed = check_sandbox_speed(getattr(args, "speed", 1.0))
    except ValueError as err:
        print(f"mcp-ops sandbox: {err}", file=sys.stderr)
        return 2
    if getattr(args, "sandbox_command", None) == "status":
        from console.config import ConfigError
        from sandbox.status import NotASandbox
        from sandbox.status import main as status

        try:
            return status(getattr(args, "config", None), args.format)
        except (ConfigError, NotASandbox) as err:
            print(f"mcp-ops sandbox status: {err}", file=sys.stderr)
            return 2
    if getattr(args, "sandbox_command", None) == "serve":
        if args.pods < 0:
            print("mcp-ops sandbox serve: --pods must be 0 or more", file=sys.stderr)
            return 2
        from sandbox.serve import run

        return run(args.config_out, scenario=args.scenario, extra_pods=args.pods, speed=speed)
    return int(importlib.import_module(INTERACTIVE).main(args) or 0)
