"""The log viewer following a stream of ``lines`` lines of about 150 bytes (1,000,000,
~150 MB; ``--quick`` 100,000): lines per second from the first line to the viewer's
count reaching the last, and the process's RSS after the first tenth and at the end
(flat: the buffer and the screen keep ``ui.output_line_cap`` lines, not the stream).

The viewer (``screens.log_viewer.LogViewer``) runs headless in a Textual app; its stream
is the one it is handed, here a generator of log lines passed through the same
:class:`Redactor` as a pod's log, yielding to the event loop every 1,000 lines as a
socket read of ~150 KB would.
"""

from __future__ import annotations

import asyncio
import time

from bench_table import Row

GOAL_RATE = 100_000


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class SyntheticLog:
    container = "mcp-server"

    def __init__(self, lines: int, marks: dict) -> None:
        from console.execution.redaction import Redactor

        self.lines = lines
        self.marks = marks
        self.redact = Redactor().text

    def __aiter__(self):
        return self._lines()

    async def _lines(self):
        redact = self.redact
        self.marks["start"] = time.perf_counter()
        for i in range(self.lines):
            level = "ERROR" if i % 97 == 0 else "INFO"
            yield redact(f"2026-12-06T19:00:00.{i % 1000:03d}Z {level} mcp_server.handlers "
                         f"request id=req-{i:09d} path=/v1/tools/call status=200 "
                         f"duration_ms={i % 500} user=u{i % 1000:04d} bytes={i % 65536}")
            if i % 1000 == 999:
                await asyncio.sleep(0)

    async def aclose(self) -> None:
        pass


async def follow(lines: int) -> tuple[float, float, float]:
    from textual.app import App

    from screens.log_viewer import LogViewer

    marks: dict = {}

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(LogViewer("mcp-server-0", open_stream=lambda *a: SyntheticLog(lines, marks)))

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        viewer = None
        tenth = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            await pilot.pause(0.05)
            viewer = app.screen if isinstance(app.screen, LogViewer) else None
            if viewer is None:
                continue
            if tenth is None and viewer.buffer.received >= lines // 10:
                tenth = rss_mb()
            if viewer.buffer.received >= lines:
                break
        done = time.perf_counter()
        if viewer is None or viewer.buffer.received < lines:
            raise RuntimeError("the viewer did not follow the whole stream in 10 minutes")
    return lines / (done - marks["start"]), tenth or 0.0, rss_mb()


def measure(opts, progress) -> list[Row]:
    lines = 100_000 if opts.quick else 1_000_000
    rate, tenth, end = asyncio.run(follow(lines))
    flat = end - tenth < 50
    return [Row(f"log viewer: {lines:,} lines (~{lines * 150 / 1e6:.0f} MB) followed through it",
                f"{rate:,.0f} lines/s; RSS {tenth:.0f} MB at a tenth, {end:.0f} MB at the end",
                "—", "—", f"≥ {GOAL_RATE // 1000}k lines/s, flat memory",
                rate >= GOAL_RATE and flat)]
