"""The console as ``mcp-ops sandbox`` opens it: the ordinary app plus the sandbox menu.

It is a subclass rather than a switch inside :class:`McpOpsApp`, so the console on a real
platform has no sandbox key at all. ``S`` opens the scenario menu; Ctrl+C quits (on a
sandbox there is nothing to lose, and quitting is what stops the sandbox); SIGTERM and
SIGHUP (the SSH connection dropped) quit too, so the launcher can stop the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable

from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from sandbox.control import ControlAddress, ControlClient

from .app import McpOpsApp
from .sandbox_menu import SandboxMenu


class SandboxConsoleApp(McpOpsApp):
    BINDINGS = [
        Binding("S", "sandbox_menu", "Scenario", key_display="S", id="app.sandbox"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.sandbox_quit"),
    ]

    def __init__(self, *args, control: ControlAddress, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.control = ControlClient(control)

    def on_mount(self) -> None:
        super().on_mount()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.exit)

    async def on_unmount(self) -> None:
        await self.control.close()
        await super().on_unmount()  # the app's own (its lease reader's connection)

    def action_sandbox_menu(self) -> None:
        if isinstance(self.screen, SandboxMenu):
            return
        self.push_screen(SandboxMenu(self.control), self._scenario_switched)

    def _scenario_switched(self, name: str | None) -> None:
        if name:
            self.title = f"mcp-ops — {self.env_name} (scenario: {name})"
            self.notify(f"Sandbox scenario: {name}", markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Sandbox scenario", "Switch the sandbox into another incident",
                            self.action_sandbox_menu)
        yield from super().get_system_commands(screen)
