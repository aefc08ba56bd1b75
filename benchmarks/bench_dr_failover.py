"""The achieved recovery time of a sandbox region failover, step by step.

Starts a sandbox, writes a row on production and waits for the DR standby to replay it,
puts the sandbox in ``region-failure`` and runs ``mcp-ops run dr-failover --env sandbox-dr
--confirm sandbox-dr`` as an operator would; prints the wizard's own step durations and
recovery time, the wall time of the run, and whether the row survived.

    .venv/bin/python benchmarks/bench_dr_failover.py
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.platform import Sandbox  # noqa: E402


async def main() -> int:
    import asyncpg

    with tempfile.TemporaryDirectory() as tmp:
        async with Sandbox() as sb:
            print(f"sandbox up in {sb.timings['total']:.1f} s "
                  f"(DR standby {sb.timings.get('postgres-dr', 0):.2f} s)")
            conn = await sb.db.connect()
            await conn.execute("INSERT INTO critical_table (account_id, kind, amount) "
                               "VALUES (1, 'bench-marker', 1)")
            await conn.close()
            await asyncio.sleep(1)
            await sb.switch("region-failure")
            env = {**os.environ, "XDG_STATE_HOME": tmp}
            began = time.monotonic()
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "console.cli", "--config", str(sb.config_path), "run",
                "dr-failover", "--env", "sandbox-dr", "--confirm", "sandbox-dr", cwd=ROOT,
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            out = (await child.communicate())[0].decode()
            wall = time.monotonic() - began
            print(f"mcp-ops run dr-failover: exit {child.returncode}, {wall:.1f} s wall")
            lines = out.splitlines()
            start = next((i for i, line in enumerate(lines) if "step durations:" in line), None)
            if start is not None:
                for line in lines[start:]:
                    if "failback" in line:
                        break
                    print(line.strip())
            else:
                print(out[-3000:])
            conn = await asyncpg.connect(sb.dr_db.dsn(), timeout=5)
            rows = await conn.fetchval("SELECT count(*) FROM critical_table "
                                       "WHERE kind = 'bench-marker'")
            await conn.close()
            print(f"row written before the failure on the promoted DR database: {rows}")
            match = re.search(r"achieved recovery time.*?: ([\d.]+) s", out)
            return 0 if child.returncode == 0 and match and rows == 1 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
