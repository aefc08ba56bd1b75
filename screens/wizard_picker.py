"""The wizard picker (`w`, or the command palette): type to filter, Enter to start.

Every catalogue entry is listed with its highest risk, so an operator sees before choosing
whether a wizard can change anything; planned entries are shown dimmed and say which
section of the guide to follow by hand until they are built.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from actions.catalogue import catalogue
from console.execution.model import Risk, Wizard

RISK_STYLE = {Risk.READ: "green", Risk.CHANGE: "yellow", Risk.DESTRUCTIVE: "bold red"}


def describe(wizard: Wizard, read_only: bool) -> Text:
    text = Text()
    risk = wizard.highest_risk
    text.append(f"{risk.label:<12}", RISK_STYLE[risk])  # "destructive" + a space
    text.append(wizard.title, "bold" if wizard.built else "dim")
    if not wizard.built:
        text.append("  planned", "dim italic")
    elif read_only and risk > Risk.READ:
        text.append("  read-only: reads only", "yellow")
    text.append(f"\n{'':12}{wizard.section}", "dim")
    return text


class WizardPicker(ModalScreen[str | None]):
    DEFAULT_CSS = """
    WizardPicker { align: center middle; }
    WizardPicker > Vertical {
        width: 100%; max-width: 100; height: 100%; max-height: 30;
        border: round $accent; background: $surface; padding: 0 1;
    }
    WizardPicker Input { margin: 0; }
    WizardPicker .held { color: $warning; text-style: bold; }
    WizardPicker OptionList { height: 1fr; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="wizards.cancel"),
                Binding("down", "focus_list", "List", show=False, id="wizards.down")]

    def __init__(self, read_only: bool = False, held_by: str = "") -> None:
        super().__init__()
        self.read_only = read_only
        self.held_by = held_by  # another operator holding the environment's lease
        self.wizards = catalogue()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Wizards[/b]  type to filter · Enter starts · Esc closes")
            if self.held_by:
                yield Label(f"held by {self.held_by}: change steps will be refused until it "
                            "is released (or taken over with T)", id="held-by",
                            classes="held", markup=False)
            yield Input(placeholder="filter: id, title or guide section", id="filter")
            yield OptionList(id="wizards")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#filter", Input).focus()

    def _fill(self, needle: str) -> None:
        options = self.query_one("#wizards", OptionList)
        options.clear_options()
        needle = needle.lower().strip()
        for wizard in self.wizards:
            haystack = f"{wizard.id} {wizard.title} {wizard.section}".lower()
            if not needle or all(part in haystack for part in needle.split()):
                options.add_option(Option(describe(wizard, self.read_only), id=wizard.id))
        if options.option_count:
            options.highlighted = 0

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#filter")
    def _first(self) -> None:
        options = self.query_one("#wizards", OptionList)
        if options.highlighted is not None and options.option_count:
            self._choose(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, wizard_id: str | None) -> None:
        wizard = next((w for w in self.wizards if w.id == wizard_id), None)
        if wizard is None:
            return
        if not wizard.built:
            self.notify(wizard.not_built_message(), severity="warning", markup=False)
            return
        self.dismiss(wizard.id)

    def action_focus_list(self) -> None:
        self.query_one("#wizards", OptionList).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
