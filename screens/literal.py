"""Foreign text — pod names, log lines, query text, event messages, error strings — shown
as it is, never interpreted.

Two things would interpret it on the way to the terminal:

- Rich markup: a ``DataTable`` parses every ``str`` cell as markup, so a query holding
  ``[bold]`` changed how it looked, ``[link=...]`` made a link, and an unbalanced ``[/]``
  raised ``MarkupError`` and took the console down. :func:`cell` escapes it.
- Control characters: Rich strips only BEL, BS, VT, FF and CR; an ESC (``\\x1b[2J``
  clears the screen, ``\\x1b]0;...`` retitles the terminal, OSC 52 writes the clipboard)
  or an 8-bit CSI (``\\x9b``) went to the terminal raw. :func:`printable` replaces every
  control character but newline and tab by its visible picture (``␛``), one character for
  one, so styles over a :class:`~rich.text.Text` keep their place.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text


def _picture(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ … ␟ (␛ for ESC)
    if code == 0x7F:
        return "\u2421"  # ␡
    return "\ufffd"  # C1 controls (0x80-0x9f): no picture of their own


_PICTURES = {code: _picture(code) for code in (*range(0x20), *range(0x7F, 0xA0))
             if chr(code) not in "\n\t"}


def printable(text: str) -> str:
    """``text`` with every control character but newline and tab made visible."""
    return text.translate(_PICTURES)


def printable_text(text: Text) -> Text:
    """A Text with its control characters made visible, its styles kept."""
    plain = text.plain
    safe = printable(plain)
    if safe == plain:
        return text
    copy = text.copy()
    copy.plain = safe
    return copy


def cell(value: Any) -> Any:
    """A DataTable cell that shows ``value`` literally: strings escaped for markup and made
    printable, Text made printable, anything else as it is."""
    if isinstance(value, str):
        safe = printable(value)
        escaped = escape(safe)
        # escape() doubles a trailing backslash for text concatenated after it; a cell is
        # the whole markup, so that would only show an extra backslash
        single = safe.endswith("\\") and not safe.endswith("\\\\")
        return escaped[:-1] if single else escaped
    if isinstance(value, Text):
        return printable_text(value)
    return value
