"""``mcp-ops config validate [PATH]``: OK, or every problem with its key path and line."""

from __future__ import annotations

import sys

from console.config import ConfigError, load


def main(args) -> int:
    try:
        path, config = load(args.path or args.config)
    except ConfigError as err:
        print(err.render(), file=sys.stderr)
        return 2
    names = ", ".join(config.environments)
    print(f"OK  {path}  ({len(config.environments)} environments: {names})")
    return 0
