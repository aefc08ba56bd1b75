"""The help screen (`?`): what the console is, and every key that does something."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = (
    "[b]mcp-ops[/b] — live view of the MCP platform and the runbook as guided wizards.\n\n"
    "Every action shows its plan and the equivalent shell command, asks for confirmation, "
    "streams its output and is written to a tamper-evident session log. In read-only mode "
    "nothing that changes anything can run, whatever is pressed.\n"
)


class HelpScreen(ModalScreen[None]):
    # an opaque background: a translucent one makes every frame of the help re-render the
    # dashboard beneath it and tint it cell by cell (Textual's BackgroundScreen), which
    # was most of the cost of opening and closing the help (issue 18's keypress figures)
    DEFAULT_CSS = """
    HelpScreen { align: center middle; background: $background; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 100; height: 90%; border: round $accent;
        background: $surface; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _ in self.keys), default=4)
        table = "\n".join(f"  [b]{k:<{width}}[/b]  {d}" for k, d in self.keys)
        with VerticalScroll():
            yield Static(INTRO, markup=True)
            yield Static("[b u]Keys[/b u]\n" + table, markup=True)
            yield Static("\n[dim]Esc, q or ? closes this screen.[/dim]", markup=True)

    def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
