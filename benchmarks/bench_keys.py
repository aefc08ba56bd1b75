"""The console as an operator meets it, in its own process on a real 80x24
pseudo-terminal, against the sandbox (``mcp-ops sandbox serve --pods N``):

- start: ``mcp-ops check`` cold (a fresh process, first check), and the console's first
  painted frame (spawn to the dashboard's panels on the terminal);
- keypress -> changed frame: ``?`` opens the help (its text appears) and ``?`` closes it
  (the dashboard's Service title is whole again), timed from the byte written to the
  terminal to the frame read back; p50 and p99. Once with every source answering, then
  with each source in turn replaced by a server that accepts connections and never
  answers (``--quick``: the database only).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from bench_proxy import HungServer
from bench_table import Row, ms, percentile, secs
from bench_terminal import ROOT, console

HELP = re.compile(r"live view of the MCP platform")
DASHBOARD = re.compile(r"[─═] Service [─═]")
GOAL_P99 = 0.050
GOAL_FIRST = 1.0
SOURCES = ("database", "cache", "service", "kubernetes")


def start_sandbox(tmp: Path, pods: int) -> tuple[subprocess.Popen, Path]:
    config = tmp / "sandbox.yaml"
    proc = subprocess.Popen([sys.executable, "-m", "console", "sandbox", "serve", "--config-out",
                             str(config), "--pods", str(pods)], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("the sandbox did not start")
    json.loads(line)
    return proc, config


def stop_sandbox(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def hung_config(config: Path, source: str, port: int) -> Path:
    """The sandbox's config with ``source`` pointed at the hung server."""
    doc = yaml.safe_load(config.read_text())
    env = doc["environments"]["sandbox"]
    if source == "database":
        env["postgres"]["dsn"] = f"postgresql://postgres@127.0.0.1:{port}/pratiko_mcp_production"
    elif source == "cache":
        env["redis"]["url"] = f"redis://127.0.0.1:{port}/0"
    elif source == "service":
        env["service"]["base_url"] = f"http://127.0.0.1:{port}"
        env["service"]["prometheus_url"] = f"http://127.0.0.1:{port}"
    elif source == "kubernetes":
        kubeconfig = yaml.safe_load(Path(env["kubernetes"]["kubeconfig"]).read_text())
        for cluster in kubeconfig["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
        path = config.with_name(f"kubeconfig-hung-{port}")
        path.write_text(yaml.safe_dump(kubeconfig))
        env["kubernetes"]["kubeconfig"] = str(path)
    out = config.with_name(f"hung-{source}.yaml")
    out.write_text(yaml.safe_dump(doc))
    return out


def key_latencies(config: Path, state: Path, pairs: int) -> tuple[tuple[float, float], list[float], int]:
    """((wall, CPU) seconds to the first painted frame, key latencies, keys whose frame
    never came)."""
    term = console(config, "sandbox", state)
    latencies, lost = [], 0
    try:
        wall = term.wait_for(DASHBOARD, 0, 60, started=term.started)
        if wall is None:
            raise RuntimeError(f"the console painted no dashboard: {term.text[-300:]!r}")
        first = (wall, term.cpu_seconds())
        term.drain(1.0)
        for _ in range(pairs):
            for pattern in (HELP, DASHBOARD):
                offset, sent = term.press(b"?")
                seconds = term.wait_for(pattern, offset, 10, started=sent)
                if seconds is None:
                    lost += 1
                    term.drain(0.5)
                else:
                    latencies.append(seconds)
                term.drain(random.uniform(0.05, 0.2))
    finally:
        term.close()
    return first, latencies, lost


def check_cold(config: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "console", "check", "sandbox", "--config",
                           str(config), "--format", "json"], cwd=ROOT, capture_output=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    return time.perf_counter() - started, done.returncode


def _key_row(label: str, latencies: list[float], lost: int) -> Row:
    if not latencies:
        return Row.missing(label, f"no key answered ({lost} lost)", f"p99 ≤ {GOAL_P99 * 1000:.0f} ms")
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    lost_text = f", {lost} never answered" if lost else ""
    return Row(label, f"p50 {ms(p50)}, p99 {ms(p99)}, max {ms(max(latencies))} "
               f"({len(latencies)} keys{lost_text})", "—", "—", f"p99 ≤ {GOAL_P99 * 1000:.0f} ms",
               p99 <= GOAL_P99 and not lost)


def measure(opts, progress) -> list[Row]:
    pairs = 10 if opts.quick else 25
    sources = SOURCES[:1] if opts.quick else SOURCES
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        started = time.monotonic()
        sandbox, config = start_sandbox(tmp_path, opts.pods)
        progress(f"  sandbox with {opts.pods:,} extra pods ready in {time.monotonic() - started:.1f} s")
        try:
            seconds, code = check_cold(config)
            rows.append(Row("start: `mcp-ops check` cold (sandbox)",
                            f"{secs(seconds)} (exit {code})"))
            first, latencies, lost = key_latencies(config, tmp_path / "state", pairs)
            rows.insert(0, Row("start: console to its first painted frame at 80x24",
                               f"{secs(first[0])} (CPU {secs(first[1])})", "—", "—",
                               f"≤ {GOAL_FIRST:g} s", first[0] <= GOAL_FIRST))
            label = f"keypress → changed frame (pty, {opts.pods:,} pods)"
            rows.append(_key_row(f"{label}, all sources answering", latencies, lost))
            for source in sources:
                progress(f"  keys with the {source} hung")
                with HungServer() as hung:
                    _, latencies, lost = key_latencies(hung_config(config, source, hung.port),
                                                       tmp_path / "state", pairs)
                rows.append(_key_row(f"{label}, {source} hung", latencies, lost))
        finally:
            stop_sandbox(sandbox)
    return rows
