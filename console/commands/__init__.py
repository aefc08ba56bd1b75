"""One module per ``mcp-ops`` subcommand; each exposes ``main(args) -> exit status``."""
