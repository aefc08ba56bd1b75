"""``./dev bench``: every figure of issue 18 measured in one run, printed as one table.

    .venv/bin/python benchmarks/run.py [--quick] [--only NAME,...] [--pods N]

Each ``bench_*`` module listed in ``SECTIONS`` measures one part (ours and, where there is
one, the tool an operator would use instead, on the same servers in the same minute) and
returns table rows. ``--quick`` uses smaller sizes (1k pods instead of 10k, fewer samples)
and skips the slowest sections, saying which. Progress goes to stderr, the table to stdout;
the last line is ``bench: N of M goals met``. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT), str(ROOT / "tests")]

from bench_table import Row, render  # noqa: E402

# name -> (module, skipped by --quick)
SECTIONS = {
    "start": ("bench_start", False),
    "redis": ("bench_redis", False),
    "postgres": ("bench_postgres", False),
    "pods": ("bench_pods", False),
    "pods-all": ("bench_pods_all", False),
    "keys": ("bench_keys", False),
    "logs": ("bench_logs", False),
    "sandbox": ("bench_sandbox", True),
    "restore": ("bench_restore", True),
}


@dataclass
class Options:
    quick: bool
    pods: int
    samples: int


def progress(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, slowest rows skipped")
    parser.add_argument("--only", default="", help=f"comma-separated sections of: {', '.join(SECTIONS)}")
    parser.add_argument("--pods", type=int, default=None, help="pods in the namespace (10000; quick 1000)")
    args = parser.parse_args(argv)
    opts = Options(quick=args.quick, pods=args.pods or (1000 if args.quick else 10_000),
                   samples=10 if args.quick else 30)
    wanted = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    rows: list[Row] = []
    skipped = []
    started = time.monotonic()
    progress(f"{os.cpu_count()} CPUs, load {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
             f"{opts.pods:,} pods{', quick' if opts.quick else ''}")
    for name in wanted:
        module_name, slow = SECTIONS[name]
        if opts.quick and slow and not args.only:
            skipped.append(name)
            continue
        progress(f"{name}...")
        t0 = time.monotonic()
        try:
            module = importlib.import_module(module_name)
            rows += module.measure(opts, progress)
        except Exception as exc:  # noqa: BLE001 - one section's failure is its own row
            traceback.print_exc(file=sys.stderr)
            rows.append(Row.missing(name, f"failed: {type(exc).__name__}: {exc}"[:160],
                                    goal="(section)"))
        progress(f"{name} done in {time.monotonic() - t0:.1f} s")
    if skipped:
        print(f"quick run: skipped {', '.join(skipped)} (run ./dev bench for them)")
    print(f"{opts.pods:,} pods, {os.cpu_count()} CPUs, load after "
          f"{os.getloadavg()[0]:.2f}, {time.monotonic() - started:.0f} s\n")
    print(render(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
