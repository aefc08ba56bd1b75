"""Hostile text from the platform is shown literally, never interpreted; small and changing
terminal sizes do not crash; output piped into a reader that goes away ends quietly.

Text comes from the real parts: Warning events and log lines written into the Kubernetes
emulator (in this loop), a query running on the real PostgreSQL, the output and error of a
wizard step. It holds Rich markup (``[bold]``, ``[link=...]``, an unbalanced ``[/]`` that
once raised ``MarkupError``), ANSI escapes (ESC, the 8-bit CSI ``\\x9b``) and other control
characters. What the terminal would receive is read from the screen's compositor: no
control character may be in it, and the markup must be there as typed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.text import Text
from textual.widgets import DataTable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from health_support import PG_DSN, HealthServer, emulator, live_environment  # noqa: E402
from waiting import until  # noqa: E402
from wizard_support import ROOT, cli_env, load_config, write_config  # noqa: E402

from console.config.model import Config  # noqa: E402
from console.execution.model import Plan, Risk, Step, StepFailed, Wizard  # noqa: E402
from console.identity import Operator  # noqa: E402
from screens.app import McpOpsApp  # noqa: E402
from screens.database_view import DatabaseView  # noqa: E402
from screens.literal import cell, printable  # noqa: E402
from screens.log_viewer import LogViewer  # noqa: E402
from screens.panels import DatabasePanel, PodsPanel  # noqa: E402
from screens.pods_view import PodDetail, PodsView  # noqa: E402
from screens.wizard_runner import WizardRunner  # noqa: E402

pytestmark = pytest.mark.timeout(120)
NS, CONTAINER = "mcp-production", "mcp-server"
# markers without spaces, so that wrapping never splits one
MARKUP = ["[bold]H1[/]", "[link=https://e.x]H2[/link]", "[/]H3", "[red]H4"]
CONTROLS = "\x1b[2J\x1b]0;pwned\x07\x9b31m\x00\x7f"
HOSTILE = " ".join(MARKUP) + " " + CONTROLS + "H5"
TRIED = {"n": 0}


@pytest.fixture(scope="module", autouse=True)
def _report_inputs(tally):
    yield
    tally.inputs(TRIED["n"])


def screen_text(app) -> str:
    """What the terminal would be sent for the current screen, without the styles."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def assert_literal(app, *, markers=MARKUP) -> str:
    """No control character reaches the terminal; the markers show as typed."""
    TRIED["n"] += 1
    text = screen_text(app)
    controls = {repr(c) for c in text.replace("\n", "") if unicodedata.category(c) == "Cc"}
    assert not controls, f"control characters sent to the terminal: {controls}"
    missing = [m for m in markers if m not in text]
    assert not missing, f"not shown literally: {missing}\n{text}"
    assert app.export_screenshot()  # a screen capture of it works too
    return text


async def wait_until(pilot, predicate, what: str, seconds: float = 30):
    return await until(predicate, seconds, interval=0.1, sleep=pilot.pause, what=what)


# ---- the one place tables and logs make foreign text literal --------------------------
@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(st.one_of(st.characters(codec="utf-8", exclude_categories=["Cs"]),
                         st.sampled_from("[]/\\=@#\x1b\x9b")), max_size=60))
def test_a_table_cell_shows_any_text_as_it_is(value):
    TRIED["n"] += 1
    shown = Text.from_markup(cell(value)).plain  # what DataTable does with a str cell
    assert shown == printable(value)
    assert not any(unicodedata.category(c) == "Cc" for c in shown.replace("\n", "").replace(
        "\t", ""))


