"""The reliability suite's tally: every test here reports what it tried and what held, and
the run ends with one summary line (issue 19's "faults survived / tried, inputs tried, leaks
found, tamper cases caught / tried"), plus the fault matrix when fault tests ran.

Tests take the ``tally`` fixture and call its methods; they still assert, so a fault that
is not survived fails its test as well as showing in the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass
class Tally:
    faults_tried: int = 0
    faults_survived: int = 0
    inputs_tried: int = 0
    leaks_found: int = 0
    leak_places: list[str] = field(default_factory=list)
    tamper_tried: int = 0
    tamper_caught: int = 0
    # (source, fault) -> "ok" or a short failure reason, for the printed matrix
    matrix: dict[tuple[str, str], str] = field(default_factory=dict)

    def fault(self, source: str, fault: str, survived: bool, why: str = "") -> None:
        self.faults_tried += 1
        self.faults_survived += bool(survived)
        self.matrix[(source, fault)] = "ok" if survived else (why or "FAILED")[:18]

    def inputs(self, n: int) -> None:
        self.inputs_tried += n

    def leaks(self, places: list[str]) -> None:
        self.leaks_found += len(places)
        self.leak_places += places

    def tamper(self, caught: bool) -> None:
        self.tamper_tried += 1
        self.tamper_caught += bool(caught)

    def lines(self) -> list[str]:
        out = []
        if self.matrix:
            sources = list(dict.fromkeys(s for s, _ in self.matrix))
            faults = list(dict.fromkeys(f for _, f in self.matrix))
            width = max(len(s) for s in sources)
            out.append(" " * width + "  " + "  ".join(f"{f:>12}" for f in faults))
            for s in sources:
                cells = [self.matrix.get((s, f), "-") for f in faults]
                out.append(f"{s:<{width}}  " + "  ".join(f"{c:>12}" for c in cells))
            out.append("(a cell: ok, or why the fault was not survived; - not tried)")
        out.append(f"reliability: faults survived {self.faults_survived}/{self.faults_tried}, "
                   f"inputs tried {self.inputs_tried}, leaks found {self.leaks_found}, "
                   f"tamper cases caught {self.tamper_caught}/{self.tamper_tried}")
        out += [f"  leak: {place}" for place in self.leak_places]
        return out


TALLY = Tally()


@pytest.fixture(scope="session")
def tally() -> Tally:
    return TALLY


def pytest_terminal_summary(terminalreporter) -> None:
    if not (TALLY.faults_tried or TALLY.inputs_tried or TALLY.tamper_tried or TALLY.leak_places):
        return
    terminalreporter.section("reliability")
    for line in TALLY.lines():
        terminalreporter.write_line(line)
