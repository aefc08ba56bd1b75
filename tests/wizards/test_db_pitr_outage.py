"""``db-pitr``'s outage against its restore, from the session log's own timestamps.

What matters is the order, not a speed: the restore (and the verification) run while the
application still serves, and the outage — measured from the moment traffic stopped until
every replica is ready again — lies wholly after them, inside the steps that stop traffic,
switch and restart. Read from the hash-chained session log (``ts`` of step_start /
step_end, the ``outage measured`` note), never from sleeps. Whether the outage is also
shorter than the restore depends on the dump's size (a few hundred rows here restore in
about a second, while pods take seconds to become ready); the figures are printed.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from conftest import drive

pytestmark = pytest.mark.timeout(120)


def at(record: dict) -> float:
    return datetime.fromisoformat(record["ts"].replace("Z", "+00:00")).timestamp()


async def test_the_outage_lies_after_the_restore_and_is_measured_within_its_steps(world):
    driven = await drive(world, "db-pitr")
    assert driven.statuses.get("summary") == "ok", driven.text()

    starts = {r["data"]["id"]: at(r) for r in driven.records("step_start")}
    ends = {r["data"]["id"]: at(r) for r in driven.records("step_end")}
    (note,) = [r for r in driven.records("note") if r["data"].get("text") == "outage measured"]
    outage, restore = note["data"]["outage_seconds"], note["data"]["restore_seconds"]

    # the restore and the verification ended before traffic was stopped
    assert ends["restore"] <= ends["verify-data"] <= starts["stop-traffic"]
    # the outage is measured, and lies within stop-traffic .. restart-application
    window = ends["restart-application"] - starts["stop-traffic"]
    assert 0 < outage <= window + 0.01, (outage, window)
    assert restore > 0
    # nothing of the restore is in it: the application served while the dump went in
    restore_step = ends["restore"] - starts["restore"]
    whole = ends["restart-application"] - starts["recovery-instance"]
    assert outage + restore_step <= whole + 0.01
    print(f"\ndb-pitr: restore {restore:.2f} s (step {restore_step:.2f} s), outage "
          f"{outage:.2f} s (steps stop..restart {window:.2f} s), recovery instance..restart "
          f"{whole:.2f} s")
