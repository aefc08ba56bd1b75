"""Connections to PostgreSQL for reading its state.

Every connection names itself ``application_name=mcp-ops`` (so operators can tell the
console's sessions apart in ``pg_stat_activity``, and the collector can leave its own out),
takes its password from the variable named by ``password_env`` and carries the configured
``statement_timeout`` as a session setting, so no query the console sends can run longer on
the server than that, whatever the caller forgets. A client-side ``command_timeout`` guards
against a server that stops answering altogether.
"""

from __future__ import annotations

import asyncpg

from console.config.model import PostgresSettings
from console.config.secrets import secret

from . import pg_framing

APPLICATION_NAME = "mcp-ops"
# every asyncpg connection of the process (the collectors', the wizards' writable ones,
# which import this module first): garbage from a server ends it instead of freezing
pg_framing.install()


def server_settings(settings: PostgresSettings) -> dict[str, str]:
    return {
        "application_name": APPLICATION_NAME,
        "statement_timeout": str(settings.statement_timeout_ms),
        # the console never writes through these connections; make that the server's rule too
        "default_transaction_read_only": "on",
    }


async def connect(
    settings: PostgresSettings, *, dsn: str | None = None, timeout: float = 3.0
) -> asyncpg.Connection:
    """A read-only connection to ``dsn`` (default: the primary), with the password from the
    environment. ``timeout`` bounds connecting; queries are bounded by statement_timeout on
    the server and by a little more than that on the client."""
    return await asyncpg.connect(
        dsn or settings.dsn,
        password=secret(settings.password_env),
        timeout=timeout,
        command_timeout=settings.statement_timeout_ms / 1000 + 1.0,
        server_settings=server_settings(settings),
    )


def describe_dsn(dsn: str) -> str:
    """host:port/database of a DSN, for labels (never the user or a password)."""
    rest = dsn.split("://", 1)[-1]
    rest = rest.rsplit("@", 1)[-1]
    return rest.split("?", 1)[0]
