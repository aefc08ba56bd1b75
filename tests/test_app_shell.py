"""Pilot tests of the console shell at 80x24: header, six panels, footer, help, switcher, quit."""

from __future__ import annotations

from screens.app import McpOpsApp
from screens.dashboard import Dashboard
from screens.environments import EnvironmentSwitcher
from screens.header import StatusHeader
from screens.help import HelpScreen
from screens.panels import Panel

PANELS = ["Service", "Pods", "Database", "Cache", "Backups", "Alerts"]


def make_app(config, env="production", **kw) -> McpOpsApp:
    """The shell with no live sources: these tests are about layout and keys (live data:
    tests/test_dashboard_*.py)."""
    return McpOpsApp(config, env, operator=kw.pop("operator", None), live=False, **kw)


async def test_shell_at_80x24_shows_header_panels_footer(example_config, fixed_operator, fixed_clock):
    app = McpOpsApp(example_config, "production", operator=fixed_operator, clock=fixed_clock,
                    live=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        header = app.query_one(StatusHeader)
        line = str(header.render())
        assert "PRODUCTION" in line and "oncall@ops-1" in line and "03:00:00" in line
        assert "READ-ONLY" not in line
        panels = list(app.query(Panel))
        assert [p.border_title for p in panels] == PANELS
        for panel in panels:  # every panel is fully on screen at 80x24
            region = panel.region
            assert region.width >= 30 and region.height >= 5
            assert region.right <= 80 and region.bottom <= 23
        footer_text = " ".join(b.description for b in app.screen.active_bindings and
                               [a.binding for a in app.screen.active_bindings.values()])
        assert "Quit" in footer_text and "Help" in footer_text and "Env" in footer_text


async def test_wide_terminal_uses_three_columns(example_config, fixed_operator):
    app = make_app(example_config, operator=fixed_operator)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        panels = list(app.query(Panel))
        assert len({p.region.x for p in panels}) == 3
        assert all(p.region.height >= 25 for p in panels)
    app = make_app(example_config, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert len({p.region.x for p in app.query(Panel)}) == 2


async def test_read_only_badge_from_flag_and_from_environment(example_config, fixed_operator):
    app = make_app(example_config, "staging", read_only=True, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.read_only and "READ-ONLY" in str(app.query_one(StatusHeader).render())
    app = make_app(example_config, "dr", operator=fixed_operator)  # read_only: true in config
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.read_only and "READ-ONLY" in str(app.query_one(StatusHeader).render())


async def test_help_opens_and_closes(example_config, fixed_operator):
    app = make_app(example_config, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        assert keys["q"] == "Quit" and keys["e"] == "Env"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_environment_switcher_changes_environment(example_config, fixed_operator):
    app = make_app(example_config, "production", operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, EnvironmentSwitcher)
        await pilot.press("down", "down", "enter")  # production -> staging -> dr
        await pilot.pause()
        assert app.env_name == "dr"
        assert app.read_only  # dr is read_only in the config
        header = str(app.query_one(StatusHeader).render())
        assert "DR" in header and "READ-ONLY" in header
        assert app.query_one(Dashboard).env_name == "dr"
        assert len(app.query(Panel)) == 6
        await pilot.press("e", "escape")
        await pilot.pause()
        assert app.env_name == "dr"


async def test_forced_read_only_survives_switching(example_config, fixed_operator):
    app = make_app(example_config, "staging", read_only=True, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await app.open_environment("production")
        await pilot.pause()
        assert app.read_only


async def test_q_quits(example_config, fixed_operator):
    app = make_app(example_config, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_command_palette_offers_environment_switch(example_config, fixed_operator):
    app = make_app(example_config, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"switch env")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, EnvironmentSwitcher)


async def test_header_shows_what_the_credentials_may_do(example_config, fixed_operator):
    app = make_app(example_config, "staging", read_only=True, operator=fixed_operator)
    async with app.run_test(size=(80, 24)) as pilot:
        header = app.query_one(StatusHeader)
        assert "creds:" not in str(header.render())  # unknown until the probe answers
        header.credentials_can_write = True
        await pilot.pause()
        line = str(header.render())
        assert "READ-ONLY" in line and "creds:rw" in line
        header.credentials_can_write = False
        await pilot.pause()
        assert "creds:ro" in str(header.render())