# ---- dashboard, drill-downs and the log viewer, on live data --------------------------
@pytest.fixture
async def hostile_platform(tmp_path):
    """The emulated cluster with a hostile Warning event and log line on one MCP-server
    pod, and a query holding hostile text running on the real PostgreSQL."""
    service = await HealthServer().start()
    kubeconfig = tmp_path / "kubeconfig"
    holder = await asyncpg.connect(PG_DSN)
    sleeper = asyncio.create_task(holder.execute(
        f"SELECT pg_sleep(120) /* {HOSTILE.replace(chr(0), '')} */"))  # no NUL in SQL
    try:
        async with emulator(kubeconfig, speed=10) as (cluster, _server):
            pod = next(p for p in cluster.store.iter("pods", NS)
                       if (p["metadata"].get("labels") or {}).get("app") == "mcp-server")
            name = pod["metadata"]["name"]
            cluster.store.create("events", {
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"{name}.hostile", "namespace": NS},
                "involvedObject": {"kind": "Pod", "namespace": NS, "name": name,
                                   "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
                "reason": "[bold]Unhealthy", "type": "Warning", "count": 1,
                "message": HOSTILE, "lastTimestamp": cluster.clock.timestamp(cluster.clock.now()),
                "source": {"component": "kubelet"},
            })
            from sandbox.kube.log_book import append_log_line

            append_log_line(cluster, NS, name, CONTAINER, "ERROR " + HOSTILE)
            config = Config.model_validate({
                "ui": {"refresh_seconds": 0.5, "source_timeout_seconds": 3},
                "environments": {"live": live_environment(
                    service.url, "http://127.0.0.1:9", kubeconfig)},
            })
            yield config, name, holder
    finally:
        sleeper.cancel()
        await holder.close(timeout=5)
        await service.stop()


async def test_dashboard_drilldowns_and_log_viewer_show_hostile_text_literally(
        hostile_platform):
    config, pod, holder = hostile_platform
    app = McpOpsApp(config, "live", operator=Operator("oncall", "ops-1"))
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.query_one(PodsPanel)
        await wait_until(pilot, lambda: panel.snapshot is not None, "pods")
        assert_literal(app, markers=[])  # the dashboard at 80x24

        # the pods drill-down, then the pod's detail with its hostile Warning event
        panel.focus()
        await pilot.press("enter")
        assert isinstance(app.screen, PodsView)
        view = app.screen
        table = view.query_one(DataTable)
        await wait_until(pilot, lambda: pod in {k.value for k in table.rows}, "the pod row")
        table.move_cursor(row=table.get_row_index(pod))
        await pilot.press("enter")
        assert isinstance(app.screen, PodDetail)
        await pilot.resize_terminal(160, 40)  # the event message on one line
        await pilot.pause(0.2)
        text = assert_literal(app)
        assert "[bold]Unhealthy" in text and "␛[2J" in text
        await pilot.press("escape")

        # the log viewer on that pod, following
        await pilot.press("l")
        assert isinstance(app.screen, LogViewer)
        viewer = app.screen
        await wait_until(pilot, lambda: any("H5" in line for line in viewer.visible_lines()),
                         "the hostile log line")
        await pilot.press("2", "space")  # the errors preset, paused: the line stays in view
        await pilot.pause(0.2)
        assert_literal(app)
        await pilot.press("escape", "escape")

        # the database drill-down: the running query's text in the activity table
        app.query_one(DatabasePanel).focus()
        await pilot.press("enter")
        assert isinstance(app.screen, DatabaseView)
        activity = app.screen.query_one("#db-activity", DataTable)
        pid = str(holder.get_server_pid())

        def query_shown() -> str:
            if pid not in {k.value for k in activity.rows}:
                return ""
            return Text.from_markup(activity.get_cell(pid, "query")).plain

        await wait_until(pilot, lambda: "H5" in query_shown(), "the query")
        shown = query_shown()
        assert "[/]H3" in shown and "␛[2J" in shown, shown
        await pilot.pause(0.2)
        assert_literal(app, markers=[])  # the query column is cut at this width
        for size in ((40, 12), (60, 16), (80, 24)):  # small terminals do not crash
            await pilot.resize_terminal(*size)
            await pilot.pause(0.2)
            assert_literal(app, markers=[])
        await pilot.press("escape")
        await pilot.resize_terminal(40, 12)
        await pilot.pause(0.3)
        assert_literal(app, markers=[])  # the dashboard at 40x12


