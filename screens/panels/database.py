"""The Database panel: connections, blocking chains, slow queries, replication lag."""

from __future__ import annotations

from .base import Panel


class DatabasePanel(Panel):
    TITLE = "Database"
    HINT = "connections, blocking chains, slow queries, replication lag"
