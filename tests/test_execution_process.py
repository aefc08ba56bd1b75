"""The subprocess runner: argument lists only, streamed lines, bounded memory, clean stops."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest
from waiting import process_gone, until

from console.execution.process import TRUNCATED, Process, run_collect

MEMORY_PROBE = r"""
import asyncio, json, resource
from console.execution.process import Process

async def main():
    marks = {}
    count = 0
    process = Process(["seq", "1", "1000000"])
    async for line in process:
        count += 1
        if count in (100_000, 1_000_000):
            marks[count] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        last = line.text
    print(json.dumps({"count": count, "last": last, "marks": marks,
                      "returncode": process.result.returncode}))

asyncio.run(main())
"""


@pytest.mark.timeout(120)
def test_a_million_lines_stream_with_flat_memory():
    """Peak memory after 1,000,000 lines is within a few MB of the peak after 100,000: lines
    are streamed, not accumulated (keeping them would cost ~100 MB)."""
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE], capture_output=True, text=True,
                         timeout=110, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["count"] == 1_000_000 and result["last"] == "1000000"
    assert result["returncode"] == 0
    growth_kb = result["marks"]["1000000"] - result["marks"]["100000"]
    print(f"maxrss after 100k lines {result['marks']['100000']} KB, after 1M "
          f"{result['marks']['1000000']} KB, growth {growth_kb} KB")
    assert growth_kb < 16 * 1024


async def test_dangerous_argument_reaches_the_program_literally(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("still here")
    argument = f"; rm -rf {victim} ; echo pwned $(id) `id` | cat && true"
    result, lines = await run_collect([sys.executable, "-c", "import sys; print(sys.argv[1])",
                                       argument])
    assert result.ok
    assert [line.text for line in lines] == [argument]
    assert victim.read_text() == "still here"


def test_a_shell_string_is_refused():
    with pytest.raises(TypeError):
        Process("echo hi; rm -rf /")
    with pytest.raises(TypeError):
        Process(["echo", 3])  # type: ignore[list-item]


async def test_stdout_and_stderr_exit_status_and_duration():
    """The duration covers the program's whole life: at least the span the program itself
    measured (CLOCK_MONOTONIC is one clock for every process), at most the caller's."""
    code = ("import sys, time; began = time.monotonic(); print('out'); "
            "print('err', file=sys.stderr); time.sleep(0.2); "
            "print(f'lived {time.monotonic() - began!r}'); sys.exit(3)")
    called = time.monotonic()
    result, lines = await run_collect([sys.executable, "-c", code])
    outside = time.monotonic() - called
    lived = float(next(ln.text for ln in lines if ln.text.startswith("lived ")).split()[1])
    assert {(ln.stream, ln.text) for ln in lines if not ln.text.startswith("lived ")} == \
        {("stdout", "out"), ("stderr", "err")}
    assert result.returncode == 3 and result.signal is None and not result.ok
    assert lived <= result.duration <= outside
    assert result.describe() == f"exit 3 after {result.duration:.1f}s"


async def test_signal_is_reported():
    result, _ = await run_collect([sys.executable, "-c",
                                   "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert result.signal == 9 and "SIGKILL" in result.describe()


async def test_missing_program_is_a_result_not_a_crash():
    result, lines = await run_collect(["/nonexistent/helm", "upgrade"])
    assert result.returncode is None and lines == []
    assert "helm" in result.error


async def test_an_endless_line_is_cut_and_the_next_line_survives():
    code = "import sys; sys.stdout.write('x' * 300000 + '\\nnext\\n')"
    result, lines = await run_collect([sys.executable, "-c", code], max_line_bytes=1000)
    assert result.ok
    assert len(lines) == 2
    assert lines[0].text == "x" * 1000 + TRUNCATED
    assert lines[1].text == "next"


@pytest.mark.timeout(30)
async def test_cancelling_kills_the_whole_process_group(tmp_path):
    """The program starts a child; cancelling the consumer stops both."""
    pidfile = tmp_path / "child.pid"
    code = (f"import subprocess, sys, time; c = subprocess.Popen(['sleep', '60']); "
            f"open({str(pidfile)!r}, 'w').write(str(c.pid)); print('started', flush=True); "
            f"time.sleep(60)")
    process = Process([sys.executable, "-c", code], kill_grace=1.0)

    async def consume():
        async for _ in process:
            pass

    task = asyncio.create_task(consume())
    child = int(await until(lambda: pidfile.exists() and pidfile.read_text(),
                            what="the child's pid file"))
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    print(f"cancellation stopped the group in {time.monotonic() - started:.2f} s")
    assert process.result is not None and process.result.signal is not None
    assert process_gone(process.pid)  # the program itself, reaped by the runner
    # the grandchild's parent is gone, so nobody may reap it at once: a zombie counts as gone
    await until(lambda: process_gone(child), what="the grandchild gone after the cancellation")


@pytest.mark.timeout(30)
async def test_a_leftover_holding_the_pipes_does_not_hold_the_step(tmp_path):
    """The program exits at once but leaves a background child with its stdout: the
    readers must end (the leftover is stopped), not wait for the child's 60 s."""
    code = ("import subprocess, sys; c = subprocess.Popen(['sleep', '60']); "
            "print('child', c.pid, flush=True)")
    process = Process([sys.executable, "-c", code], kill_grace=1.0)
    started = time.monotonic()
    lines = [line.text async for line in process]
    took = time.monotonic() - started
    print(f"step ended {took:.2f} s after it started")
    assert process.result is not None and process.result.ok
    child = int(lines[0].split()[1])
    # the runner stopped the leftover (it would sleep 60 s, past this test's 30 s timeout)
    await until(lambda: process_gone(child), what="the leftover child gone")


@pytest.mark.timeout(30)
async def test_a_leftover_without_the_pipes_is_stopped_too(tmp_path):
    code = ("import subprocess; c = subprocess.Popen(['sleep', '60'], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print('child', c.pid)")
    result, lines = await run_collect([sys.executable, "-c", code], kill_grace=1.0)
    assert result.ok
    child = int(lines[0].text.split()[1])
    # already stopped when the runner returned, not eventually
    assert process_gone(child), "the program's leftover outlived the step"


@pytest.mark.timeout(30)
async def test_a_leftover_ignoring_sigterm_is_killed_after_the_grace():
    code = ("import subprocess; c = subprocess.Popen(['sh', '-c', "
            "'trap \"\" TERM; sleep 60']); print('child', c.pid, flush=True)")
    started = time.monotonic()
    result, lines = await run_collect([sys.executable, "-c", code], kill_grace=0.5)
    print(f"SIGTERM-proof leftover stopped after {time.monotonic() - started:.2f} s")
    assert result.ok
    assert process_gone(int(lines[0].text.split()[1]))
