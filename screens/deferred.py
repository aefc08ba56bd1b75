"""Modules the first frame does not need, imported off the UI loop after it is painted.

Python start, Textual and the configuration are what the console needs to paint its
first frame; the collectors, their clients (aiohttp, asyncpg, redis, kubernetes_asyncio)
and the health rules are needed only once the panels start polling. Importing them on the
UI loop would hold every key for as long (~0.5 s of CPU), so they are imported in a
thread; the loop keeps handling keys and painting meanwhile.
"""

from __future__ import annotations

import asyncio
import importlib

# what the dashboard's hub needs before it can poll (screens.polling)
COLLECTORS = ("console.collectors.registry", "console.health.evaluate")
# what the start-up credentials probe and the lease reader need (screens.wizard_actions)
PROBES = ("kubernetes_asyncio.client", "console.execution.kube.api",
          "console.execution.kube.lease", "console.execution.probe",
          "console.sources.postgres", "console.sources.redis")


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        importlib.import_module(name)


async def import_off_loop(names: tuple[str, ...]) -> None:
    """Import ``names`` in a thread (at once if they are all loaded already)."""
    import sys

    if all(name in sys.modules for name in names):
        return
    await asyncio.to_thread(_import_all, names)
