"""The key footer, rebuilt only when the keys it shows change.

Textual's :class:`~textual.widgets.Footer` recomposes (unmounts and mounts a widget per
key) whenever its screen publishes its bindings: on every focus change and every time the
screen comes back to the front, e.g. when the help (`?`) closes. Most of those publish the
very same keys; rebuilding for them cost ~20 ms of the UI loop per keypress under load
(issue 18's keypress figures). :class:`StableFooter` compares what it would show with what
it shows and recomposes only on a difference; what it shows is Footer's own rendering.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer


class StableFooter(Footer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: Hashable | None = None  # the keys of the last compose

    def _keys(self) -> Hashable:
        """Everything of the screen's bindings that Footer.compose reads."""
        app = self.app
        return (self.show_command_palette, app.ENABLE_COMMAND_PALETTE,
                app.COMMAND_PALETTE_BINDING,
                tuple((key, b.key, app.get_key_display(b), b.description, b.action, b.show,
                       b.group, enabled, tooltip)
                      for key, (_, b, enabled, tooltip) in self.screen.active_bindings.items()))

    def compose(self) -> ComposeResult:
        self._shown = self._keys() if self._bindings_ready else None
        yield from super().compose()

    def bindings_changed(self, screen: Screen) -> None:
        if (self._shown is not None and self.is_attached and screen is self.screen
                and self._keys() == self._shown):
            return  # the same keys: nothing to rebuild
        super().bindings_changed(screen)
