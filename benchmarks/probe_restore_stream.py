"""Where the PITR restore's time goes (prints figures; asserts nothing).

    .venv/bin/python benchmarks/probe_restore_stream.py [ROWS] [REPS]

The restore path of ``db-pitr`` without the rest of the wizard, repeated: the same
``pg_dump -Fc`` archive (cached under /tmp, built once from ``bench_recovery.databases``)
restored REPS times by ``pg_restore`` with the wizard's options (``RESTORE_OPTIONS``), once
from a local file (the floor) and once streamed out of moto through the console's
``AwsReader.stream_object`` and ``PodExec`` into the emulator's exec WebSocket, in
alternating order. Prints wall seconds and this process's CPU seconds per run, their
medians, and — the figure the machine's load disturbs least — the share of pg_restore's
time it spent waiting for its stdin (its kernel wait channel, sampled every millisecond by
a process of its own: ``pipe_read`` is an empty stdin; a file never waits there).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # servers.py
sys.path.insert(0, str(ROOT / "tests" / "wizards"))

import asyncpg  # noqa: E402
import conftest as wz  # noqa: E402

from actions.backups.pitr_recovery import RESTORE_OPTIONS  # noqa: E402
from actions.backups.s3_dumps import CHUNK  # noqa: E402
from console.config.model import AwsSettings, KubernetesSettings  # noqa: E402
from console.execution.kube.api import KubeApi  # noqa: E402
from console.execution.kube.exec import ExecLine, ExecTarget, PodExec  # noqa: E402
from console.execution.writers.aws import AwsReader  # noqa: E402
from sandbox.kube.exec_handlers import register_exec_handler  # noqa: E402
from sandbox.kube.exec_subprocess import POSTGRES_PROGRAMS, postgres_client_handler  # noqa: E402


async def archive(rows: int) -> bytes:
    path = Path(tempfile.gettempdir()) / f"restore-probe-{rows}.dump"
    if not path.exists():
        from bench_recovery import databases, drop

        dbs = await databases(rows)
        await drop(dbs)
        path.write_bytes(dbs.dump)
    return path.read_bytes()


async def fresh_database() -> str:
    name = f"probe_restore_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(wz.PG_ADMIN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(wz.PG_ADMIN, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def cpu() -> float:
    return time.process_time()


def sample(parent: int) -> None:
    """In a process of its own: the wait channels of ``parent``'s pg_restore children,
    every millisecond, until stdin closes; one line of counts per pg_restore."""
    import collections
    import json

    counts: dict[int, collections.Counter] = {}
    watched: int | None = None
    print("ready", flush=True)
    while not select_ready():
        pids = [watched] if watched is not None else [int(e) for e in os.listdir("/proc")
                                                      if e.isdigit()]
        watched = None
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                fields = stat.rsplit(")", 1)[1].split()
                if "(pg_restore)" not in stat or int(fields[1]) != parent:
                    continue
                with open(f"/proc/{pid}/wchan") as f:
                    wchan = f.read()
            except (OSError, ValueError, IndexError):
                continue
            watched = pid
            where = ("running" if fields[0] == "R" else "stdin" if "pipe_read" in wchan
                     else "server")
            counts.setdefault(pid, collections.Counter())[where] += 1
        time.sleep(0.001)
    print(json.dumps([dict(c) for c in counts.values()]), flush=True)


def select_ready() -> bool:
    import select

    return bool(select.select([sys.stdin], [], [], 0)[0])


class Sampler:
    """:func:`sample` around one restore; ``waited`` is the share of pg_restore's samples
    spent waiting for stdin."""

    async def __aenter__(self) -> Sampler:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--sample", str(os.getpid()),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        assert self.proc.stdout is not None
        await self.proc.stdout.readline()  # its imports done, it samples
        return self

    async def __aexit__(self, *exc: object) -> None:
        import json

        out, _ = await self.proc.communicate(b"stop\n")
        found = json.loads(out or b"[]")
        got = found[-1] if found else {}
        total = sum(got.values()) or 1
        self.waited = got.get("stdin", 0) / total
        if os.environ.get("PROBE_DEBUG"):
            print("   ", found)


async def local(path: Path) -> tuple[float, ...]:
    name = await fresh_database()
    async with Sampler() as sampler:
        began, cpu0 = time.monotonic(), cpu()
        proc = await asyncio.create_subprocess_exec(
            "pg_restore", "-h", "127.0.0.1", "-U", "postgres", "-d", name, *RESTORE_OPTIONS,
            str(path), stderr=asyncio.subprocess.PIPE)
        await proc.communicate()
        took = time.monotonic() - began, cpu() - cpu0
    took += (sampler.waited,)
    assert proc.returncode == 0, proc.returncode
    await drop_database(name)
    return took


async def streamed(emu, aws: AwsReader, api: KubeApi, pod: str, key: str) -> tuple[float, ...]:
    name = await fresh_database()
    remove = register_exec_handler(
        emu.cluster, postgres_client_handler(host="127.0.0.1", port=5432, user="postgres",
                                             database=name),
        name_prefix=pod, commands=POSTGRES_PROGRAMS)
    target = ExecTarget(namespace="mcp-production", pod=pod,
                        command=("pg_restore", "-d", name, *RESTORE_OPTIONS), _api=api)
    async with Sampler() as sampler:
        began, cpu0 = time.monotonic(), cpu()
        execution = PodExec(target, stdin=aws.stream_object(wz.BUCKET, key, CHUNK))
        lines = [item async for item in execution if isinstance(item, ExecLine)]
        took = time.monotonic() - began, cpu() - cpu0
    took += (sampler.waited,)
    remove()
    assert execution.code == 0, (execution.code, lines[-5:])
    await drop_database(name)
    return took


async def main(rows: int, reps: int) -> None:
    from moto.server import ThreadedMotoServer

    dump = await archive(rows)
    tmp = Path(tempfile.mkdtemp(prefix="restore-probe-"))
    path = tmp / "dump"
    path.write_bytes(dump)
    os.environ.update(wz.AWS_ENV)
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    moto = wz.Moto(f"http://{host}:{port}")
    moto.client().create_bucket(Bucket=wz.BUCKET, CreateBucketConfiguration={
        "LocationConstraint": "eu-west-1"})
    key = f"{wz.PREFIX}probe.dump"
    moto.put(key, dump)
    size = len(dump) / 1e6
    print(f"archive {size:.1f} MB ({rows:,} rows), {reps} repetitions")
    figures: dict[str, list[tuple[float, ...]]] = {"local": [], "exec": []}
    try:
        async with wz.start_emulator(tmp / "emulator", speed=20) as emu:
            pods = [p["metadata"]["name"] for p in emu.cluster.store.list("pods", "mcp-production")[0]
                    if p["metadata"]["name"].startswith("postgres-production-primary")]
            pod = pods[0]
            api = KubeApi(KubernetesSettings(kubeconfig=str(emu.kubeconfig), context="sandbox",
                                             namespace="mcp-production"))
            aws = AwsReader(AwsSettings(endpoint_url=moto.endpoint, s3_backup_bucket=wz.BUCKET,
                                        access_key_id_env="WZ_BACKUP_AWS_KEY",
                                        secret_access_key_env="WZ_BACKUP_AWS_SECRET"))
            try:
                for rep in range(reps):
                    order = ("local", "exec") if rep % 2 == 0 else ("exec", "local")
                    for what in order:
                        got = (await local(path) if what == "local"
                               else await streamed(emu, aws, api, pod, key))
                        figures[what].append(got)
                        print(f"  {what:5} {got[0]:.2f} s wall ({size / got[0]:.1f} MB/s), "
                              f"CPU here {got[1]:.2f} s, pg_restore waiting for stdin "
                              f"{got[2]:.0%}", flush=True)
            finally:
                await aws.close()
                await api.close()
    finally:
        moto_server.stop()
    walls = {k: statistics.median(f[0] for f in v) for k, v in figures.items()}
    cpus = {k: statistics.median(f[1] for f in v) for k, v in figures.items()}
    waits = statistics.median(f[2] for f in figures["exec"])
    pairs = statistics.median(a[0] / b[0] for a, b in zip(figures["local"], figures["exec"], strict=True))
    print(f"median local {walls['local']:.2f} s, exec {walls['exec']:.2f} s wall "
          f"(CPU here {cpus['exec']:.2f} s), pg_restore waiting for stdin {waits:.0%}: "
          f"throughput ratio {walls['local'] / walls['exec']:.2f}x (median of pairs "
          f"{pairs:.2f}x)")


if __name__ == "__main__" and sys.argv[1:2] == ["--sample"]:
    sample(int(sys.argv[2]))
elif __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 700_000,
                     int(sys.argv[2]) if len(sys.argv) > 2 else 5))
