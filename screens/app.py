"""The Textual application: header, dashboard, footer, and the screens opened from them.

The App stays thin: it knows the configuration, which environment is open and whether
read-only is in force; panels, wizards and viewers live in their own modules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from console.config import Config
from console.errors import McpOpsError
from console.execution.redaction import Redactor, redactor_for
from console.identity import Operator, current_operator

from .dashboard import Dashboard
from .environments import EnvironmentSwitcher
from .footer import StableFooter
from .header import StatusHeader
from .help import HelpScreen
from .wizard_actions import WizardActions

log = logging.getLogger(__name__)


class McpOpsApp(WizardActions, App[None]):
    TITLE = "mcp-ops"
    CSS = """
    Screen { layout: vertical; }
    Screen.-wide Dashboard { grid-size: 3 2; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (160, "-wide")]
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("e", "switch_environment", "Env", id="app.environment"),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("w", "wizards", "Wizards", id="app.wizards"),
        Binding("L", "session_logs", "Sessions", key_display="L", id="app.session_logs"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, id="app.palette"),
    ]

    def __init__(
        self,
        config: Config,
        env_name: str | None = None,
        *,
        read_only: bool = False,
        operator: Operator | None = None,
        clock: Callable[[], datetime] | None = None,
        live: bool = True,
    ) -> None:
        super().__init__()
        self.live = live  # False: no sources are polled or probed (layout tests)
        self.config = config
        self.env_name, self.environment = config.environment(env_name)
        self.forced_read_only = read_only  # from --read-only: holds for every environment
        # the start-up probe found every system's credentials read-only (wizard_actions):
        # the console then offers what they allow, reads only
        self.credentials_read_only = False
        self.operator = operator or current_operator()
        self._clock = clock
        self._redactor: Redactor | None = None

    # ---- state -------------------------------------------------------------------------
    @property
    def _background_screens(self) -> list[Screen]:
        """The screens Textual composites under the top one. Textual's list always holds
        the screen just below, even under an opaque top screen (the help, a wizard) that
        hides it all: each change underneath (the first data arriving, a poll that was
        under way) then re-composited the whole terminal, which a key pressed in the help
        waited for. Under an opaque screen nothing is composited; a translucent dialog keeps
        Textual's list."""
        if self._screen_stack and self._screen_stack[-1].styles.background.a == 1:
            return []
        return super()._background_screens

    @property
    def read_only(self) -> bool:
        """Read-only in force for the open environment (flag, the environment's setting, or
        credentials that can only read)."""
        return self.forced_read_only or self.environment.read_only or self.credentials_read_only

    # ---- layout ------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusHeader(
            self.env_name,
            self.operator.label,
            production=self.environment.protected,
            read_only=self.read_only,
            clock=self._clock,
            id="header",
        )
        yield Dashboard(self.env_name)
        yield StableFooter()

    def on_mount(self) -> None:
        self.title = f"mcp-ops — {self.env_name}"
        self.query_one(Dashboard).query("Panel").first().focus()
        # the first frame needs neither: both start once it is painted (screens.deferred)
        self.call_after_refresh(self._after_first_frame)

    async def on_unmount(self) -> None:
        await self.close_lease_source()  # wizard_actions

    def _after_first_frame(self) -> None:
        self.probe_credentials()  # what the credentials could write -> header (wizard_actions)
        if self.live:  # who else holds the environment -> header (wizard_actions)
            self.show_lease_holder()
            self.set_interval(10.0, self.show_lease_holder)

    # ---- worker failures ---------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place a failed worker is reported: the App's own, and every screen's
        (forwarded by :class:`~screens.worker_errors.ForwardWorkerErrors`). A notification
        headed by the McpOpsError's title (else the exception's type), its text redacted and
        taken literally (``markup=False``: foreign text may hold ``[``), and a log line."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if self._redactor is None:
            self._redactor = redactor_for(self.config)
        title = error.title if isinstance(error, McpOpsError) else type(error).__name__
        message = self._redactor.text(str(error) or type(error).__name__)
        self.notify(message, title=title, severity="error", markup=False, timeout=10)
        log.error("worker %r failed: %s: %s", event.worker.name, title, message)

    # ---- actions -----------------------------------------------------------------------
    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        # one help screen per set of keys, installed so that closing it keeps it: opening
        # it again shows it as it was instead of composing, styling and laying it out anew
        keys = self.key_help()
        name = f"help {hash(tuple(keys))}"
        if not self.is_screen_installed(name):
            self.install_screen(HelpScreen(keys), name)
        self.push_screen(name)

    def action_switch_environment(self) -> None:
        self.push_screen(EnvironmentSwitcher(self.config, self.env_name), self._environment_chosen)

    async def _environment_chosen(self, name: str | None) -> None:
        if name and name != self.env_name:
            await self.open_environment(name)

    async def open_environment(self, name: str) -> None:
        """Show another environment: new header state and a fresh dashboard."""
        self.env_name, self.environment = self.config.environment(name)
        self.credentials_read_only = False  # until the probe of these credentials answers
        header = self.query_one(StatusHeader)
        header.production = self.environment.protected
        header.env_name = self.env_name
        header.read_only = self.read_only
        header.overall = "UNKNOWN"
        header.credentials_can_write = None
        old = self.query_one(Dashboard)
        await old.remove()
        await self.mount(Dashboard(self.env_name), before=self.query_one(StableFooter))
        self.title = f"mcp-ops — {self.env_name}"
        self.probe_credentials()  # another environment, other credentials
        header.held_by = ""
        self.show_lease_holder()
        self.notify(f"Environment: {self.env_name}" + (" (read-only)" if self.read_only else ""),
                    markup=False)

    # ---- help and palette ---------------------------------------------------------------
    def key_help(self) -> list[tuple[str, str]]:
        """(key, description) for every binding active on the current screen."""
        rows: list[tuple[str, str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            key = binding.key_display or self.get_key_display(binding)
            if key in seen or not binding.description or key.startswith("super"):
                continue
            seen.add(key)
            rows.append((key, binding.description))
        rows.append(("tab / shift+tab", "move between panels"))
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield SystemCommand("Switch environment", "Open another configured environment",
                            self.action_switch_environment)
        yield SystemCommand("Help", "Keys and what the console does", self.action_help)
        yield from self.wizard_commands()
        yield from super().get_system_commands(screen)