# ---- wizard output, and a resize in the middle of a run -------------------------------
def hostile_wizard(gate: asyncio.Event) -> Wizard:
    async def talk(ctx):
        yield "before " + HOSTILE
        await gate.wait()  # the test resizes the terminal meanwhile
        yield "after " + HOSTILE

    async def fail(ctx):
        yield "failing"
        raise StepFailed("the platform said: " + HOSTILE)

    def plan(ctx):
        return Plan("look at " + HOSTILE, (Plan.command("kubectl", "get", "pods", "[bold]x"),))

    return Wizard("hostile-text", "Hostile text", "Test › Hostile", "in tests", steps=(
        Step("talk", "Talk", "prints what the platform said", Risk.READ, plan, talk),
        Step("fail", "Fail", "fails with what the platform said", Risk.READ, plan, fail),
    ))


@pytest.mark.parametrize("size", [(80, 24), (40, 12)])
async def test_wizard_output_is_literal_and_a_resize_mid_run_does_not_crash(
        tmp_path, fixed_operator, size):
    config = load_config(write_config(tmp_path))
    gate = asyncio.Event()
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=size) as pilot:
        runner = WizardRunner(config=config, env_name="sandbox", wizard=hostile_wizard(gate),
                              read_only=False, operator=fixed_operator)
        await app.push_screen(runner)
        output = runner.query_one("#output")
        await wait_until(pilot, lambda: runner.driver is not None and not runner.busy,
                         "the first plan")
        await pilot.press("r")  # the first step waits for the operator
        await wait_until(pilot, lambda: any("before" in line for line in output.lines),
                         "the first output")
        await pilot.pause(0.2)
        assert_literal(app, markers=[] if size[0] < 80 else MARKUP)
        other = (40, 12) if size == (80, 24) else (120, 40)
        await pilot.resize_terminal(*other)  # while the step runs
        await pilot.pause(0.2)
        gate.set()
        await wait_until(pilot, lambda: runner.finished is not None or runner.index == 1
                         and not runner.busy, "the failing step")
        await wait_until(pilot, lambda: any("failing" in line for line in output.lines),
                         "the second step")
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.3)
        assert_literal(app)
        assert all(unicodedata.category(c) != "Cc" for line in output.lines for c in line)


# ---- a reader that closes early -------------------------------------------------------
def early_close(tmp_path: Path, *args: str) -> tuple[int, str]:
    """Run ``mcp-ops ARGS`` with its stdout a pipe whose reader is gone before it writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader went away (`| head -0`)
    try:
        done = subprocess.run([sys.executable, "-m", "console", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, env=cli_env(tmp_path),
                              cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def test_every_command_ends_quietly_when_its_reader_goes_away(tmp_path):
    config = str(write_config(tmp_path))
    done = subprocess.run([sys.executable, "-m", "console", "--config", config, "run",
                           "morning-health-check", "--env", "sandbox", "--dry-run"],
                          capture_output=True, text=True, env=cli_env(tmp_path), cwd=ROOT,
                          timeout=120)
    session = done.stdout.split("session ")[1].split()[0]
    commands = [
        ["--help"], ["wizards"], ["config", "validate", config],
        ["--config", config, "run", "morning-health-check", "--env", "sandbox", "--dry-run"],
        ["--config", config, "run", "--help"],
        ["--config", config, "log", "list"], ["--config", config, "log", "show", session],
        ["--config", config, "log", "export", session],
        ["--config", config, "log", "verify", session],
        ["--config", config, "check", "sandbox"],
    ]
    for args in commands:
        TRIED["n"] += 1
        code, err = early_close(tmp_path, *args)
        assert "Traceback" not in err and "BrokenPipeError" not in err, (args, err)
        assert code in (0, 128 + signal.SIGPIPE) or (args[-2:] == ["check", "sandbox"]
                                                     and code == 3), (args, code, err)
    # a dry run cut short is ended all the same: not left resumable (a resume runs for real)
    listed = subprocess.run([sys.executable, "-m", "console", "--config", config, "log", "list"],
                            capture_output=True, text=True, env=cli_env(tmp_path), cwd=ROOT,
                            timeout=120)
    assert listed.stdout.count("morning-health-check") >= 2, listed.stdout
    assert "resumable" not in listed.stdout, listed.stdout
