"""``./dev bench``'s runner prints one table and the goals line (issue 18).

The runner is run as ``./dev bench`` runs it, on its cheapest section only (start times),
and the shape of what it prints is checked: the header, one row per figure with six cells,
and a last line ``bench: N of M goals met`` that agrees with the rows' ``met`` column.
The figures themselves are not asserted: timings are for reading, not for pass/fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.timeout(120)


def test_quick_bench_prints_the_table_and_the_goals_line():
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--quick", "--only", "start"],
                          cwd=ROOT, capture_output=True, text=True, timeout=100,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| what | ours | against | ratio | goal | met |"
    assert table[1] == "|---|---|---|---|---|---|"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    assert rows and all(len(r) == 6 for r in rows), rows
    assert any(r[0].startswith("start: `mcp-ops --help`") for r in rows)
    assert all(r[5] in ("yes", "NO", "—") for r in rows)
    last = re.fullmatch(r"bench: (\d+) of (\d+) goals met", lines[-1])
    assert last, lines[-1]
    assert int(last[1]) == sum(r[5] == "yes" for r in rows)
    assert int(last[2]) == sum(r[5] in ("yes", "NO") for r in rows) >= 1
