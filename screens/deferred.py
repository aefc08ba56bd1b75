"""Modules the first frame does not need, imported once it is painted.

Python start, Textual and the configuration are what the console needs to paint its
first frame; the collectors, their clients (aiohttp, asyncpg, redis)
and the health rules are needed only once the panels start polling and the start-up
probe runs. They used to be imported before the first frame; now the hub
(:mod:`screens.polling`) and the probe (:mod:`screens.wizard_actions`) import them right
after it, and only then start polling: no first poll spends its
timeout on an import. They are imported in a worker thread: the interpreter switches
threads every few milliseconds, so a key pressed meanwhile is handled at once instead of
waiting for a whole module (aiohttp alone is ~0.25 s) on the loop. Polling starts only
when they are in, so no poll runs beside them.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import sys
import weakref

AFTER_FIRST_FRAME = (
    # the clients, the largest first-use imports, one by one
    "aiohttp", "redis.asyncio", "asyncpg", "httpx",
    # the dashboard's hub (screens.polling) and what its collectors load on first use
    "console.collectors.registry", "console.health.evaluate",
    # the start-up credentials probe and the lease reader (screens.wizard_actions); with a
    # usual kubeconfig neither imports kubernetes-asyncio (~0.5 s in one piece), which
    # waits for the first wizard run
    "console.sources.operator_lease", "console.execution.probe", "console.sources.postgres",
    "console.sources.redis",
)


# one loading per event loop, whoever asks first; the others wait for it
_loading: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task] = \
    weakref.WeakKeyDictionary()


async def load_after_first_frame() -> None:
    """Import :data:`AFTER_FIRST_FRAME` in a thread (nothing to do once they are loaded);
    the loop goes on handling keys and drawing meanwhile."""
    if all(name in sys.modules for name in AFTER_FIRST_FRAME):
        return
    loop = asyncio.get_running_loop()
    task = _loading.get(loop)
    if task is None:
        task = _loading[loop] = loop.create_task(_load(), name="load after first frame")
    await asyncio.shield(task)


async def _load() -> None:
    keep_out_of_collections()  # Textual and the first frame's widgets
    await asyncio.to_thread(_import, [n for n in AFTER_FIRST_FRAME if n not in sys.modules])
    keep_out_of_collections()


def _import(names: list[str]) -> None:
    for name in names:
        importlib.import_module(name)


def keep_out_of_collections() -> None:
    """Move every object alive now (modules, classes, the clients' models: what start-up
    made and the console keeps) out of the garbage collector's reach. A full collection
    walks every tracked object: with boto's and Textual's ~150k it took 85-115 ms on the
    event loop every few seconds, and a key pressed then waited for it. Objects made later
    are collected as before; called again after these imports and once every panel has
    its first data."""
    gc.freeze()
