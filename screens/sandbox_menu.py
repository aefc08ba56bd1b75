"""The sandbox menu (`S`, only when the console runs on a sandbox): switch the scenario.

Every scenario is listed with its title and what ``mcp-ops check`` should then say; the
highlighted one's description (what happens, what to rehearse) is shown underneath, so an
operator picks an incident knowing what to practise. Enter switches the running sandbox
through its control API; the panels then show the incident arriving the way it would in
production, at their own polling pace.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from sandbox.control import ControlClient

from .worker_errors import ForwardWorkerErrors

STATUS_STYLE = {"HEALTHY": "green", "WARNING": "yellow", "CRITICAL": "bold red",
                "UNREACHABLE": "bold magenta"}


def describe(scenario: dict, current: str) -> Text:
    text = Text()
    text.append("● " if scenario["name"] == current else "  ", "bold green")
    text.append(f"{scenario['name']:<25}", "bold")
    expect = scenario.get("expect_status", "")
    text.append(f"{expect:<12}", STATUS_STYLE.get(expect, ""))
    text.append(scenario.get("title", ""), "dim")
    # one row each: the list is at most 62 columns wide (the menu's 80, less its border,
    # padding, the options' margins and the scrollbar); a longer row would wrap
    text.truncate(60, overflow="ellipsis")
    return text


class SandboxMenu(ForwardWorkerErrors, ModalScreen[str | None]):
    """Pick a scenario; dismisses with the name switched to (None: nothing changed). The
    sandbox's own errors are shown in the menu; anything else goes to the App's handler."""

    DEFAULT_CSS = """
    SandboxMenu { align: center middle; }
    SandboxMenu > Vertical {
        width: 90%; max-width: 80; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    SandboxMenu OptionList { height: auto; max-height: 10; }
    /* the longest description takes 6 rows at 80 columns: shown whole, never cut */
    SandboxMenu #sandbox-description { height: 6; color: $text-muted; }
    SandboxMenu #sandbox-state { height: 1; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="sandbox.cancel")]

    def __init__(self, client: ControlClient) -> None:
        super().__init__()
        self.client = client
        self.scenarios: list[dict] = []
        self.current = ""
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Sandbox scenario[/b]  (Enter switches, Esc closes)")
            yield OptionList(id="sandbox-scenarios")
            yield Static("", id="sandbox-description")
            yield Static("asking the sandbox…", id="sandbox-state")

    def on_mount(self) -> None:
        self.load()

    @work(exclusive=True, group="sandbox-menu", exit_on_error=False)
    async def load(self) -> None:
        try:
            status = await self.client.status()
        except Exception as exc:  # noqa: BLE001 - shown, the menu stays usable for Esc
            self.query_one("#sandbox-state", Static).update(
                Text(f"sandbox not answering: {exc}", "bold red"))
            return
        self.scenarios, self.current = status["scenarios"], status["scenario"]
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(describe(s, self.current), id=s["name"])
                             for s in self.scenarios])
        names = [s["name"] for s in self.scenarios]
        options.highlighted = names.index(self.current) if self.current in names else 0
        options.focus()
        self.query_one("#sandbox-state", Static).update(
            Text(f"now: {self.current}", "green"))

    @on(OptionList.OptionHighlighted)
    def show_description(self, event: OptionList.OptionHighlighted) -> None:
        chosen = next((s for s in self.scenarios if s["name"] == event.option.id), None)
        if chosen:
            self.query_one("#sandbox-description", Static).update(
                Text.assemble((chosen["title"] + ". ", "bold"), chosen["description"]))

    @on(OptionList.OptionSelected)
    def choose(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == self.current:
            self.dismiss(None)
        elif not self.busy:
            self.switch(event.option.id)

    @work(exclusive=True, group="sandbox-menu", exit_on_error=False)
    async def switch(self, name: str) -> None:
        self.busy = True
        state = self.query_one("#sandbox-state", Static)
        state.update(Text(f"switching to {name}…", "yellow"))
        try:
            await self.client.switch(name)
        except Exception as exc:  # noqa: BLE001 - the sandbox said why; stay open
            state.update(Text(f"could not switch: {exc}", "bold red"))
            self.busy = False
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
