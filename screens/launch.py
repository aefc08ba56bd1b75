"""``mcp-ops [console]``: validate everything, then open the full-screen console.

It lives beside the screens (not in ``console/``) because it is the one command that needs
Textual; the CLI reaches it by name, so ``console`` never imports ``screens``.

The configuration is checked before Textual is even imported, so a bad file gives a
clear message and exit 2 instead of a half-drawn screen.
"""

from __future__ import annotations

import sys

from console.config import ConfigError, load


def main(args) -> int:
    try:
        _, config = load(args.config)
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2
    try:
        env_name, _ = config.environment(args.env)
    except KeyError as err:
        print(f"mcp-ops: {err.args[0]}", file=sys.stderr)
        return 2
    from .app import McpOpsApp  # Textual only now that the config is good

    McpOpsApp(config, env_name, read_only=args.read_only).run()
    return 0
