"""The session-log view (`L`) at 80x24 shows each record whole: a long plan, its
multi-line commands and a long error wrap to the screen instead of being cut."""

from __future__ import annotations

import pytest
from wizard_support import load_config, write_config

from console.execution.redaction import Redactor
from console.execution.session_log import SessionLog
from screens.app import McpOpsApp
from screens.session_log_view import SessionLogView
from screens.wrap_log import WrapLog

pytestmark = pytest.mark.timeout(60)

SUMMARY = ("Create postgres-recovery-pvc, pod postgres-recovery (postgres:15-alpine) and "
           "Service postgres-recovery in mcp-production (each only if missing)")
MANIFEST = ("kubectl apply -n mcp-production -f - <<EOF\nkind: Pod\nspec:\n  env:\n"
            "  - valueFrom:\n      secretKeyRef:\n        name: postgres-credentials\nEOF")
ERROR = ("pg_restore exited 1: pg_restore: error: could not read from input file: end of "
         "file — the way back: run again with way_back=yes")


def squeezed(text: str) -> str:
    return "".join(text.split())


async def test_long_records_wrap_whole(tmp_path, fixed_operator):
    directory = tmp_path / "sessions"
    log = SessionLog.create(directory, label="db-pitr", env="sandbox",
                            operator=fixed_operator, redactor=Redactor())
    log.append("session_start", {"wizard": "db-pitr", "read_only": False})
    log.append("step_plan", {"step": 2, "id": "recovery-instance", "summary": SUMMARY,
                             "commands": [MANIFEST]})
    log.append("step_end", {"step": 3, "status": "failed", "duration": 2.0, "error": ERROR})
    log.append("session_end", {"status": "failed"})
    log.close()
    config = load_config(write_config(tmp_path))
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        view = SessionLogView(directory, Redactor())
        await app.push_screen(view)
        records = view.query_one("#records", WrapLog)
        for _ in range(200):
            if records.line_count:
                break
            await pilot.pause(0.05)
        width = records.scrollable_content_region.width
        rows = records.rows()
        assert width <= 80 and all(len(row) <= width for row in rows)
        shown = squeezed("".join(rows))
        for text in (SUMMARY, MANIFEST, ERROR):
            assert squeezed(text) in shown, text
        assert "        name: postgres-credentials" in rows  # a manifest line, as written


async def test_the_status_of_each_session_is_in_view_at_80_columns(tmp_path, fixed_operator):
    directory = tmp_path / "sessions"
    log = SessionLog.create(directory, label="morning-health-check", env="sandbox",
                            operator=fixed_operator, redactor=Redactor())
    log.append("session_start", {"wizard": "morning-health-check", "read_only": True})
    log.close()  # no session_end: interrupted, resumable
    config = load_config(write_config(tmp_path))
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        view = SessionLogView(directory, Redactor())
        await app.push_screen(view)
        for _ in range(200):
            if view.listed:
                break
            await pilot.pause(0.05)
        await pilot.pause()
        table = view.query_one("#sessions")
        columns = list(table.columns.values())
        assert str(columns[1].label) == "status"
        right = sum(c.get_render_width(table) for c in columns[:2])
        assert right <= table.scrollable_content_region.width  # id and status in view
        assert table.get_row_at(0)[1] == "interrupted ↻"
