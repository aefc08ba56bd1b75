"""Tables that update by row key: changed cells are rewritten, new rows added, gone rows
removed, and nothing else is touched, so the cursor and scroll position survive a refresh
(DESIGN.md: never clear-and-refill)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from textual.widgets import DataTable

from .literal import cell


def add_columns(table: DataTable, columns: Sequence[tuple[str, str]]) -> None:
    """(label, key) pairs, once."""
    if not table.columns:
        for label, key in columns:
            table.add_column(label, key=key)


def display_table(id: str) -> DataTable:
    """A table only to look at (a panel's extra sections): no cursor, not in the focus
    chain, so ``tab`` and ``enter`` keep going to the panels."""
    table = DataTable(id=id, cursor_type="none", show_cursor=False)
    table.can_focus = False
    return table


def pick(row: Mapping[str, Any], columns: Sequence[tuple[str, str]]) -> list:
    """The cells of ``row`` (cells by column key) for ``columns`` ((label, key) pairs), in
    their order: one row builder serves a narrow panel table and a wide drill-down one."""
    return [row[key] for _, key in columns]


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Sequence[Any]]],
              sort_key: Callable[[Any], Any] | None = None,
              sort_column: str | Sequence[str] | None = None,
              reverse: bool = False) -> None:
    """Make ``table`` hold exactly ``rows`` ((row key, cells) in column order). The cursor
    stays on the same row (by key) when rows above it come or go. Text cells are shown
    literally (:func:`.literal.cell`): no markup, no control characters."""
    selected = _cursor_key(table)
    wanted = {key: cells for key, cells in rows}
    for row_key in list(table.rows):
        if row_key.value not in wanted:
            table.remove_row(row_key)
    column_keys = list(table.columns)
    for key, raw_cells in rows:
        cells = [cell(value) for value in raw_cells]  # foreign text shown, not interpreted
        if key in table.rows:
            for column_key, value in zip(column_keys, cells, strict=False):
                if table.get_cell(key, column_key) != value:
                    table.update_cell(key, column_key, value)
        else:
            table.add_row(*cells, key=key)
    if sort_column is not None:
        columns = (sort_column,) if isinstance(sort_column, str) else tuple(sort_column)
        table.sort(*columns, key=sort_key, reverse=reverse)
    if selected is not None and selected in table.rows:
        index = table.get_row_index(selected)
        if index != table.cursor_row:
            table.move_cursor(row=index, animate=False)


def _cursor_key(table: DataTable) -> str | None:
    if not table.row_count or table.cursor_row < 0:
        return None
    try:
        return table.coordinate_to_cell_key((table.cursor_row, 0)).row_key.value
    except Exception:  # noqa: BLE001 - cursor outside the rows
        return None


def row_keys(table: DataTable) -> list[str]:
    """The row keys in display order."""
    return [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(table.row_count)]
