"""Figures of the wizard engine's hot paths (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_execution.py

- the subprocess runner: 1,000,000 lines of ``seq`` streamed, lines/s and peak RSS growth;
- the session log: records/s appended (redacted, hash-chained, head anchor), with fsync at
  every record vs only at step boundaries (every 100th record here);
- ``verify``: records/s checked;
- the executor end to end: output lines/s of a step whose program prints 100,000 lines
  (each redacted, logged and handed to the sink).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from console.execution.confirmation import ConfirmationAnswer  # noqa: E402
from console.execution.log_store import verify  # noqa: E402
from console.execution.model import Plan, Risk, Step, Wizard  # noqa: E402
from console.execution.process import Process  # noqa: E402
from console.execution.redaction import Redactor  # noqa: E402
from console.execution.session import WizardRun  # noqa: E402
from console.execution.session_log import SessionLog  # noqa: E402
from console.identity import Operator  # noqa: E402

OPERATOR = Operator("bench", "bench-host", None)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def bench_runner() -> None:
    before = rss_mb()
    started = time.perf_counter()
    count = 0
    async for _ in Process(["seq", "1", "1000000"]):
        count += 1
    elapsed = time.perf_counter() - started
    print(f"runner: {count:,} lines in {elapsed:.2f}s = {count / elapsed:,.0f} lines/s; "
          f"peak RSS {before:.0f} -> {rss_mb():.0f} MB")


def bench_log(directory: Path, records: int, sync_every: int) -> Path:
    log = SessionLog.create(directory, label="bench", env="bench", operator=OPERATOR,
                            redactor=Redactor(["a-secret-value"]))
    started = time.perf_counter()
    for i in range(records):
        log.append("output", {"step": 0, "stream": "stdout",
                              "line": f"line {i} of the benchmark with a-secret-value"},
                   sync=(i % sync_every == 0))
    log.close()
    elapsed = time.perf_counter() - started
    label = "every record" if sync_every == 1 else f"every {sync_every} records"
    print(f"session log: {records:,} records, fsync {label}: {elapsed:.2f}s = "
          f"{records / elapsed:,.0f} records/s")
    return log.path


def bench_verify(path: Path) -> None:
    started = time.perf_counter()
    result = verify(path)
    elapsed = time.perf_counter() - started
    print(f"verify: {len(result.records):,} records in {elapsed:.2f}s = "
          f"{len(result.records) / elapsed:,.0f} records/s ({'OK' if result.ok else 'BAD'})")


async def bench_executor(directory: Path) -> None:
    from wizard_support import load_config, write_config

    async def run(ctx):
        async for line in ctx.mutations.process(["seq", "1", "100000"]):
            yield line.text

    step = Step("print", "Print", "bench", Risk.CHANGE, lambda ctx: Plan("print"), run)
    config = load_config(write_config(directory))
    seen = 0

    def sink(event):
        nonlocal seen
        seen += 1

    async def yes(request):
        return ConfirmationAnswer(True)

    wizard_run = WizardRun(config=config, env_name="sandbox", wizard=Wizard("b", "B", "S", "W",
                           steps=(step,)), read_only=False, confirmer=yes, sink=sink)
    wizard_run.start()
    started = time.perf_counter()
    outcome = await wizard_run.run_step(0)
    elapsed = time.perf_counter() - started
    await wizard_run.finish("completed")
    print(f"executor: 100,000 output lines redacted+logged+shown in {elapsed:.2f}s = "
          f"{100_000 / elapsed:,.0f} lines/s ({outcome.status}, {seen:,} events)")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        asyncio.run(bench_runner())
        bench_log(directory / "a", 2_000, sync_every=1)
        path = bench_log(directory / "b", 100_000, sync_every=100)
        bench_verify(path)
        asyncio.run(bench_executor(directory))


if __name__ == "__main__":
    main()
