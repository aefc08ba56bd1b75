"""A healthy sandbox judged as the dashboard judges it, for minutes on end (prints figures;
exit 1 when anything but HEALTHY was seen once every component had answered).

    .venv/bin/python benchmarks/soak_healthy_dashboard.py [--seconds 300]

Issue 14's "a healthy sandbox shows no WARNING on the dashboard for 5 minutes". It starts
``mcp-ops sandbox serve``, then runs what the dashboard's hub (``screens/polling.py``) runs
— the environment's collectors with ``watch=True``, one :class:`console.polling.Poller` per
component at the config's refresh interval, ``evaluate`` after every poll — without the
screen. Every finding worse than HEALTHY is counted by component and check, with its first
and last reason and when it was seen. A flapping figure (error rate judged over too few
requests, a P95 of three samples) shows here long before anyone stares at a panel for
five minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.collectors.registry import SNAPSHOT_TYPES, close_all, collectors_for  # noqa: E402
from console.config import load_file  # noqa: E402
from console.health.evaluate import evaluate  # noqa: E402
from console.health.status import Status  # noqa: E402
from console.polling import Poller  # noqa: E402


@dataclass
class Seen:
    count: int
    status: Status
    first: str
    first_at: float
    last: str
    last_at: float


async def soak(config_path: Path, seconds: float) -> tuple[dict[str, int], int, dict, float]:
    config = load_file(config_path)
    env = config.environments["sandbox"]
    ui = config.ui
    collectors = collectors_for(env, timeout=ui.source_timeout_seconds, watch=True)
    states: dict = {}
    polls = {name: 0 for name in collectors}
    seen: dict[tuple[str, str], Seen] = {}
    evaluations = 0
    started = time.monotonic()
    all_answered: list[float] = []

    def updated(state) -> None:
        nonlocal evaluations
        states[state.name] = state
        polls[state.name] += 1
        if len(states) < len(collectors):
            return  # the header says UNKNOWN until every component answered; so do we
        if not all_answered:
            all_answered.append(time.monotonic() - started)
        evaluations += 1
        report = evaluate({n: s.latest for n, s in states.items()}, env.thresholds)
        now = time.monotonic() - started
        for component in report.components:
            for f in component.findings:
                if f.status == Status.HEALTHY:
                    continue
                key = (component.name, f.check)
                if key in seen:
                    s = seen[key]
                    s.count, s.last, s.last_at = s.count + 1, f.reason, now
                    s.status = max(s.status, f.status)
                else:
                    seen[key] = Seen(1, f.status, f.reason, now, f.reason, now)

    pollers = [Poller(name, c.collect, SNAPSHOT_TYPES[name].failed, updated,
                      interval=ui.refresh_seconds, timeout=ui.source_timeout_seconds,
                      max_backoff=ui.max_backoff_seconds)
               for name, c in collectors.items()]
    for p in pollers:
        p.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        for p in pollers:
            await p.stop()
        await close_all(collectors)
    return polls, evaluations, seen, all_answered[0] if all_answered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sandbox.yaml"
        serve = subprocess.Popen([sys.executable, "-m", "console", "sandbox", "serve",
                                  "--config-out", str(config)], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
        try:
            info = json.loads(serve.stdout.readline())
            print(f"sandbox up (PostgreSQL {info['postgres']['mode']}, Redis "
                  f"{info['redis']['mode']}); soaking {args.seconds:.0f} s; load "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            polls, evaluations, seen, answered = asyncio.run(soak(config, args.seconds))
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(60)
            except subprocess.TimeoutExpired:
                serve.kill()
    print(f"every component answered after {answered:.1f} s; {evaluations} evaluations")
    print("polls: " + ", ".join(f"{k} {v}" for k, v in sorted(polls.items())))
    if not seen:
        print(f"soak: HEALTHY throughout ({args.seconds:.0f} s, nothing worse seen)")
        return 0
    print(f"{'component.check':34} {'worst':8} {'times':>5}  first seen / last seen")
    for (component, check), s in sorted(seen.items(), key=lambda kv: -kv[1].status):
        print(f"{component + '.' + check:34} {s.status.label:8} {s.count:5}  "
              f"{s.first_at:6.1f} s {s.first}")
        if s.last != s.first:
            print(f"{'':50}{s.last_at:6.1f} s {s.last}")
    print(f"soak: {len(seen)} check(s) worse than HEALTHY in {args.seconds:.0f} s")
    return 1


if __name__ == "__main__":
    sys.exit(main())
