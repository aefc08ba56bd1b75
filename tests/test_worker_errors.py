"""Worker failures in the console: every one reaches the App's single handler and is shown
as a notification (title from the McpOpsError, text taken literally), none quits the app,
and the session-log viewer lists and verifies off the UI thread."""

from __future__ import annotations

import contextlib
import os
import threading
import time

import pytest
from textual.widgets import Static
from wizard_support import load_config, write_config

from console.execution.model import Plan, Risk, Step, Wizard
from console.execution.redaction import Redactor
from console.execution.session_log import SessionLog
from screens.app import McpOpsApp
from screens.log_viewer import LogViewer
from screens.session_log_view import SessionLogView
from screens.wizard_runner import WizardRunner

pytestmark = pytest.mark.timeout(60)


async def nothing(ctx):
    yield "nothing"


WIZARD = Wizard("worker-test", "Worker test", "Test", "in tests", steps=(
    Step("one", "One", "why", Risk.CHANGE, lambda ctx: Plan("one"), nothing),))


async def wait_for(pilot, condition, what: str, timeout: float = 15.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def toasts(app) -> list[str]:
    return [str(toast.render()) for toast in app.screen.query("Toast")]


@pytest.fixture
def config(tmp_path):
    return load_config(write_config(tmp_path))


async def test_resuming_a_busy_session_is_shown_not_lost(config, tmp_path, fixed_operator):
    """Another process still writes the log (it holds the lock): the runner's begin worker
    fails with SessionLogBusy; the App shows it, the app keeps running, escape closes."""
    busy = SessionLog.create(tmp_path / "sessions", label=WIZARD.id, env="sandbox",
                             operator=fixed_operator, redactor=Redactor())
    busy.append("session_start", {"wizard": WIZARD.id, "read_only": False}, sync=True)
    try:
        app = McpOpsApp(config, "sandbox", operator=fixed_operator)
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            runner = WizardRunner(config=config, env_name="sandbox", wizard=WIZARD,
                                  read_only=False, operator=fixed_operator, resume=busy.path)
            await app.push_screen(runner)
            await wait_for(pilot, lambda: any("Session busy" in t for t in toasts(app)),
                           "the notification")
            [shown] = [t for t in toasts(app) if "Session busy" in t]
            assert f"session {busy.path.stem} is still being written" in shown
            status = str(runner.query_one("#status", Static).render())
            assert "could not start" in status and app.is_running
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is not runner, "the runner closed")
            assert app.is_running and app.return_code is None
    finally:
        busy.close()


async def test_a_log_stream_that_cannot_open_does_not_quit_the_app(config, fixed_operator):
    def opener(app, pod, container, tail):
        raise RuntimeError("pod [bold]mcp-1[/] is gone [x")  # not markup: shown as is

    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        viewer = LogViewer("mcp-1", open_stream=opener)
        await app.push_screen(viewer)
        await wait_for(pilot, lambda: any("RuntimeError" in t for t in toasts(app)),
                       "the notification")
        assert any("pod [bold]mcp-1[/] is gone [x" in t for t in toasts(app))
        assert "stream could not be opened" in str(viewer.query_one("#log-status").render())
        assert app.is_running and app.return_code is None
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is not viewer, "back")


async def test_session_logs_are_listed_off_the_ui_thread(config, tmp_path, fixed_operator):
    """A session "log" that is a FIFO blocks whoever reads it until a writer comes: the
    listing waits on it in its thread while the screen keeps answering keys."""
    directory = tmp_path / "sessions"
    log = SessionLog.create(directory, label="scaling", env="sandbox", operator=fixed_operator,
                            redactor=Redactor())
    log.append("session_start", {"wizard": "scaling", "read_only": False}, sync=True)
    log.close()
    slow = directory / "29990101-000000-slow-0000.jsonl"
    os.mkfifo(slow)
    released = threading.Event()

    def release() -> None:  # a writer opens and closes the FIFO each time a reader waits
        while not released.is_set():
            with contextlib.suppress(OSError):
                os.close(os.open(slow, os.O_WRONLY | os.O_NONBLOCK))
            released.wait(0.01)

    releaser = threading.Thread(target=release, daemon=True)
    app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
    try:
        async with app.run_test(size=(80, 24), notifications=True) as pilot:
            view = SessionLogView(directory)
            await app.push_screen(view)
            await pilot.pause(0.3)
            assert not view.listed and view.sessions == []  # still blocked on the FIFO
            assert "reading and verifying" in str(view.query_one("#verdict").render())
            await pilot.press("v", "x", "r")  # nothing selected yet: nothing happens
            assert app.screen is view
            releaser.start()
            await wait_for(pilot, lambda: view.listed, "the listing")
            assert [s.id for s in view.sessions] == [slow.stem, log.id]
            await pilot.press("escape")
            assert app.screen is not view
    finally:  # never leave a listing thread blocked on the FIFO behind the test
        if releaser.ident is None:
            releaser.start()
            time.sleep(0.5)
        released.set()
        releaser.join(5)
