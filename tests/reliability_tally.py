"""The reliability suite's tally (``tests/reliability/conftest.py`` hands it to tests as
the ``tally`` fixture). Under pytest-xdist each worker keeps its own; at the end a worker
sends it to the controller (:func:`as_dict`), which adds them up (:func:`merge`) and prints
the one summary line, so the figures are the whole run's however many workers ran it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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

    def as_dict(self) -> dict:
        """Plain JSON types, as xdist's ``workeroutput`` carries them."""
        out = asdict(self)
        out["matrix"] = [[s, f, cell] for (s, f), cell in self.matrix.items()]
        return out

    def merge(self, other: dict) -> None:
        for name in ("faults_tried", "faults_survived", "inputs_tried", "leaks_found",
                     "tamper_tried", "tamper_caught"):
            setattr(self, name, getattr(self, name) + int(other.get(name, 0)))
        self.leak_places += list(other.get("leak_places", ()))
        for source, fault, cell in other.get("matrix", ()):
            self.matrix[(source, fault)] = cell

    @property
    def anything(self) -> bool:
        return bool(self.faults_tried or self.inputs_tried or self.tamper_tried
                    or self.leak_places)

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
