"""The one refusal every writer raises (re-exported by :mod:`console.execution.writers`)."""

from __future__ import annotations


class WriterRefused(Exception):
    """A writer would not send this: a command off its allow-list, a backend of its own, a
    webhook that is not configured. Nothing was sent to the system; the message says what
    would be needed instead."""
