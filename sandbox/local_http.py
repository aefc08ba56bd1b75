"""Serve an aiohttp application on the loopback address, as every sandbox endpoint does:
no access log, no signal handlers of its own, a short shutdown, a free port unless one is
asked for."""

from __future__ import annotations

from aiohttp import web

from .local_process import LOCALHOST


async def serve_local(app: web.Application, port: int = 0) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1; the runner (to ``cleanup()`` at the end) and the port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, LOCALHOST, port).start()
    return runner, runner.addresses[0][1]
