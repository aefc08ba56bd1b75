"""The Cache panel: memory, hit rate, evictions, ops/s, clients."""

from __future__ import annotations

from .base import Panel


class CachePanel(Panel):
    TITLE = "Cache"
    HINT = "memory, hit rate, evictions, ops/s, clients"
