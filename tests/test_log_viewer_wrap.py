"""The pod log viewer at 80x24 wraps long lines instead of cutting them, and wraps them
again after a resize; filters and pause still act on whole lines."""

from __future__ import annotations

import asyncio

import pytest
from wizard_support import load_config, write_config

from screens.app import McpOpsApp
from screens.log_viewer import LogViewer
from screens.wrap_log import WrapLog, wrap_text

pytestmark = pytest.mark.timeout(60)

LINES = [
    "INFO request completed path=/api/v1/tools/search status=200 duration_ms=48 "
    "user=tenant-0042 trace=4bf92f3577b34da6a3ce929d0e0e4736 bytes=18211",
    "ERROR upstream timeout after 30000 ms calling postgres-production-primary.mcp-production"
    ".svc.cluster.local:5432 (pool 20/20 busy, 14 waiting) — retry 3 of 3 failed",
    "short line",
]


class FakeStream:
    """What ``open_pod_log`` hands the viewer: redacted lines and a close."""

    container = "mcp-server"

    def __init__(self, lines):
        self.lines = lines
        self.closed = False

    def __aiter__(self):
        return self._gen()

    async def _gen(self):
        for line in self.lines:
            yield line
        await asyncio.sleep(3600)  # a live stream: more may come

    async def aclose(self):
        self.closed = True


def squeezed(text: str) -> str:
    return "".join(text.split())


async def test_long_pod_log_lines_wrap_whole(tmp_path, fixed_operator):
    config = load_config(write_config(tmp_path))
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        viewer = LogViewer("mcp-server-0", open_stream=lambda *a: FakeStream(LINES))
        await app.push_screen(viewer)
        for _ in range(100):
            if len(viewer.visible_lines()) == 3:
                break
            await pilot.pause(0.05)
        log = viewer.query_one(WrapLog)
        for size in ((80, 24), (50, 24), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            width = log.scrollable_content_region.width
            assert width < len(LINES[0])
            rows = log.rows()
            assert all(len(row) <= width for row in rows)
            assert len(rows) > 3 and squeezed("".join(rows)) == squeezed("".join(LINES))
        await pilot.press("2")  # the errors preset: whole lines match, wrapped or not
        await pilot.pause()
        assert viewer.visible_lines() == [LINES[1]]
        assert squeezed("".join(log.rows())) == squeezed(LINES[1])


def test_wrap_text_breaks_at_spaces_and_indents_continuations():
    line = "  ~ host: postgres-production-primary -> postgres-recovery (switched)"
    rows = wrap_text(line, 30)
    # a word too long for any row is cut where the row ends (no half-empty row first);
    # the others move whole to the next row, indented under the line's own indent
    assert rows == ["  ~ host: postgres-production-", "    primary ->",
                    "    postgres-recovery", "    (switched)"]
    assert all(len(r) <= 30 for r in rows)
    assert wrap_text("short", 30) == ["short"] and wrap_text("", 30) == [""]
    assert wrap_text("x" * 25, 10) == ["x" * 10, "  " + "x" * 8, "  " + "x" * 7]
    wide = "状态正常" * 10  # two cells a character
    assert all(sum(2 for _ in r.strip()) <= 20 for r in wrap_text(wide, 20))


async def test_wrap_log_keeps_max_lines_and_appends_like_log(fixed_operator, tmp_path):
    from textual.app import App

    class One(App):
        def compose(self):
            yield WrapLog(max_lines=3)

    app = One()
    async with app.run_test(size=(20, 10)) as pilot:
        log = app.query_one(WrapLog)
        log.write_lines(["a" * 40, "b", "c", "d"])
        await pilot.pause()
        assert log.lines == ["b", "c", "d"] and log.rows() == ["b", "c", "d"]
        log.write("e partial")
        log.write(" and the rest\n")
        log.write_line("")  # a blank line is a row, as in the output
        assert log.lines == ["d", "e partial and the rest", ""]
        assert "".join(log.rows()).replace(" ", "").endswith("epartialandtherest")
        log.clear()
        assert log.line_count == 0 and log.rows() == []
