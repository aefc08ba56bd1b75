"""The reliability suite's tally: every test here reports what it tried and what held, and
the run ends with one summary line (issue 19's "faults survived / tried, inputs tried, leaks
found, tamper cases caught / tried"), plus the fault matrix when fault tests ran.

Tests take the ``tally`` fixture and call its methods; they still assert, so a fault that
is not survived fails its test as well as showing in the figures. The tally itself, and
the summary printed at the end, are in ``tests/reliability_tally.py`` and
``tests/conftest.py`` (under pytest-xdist the controller adds up the workers' tallies).
"""

from __future__ import annotations

import pytest
from reliability_tally import TALLY, Tally


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY
