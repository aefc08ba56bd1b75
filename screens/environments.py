"""The environment switcher (`e`): pick another configured environment."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from console.config import Config


def describe(name: str, config: Config, current: str) -> Text:
    env = config.environments[name]
    text = Text()
    text.append("● " if name == current else "  ", "bold green")
    text.append(name, "bold red" if env.protected else "bold")
    flags = [f for f, on in (("read-only", env.read_only), ("protected", env.protected)) if on]
    if flags:
        text.append(f"  [{', '.join(flags)}]", "yellow")
    if env.description:
        text.append(f"  {env.description}", "dim")
    return text


class EnvironmentSwitcher(ModalScreen[str | None]):
    DEFAULT_CSS = """
    EnvironmentSwitcher { align: center middle; }
    EnvironmentSwitcher > Vertical {
        width: 90%; max-width: 90; height: auto; max-height: 80%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    EnvironmentSwitcher OptionList { height: auto; max-height: 16; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="envs.cancel")]

    def __init__(self, config: Config, current: str) -> None:
        super().__init__()
        self.config = config
        self.current = current

    def compose(self) -> ComposeResult:
        names = list(self.config.environments)
        with Vertical():
            yield Label("[b]Switch environment[/b]  (Enter selects, Esc cancels)")
            options = OptionList(*(Option(describe(n, self.config, self.current), id=n) for n in names))
            options.highlighted = names.index(self.current) if self.current in names else 0
            yield options

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
