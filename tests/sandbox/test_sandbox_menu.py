"""The sandbox menu in the console (Textual Pilot at 80x24) against a running sandbox:
``S`` lists every scenario with what check will say, Enter switches the real sandbox,
Esc changes nothing, and Ctrl+C quits. The plain console has no ``S`` at all."""

from __future__ import annotations

import httpx
import pytest

from console.config import load_file
from sandbox.control import switch_scenario
from sandbox.scenarios import SCENARIOS
from screens.app import McpOpsApp
from screens.sandbox_app import SandboxConsoleApp
from screens.sandbox_menu import SandboxMenu

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def status(control) -> dict:
    return httpx.get(f"{control.url}/v1/status", timeout=10,
                     headers={"Authorization": f"Bearer {control.token}"}).json()


async def wait_for(pilot, condition, tries: int = 100) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.1)
    raise AssertionError("condition not reached")


async def test_menu_switches_the_running_sandbox(embedded_sandbox, control, fixed_operator):
    switch_scenario(control, "healthy")
    config = load_file(embedded_sandbox.config)
    app = SandboxConsoleApp(config, "sandbox", control=control, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxMenu)
                       and app.screen.scenarios)
        menu = app.screen
        assert [s["name"] for s in menu.scenarios] == list(SCENARIOS)
        assert menu.current == "healthy"
        # every scenario's description is shown whole at 80x24: no row of it cut off
        about = menu.query_one("#sandbox-description")
        for name in SCENARIOS:
            menu.query_one("#sandbox-scenarios").highlighted = list(SCENARIOS).index(name)
            await pilot.pause()
            needed = about.get_content_height(about.size, about.size, about.content_size.width)
            assert needed <= about.content_size.height, (name, needed, about.content_size)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SandboxMenu))
        assert status(control)["scenario"] == "healthy"

        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(app.screen, SandboxMenu)
                       and app.screen.scenarios)
        await pilot.press("down", "down", "down", "enter")  # healthy -> high-error-rate
        await wait_for(pilot, lambda: not isinstance(app.screen, SandboxMenu), tries=300)
        assert status(control)["scenario"] == "high-error-rate"
        assert "high-error-rate" in app.title
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: not app.is_running)
    switch_scenario(control, "healthy")


async def test_the_plain_console_has_no_sandbox_key(example_config, fixed_operator):
    app = McpOpsApp(example_config, "staging", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("S")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, SandboxMenu)
        assert "S" not in [key for key, _ in app.key_help()]
