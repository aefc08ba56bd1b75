"""A log pane whose long lines wrap to its width instead of being cut at the right edge.

At 80 columns the end of a line is where the figures are (``… 6/6 ready, 6 updated``), so
the runner's output, the pod log viewer and the session-log view show every line whole:
word-wrapped at spaces, a word longer than a row cut, continuation rows indented under
the line's own indent (two more columns), so a wrapped line never reads as a new one.

:class:`WrapLog` is a :class:`textual.widgets.Log` — same ``write_line``/``write_lines``/
``clear``, ``lines`` (the lines as written), ``line_count``, ``max_lines`` and
``auto_scroll`` — that keeps the wrapped rows of each line and wraps them again when its
width changes (a resize, a scrollbar).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.cells import cell_len, get_character_cell_size
from rich.segment import Segment
from textual.events import Resize
from textual.geometry import Size
from textual.strip import Strip
from textual.widgets import Log

from .literal import printable

HANG = 2  # continuation rows: the line's own indent plus this many columns


def _chop(text: str, room: int) -> str:
    """The longest start of ``text`` that fits in ``room`` cells (at least one character)."""
    if text.isascii():
        return text[:max(room, 1)]
    used = 0
    for i, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > room:
            return text[:max(i, 1)]
    return text


def wrap_text(line: str, width: int, hang: int | None = None) -> list[str]:
    """``line`` as rows of at most ``width`` cells: broken at the last space that fits; a
    word longer than a row is cut where the row ends. Continuation rows start with ``hang`` spaces (default:
    the line's own indent plus :data:`HANG`), at most half the width."""
    if width <= 0:
        return [line]
    if line.isascii():  # one cell a character: most log lines, and len() is 10x cheaper
        if len(line) <= width:
            return [line]
        measure = len
    elif cell_len(line) <= width:
        return [line]
    else:
        measure = cell_len
    lead = len(line) - len(line.lstrip(" "))
    indent = " " * min(lead + HANG if hang is None else hang, width // 2)
    pieces: list[str] = []
    rest, room, start = line, width, lead + 1  # no break inside the leading indent
    while measure(rest) > room:
        head = _chop(rest, room)
        if rest[len(head):len(head) + 1] == " ":  # the row ends just before a space
            cut = len(head)
        else:
            space = head.rfind(" ", start)
            cut = space if space > 0 else len(head)
            word = rest[cut:].lstrip(" ").split(" ", 1)[0]
            if measure(word) > width - len(indent):  # cut anyway on the next row: fill this one
                cut = len(head)
        pieces.append(rest[:cut].rstrip(" ") or rest[:cut])
        rest = rest[cut:].lstrip(" ")
        room, start = max(width - len(indent), 1), 1
    if rest or not pieces:
        pieces.append(rest)
    return pieces[:1] + [indent + piece for piece in pieces[1:]]


class WrapLog(Log):
    """A :class:`Log` whose lines wrap to its width (see the module's docstring)."""

    DEFAULT_CSS = """
    WrapLog { overflow-x: hidden; overflow-y: scroll; scrollbar-size-vertical: 1; }
    """
    ALLOW_SELECT = False

    def __init__(self, *, max_lines: int | None = None, auto_scroll: bool = True,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=auto_scroll, name=name, id=id,
                         classes=classes)
        self._rows: list[str] = []  # every line's rows, in order
        self._counts: list[int] = []  # how many rows each line has
        self._wrapped_at = 0  # the width the rows were made for; 0: not laid out yet
        self._line_open = False  # the last line has no ending yet: ``write`` adds to it

    @property
    def allow_select(self) -> bool:
        return False

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def row_count(self) -> int:
        """Rows on screen (wrapped) — ``line_count`` or more."""
        return len(self._rows)

    def rows(self) -> list[str]:
        """The wrapped rows, as shown (for tests)."""
        return list(self._rows)

    def _text_width(self) -> int:
        return self.scrollable_content_region.width

    def _wrap(self, line: str) -> list[str]:
        return wrap_text(self._process_line(line), self._wrapped_at)

    def write(self, data: str, scroll_end: bool | None = None) -> WrapLog:
        """Text with or without line endings; a first piece without one goes on the
        last line, as :meth:`Log.write` does."""
        if not data:
            return self
        parts = data.splitlines()
        if self._lines and self._line_open and parts:
            parts[0] = self._lines.pop() + parts[0]
            del self._rows[len(self._rows) - self._counts.pop():]
        self.write_lines(parts, scroll_end)
        self._line_open = not data.endswith(("\n", "\r"))
        return self

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> WrapLog:
        at_end = self.is_vertical_scroll_end
        self._line_open = False
        # control characters made visible: an ESC in a log line must not reach the terminal
        new = [printable(part) for line in lines for part in (line.splitlines() or [""])]
        self._lines.extend(new)
        for line in new:
            rows = self._wrap(line)
            self._rows.extend(rows)
            self._counts.append(len(rows))
        if self.max_lines is not None and len(self._lines) > self.max_lines:
            self._prune_max_lines()
        self._resized(at_end, scroll_end)
        return self

    def _prune_max_lines(self) -> None:
        if self.max_lines is None:
            return
        drop = len(self._lines) - self.max_lines
        if drop > 0:
            del self._rows[:sum(self._counts[:drop])]
            del self._counts[:drop]
            del self._lines[:drop]

    def clear(self) -> WrapLog:
        self._lines.clear()
        self._rows.clear()
        self._counts.clear()
        self.virtual_size = Size(0, 0)
        self.refresh()
        return self

    def _resized(self, at_end: bool, scroll_end: bool | None = None) -> None:
        self.virtual_size = Size(self._wrapped_at, len(self._rows))
        follow = self.auto_scroll if scroll_end is None else scroll_end
        if follow and at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.refresh()

    def _rewrap(self) -> None:
        width = self._text_width()
        if width <= 0 or width == self._wrapped_at:
            return
        at_end = self.is_vertical_scroll_end or not self._rows
        self._wrapped_at = width
        self._rows, self._counts = [], []
        for line in self._lines:
            rows = self._wrap(line)
            self._rows.extend(rows)
            self._counts.append(len(rows))
        self._resized(at_end)

    def on_resize(self, event: Resize) -> None:
        self._rewrap()  # the vertical scrollbar is always there: only a resize changes it

    def render_line(self, y: int) -> Strip:
        width = self._text_width()
        style = self.rich_style
        row = self.scroll_offset.y + y
        if row >= len(self._rows):
            return Strip.blank(width, style)
        text = self._rows[row]
        return Strip([Segment(text, style)], cell_len(text)).crop_extend(0, width, style)
