"""The typed error base: what an operator can meet, with a short title for a heading.

Harlequin's ``HarlequinError(msg, title)`` keeps error reporting simple: the console shows
``title`` as a notification's heading and the message under it; ``mcp-ops`` commands print
the message. Subclasses set a class-level ``title``; one instance may override it.
"""

from __future__ import annotations


class McpOpsError(Exception):
    """An error with a message meant for the operator and a short ``title``."""

    title: str = "mcp-ops error"

    def __init__(self, message: str = "", *, title: str | None = None) -> None:
        super().__init__(message)
        if title is not None:
            self.title = title

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __str__(self) -> str:  # also for subclasses of KeyError, which would quote it
        return self.message
