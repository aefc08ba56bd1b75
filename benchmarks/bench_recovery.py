"""Figures of the recovery wizards (prints figures; asserts nothing).

    .venv/bin/python benchmarks/bench_recovery.py [ROWS]

On the real PostgreSQL (127.0.0.1:5432), moto and the Kubernetes emulator (speed 20):

- the restore path: a ``pg_dump -Fc`` of ``critical_table`` with ROWS rows (default
  300,000; plus as many rows of 128 random bytes so the archive has a size) streamed out of
  moto into ``pg_restore`` over the exec WebSocket's stdin (the wizard's "restore timed"
  figure: object opened, streamed, pg_restore exited), MB/s and seconds, against the same
  ``pg_restore`` command (the wizard's options) reading the same archive from a local file
  (the floor: the mean of one run before the wizard and one after it);
- a whole ``db-pitr`` run (traffic stopped, recovery pod, restore, verification, switch,
  scale back, health check): seconds per step;
- a whole ``velero-restore`` run: seconds per step.
"""

from __future__ import annotations

import asyncio
import os
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
from sandbox.db_exec import PodFiles, postgres_handler  # noqa: E402
from sandbox.kube.exec_handlers import register_exec_handler  # noqa: E402
from sandbox.kube.exec_subprocess import POSTGRES_PROGRAMS  # noqa: E402
from sandbox.simulator import Simulator  # noqa: E402


async def databases(rows: int) -> wz.Databases:
    suffix = uuid.uuid4().hex[:8]
    dbs = wz.Databases(f"bench_pitr_{suffix}", f"bench_pitr_{suffix}_recovery", b"")
    admin = await asyncpg.connect(wz.PG_ADMIN, timeout=5)
    try:
        for name in (dbs.production, dbs.recovery):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    conn = await asyncpg.connect(dbs.dsn(dbs.production), timeout=5)
    try:
        await conn.execute(wz.SEED.replace(str(wz.ROWS), str(rows)))
        # incompressible filler (128 random bytes a row), so the dump has a size worth
        # streaming: about 160 bytes of archive per row, 110 MB at 700,000
        random_hex = " || ".join(["md5(random()::text)"] * 8)
        await conn.execute(f"CREATE TABLE filler AS SELECT g AS id, decode({random_hex}, "
                           "'hex') AS payload FROM generate_series(1, $1) AS g", rows)
    finally:
        await conn.close()
    dump = await asyncio.create_subprocess_exec(
        "pg_dump", "-Fc", "-h", "127.0.0.1", "-U", "postgres", "-d", dbs.production,
        stdout=asyncio.subprocess.PIPE)
    dbs.dump, _ = await dump.communicate()
    return dbs


async def drop(dbs: wz.Databases, *extra: str) -> None:
    admin = await asyncpg.connect(wz.PG_ADMIN, timeout=5)
    try:
        for name in (dbs.production, dbs.recovery, *extra):
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


FLOORS = ("_floor", "_floor_after")  # suffixes of the floor's databases


async def local_restore(dbs: wz.Databases, tmp: Path, suffix: str) -> float:
    """The floor: pg_restore of the same archive from a local file into an empty database,
    with the wizard's options (the same command, only its input differs)."""
    name = dbs.recovery + suffix
    admin = await asyncpg.connect(wz.PG_ADMIN, timeout=5)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    path = tmp / "dump"
    path.write_bytes(dbs.dump)
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "pg_restore", "-h", "127.0.0.1", "-U", "postgres", "-d", name, *RESTORE_OPTIONS,
        str(path), stderr=asyncio.subprocess.DEVNULL)
    if await proc.wait() != 0:
        raise RuntimeError(f"the local pg_restore (floor) exited {proc.returncode}")
    return time.monotonic() - began


def steps(driven: wz.Driven) -> str:
    return ", ".join(f"{k} {v.duration:.2f}s" for k, v in driven.outcomes.items()
                     if v.status == "ok")


async def measure_recovery(rows: int, *, velero: bool = True, say=print) -> dict:
    """Run the restore floor, a whole db-pitr (and velero-restore) and return the figures:
    dump size, local floor, restore over exec, the outage the wizard measured."""
    from moto.server import ThreadedMotoServer

    os.environ.update(wz.AWS_ENV)
    tmp = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    os.environ["KUBECACHEDIR"] = str(tmp / "kubecache")
    moto_server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto_server.start()
    host, port = moto_server.get_host_and_port()
    moto = wz.Moto(f"http://{host}:{port}")
    dbs = await databases(rows)
    simulator = Simulator(database_dsn=dbs.dsn(dbs.production),
                          redis_url="redis://127.0.0.1:6379/0")
    await simulator.start()
    out: dict = {}
    try:
        moto.client().create_bucket(Bucket=wz.BUCKET, CreateBucketConfiguration={
            "LocationConstraint": "eu-west-1"})
        moto.put(f"{wz.PREFIX}bench.dump", dbs.dump)
        out["size_mb"] = size_mb = len(dbs.dump) / 1e6
        say(f"dump: critical_table and filler {rows:,} rows each, {size_mb:.1f} MB "
            "(pg_dump -Fc)")
        # the floor is measured before and after the wizard run and averaged, so that a
        # load that comes or goes meanwhile (a shared machine) weighs on both sides alike
        before = await local_restore(dbs, tmp, FLOORS[0])
        say(f"local pg_restore from a file (floor, before): {before:.2f} s, "
            f"{size_mb / before:.1f} MB/s")

        async with wz.start_emulator(tmp / "emulator", speed=20) as emu:
            register_exec_handler(
                emu.cluster, postgres_handler(host="127.0.0.1", port=5432, user="postgres",
                                              database=dbs.recovery, bin_dir=None,
                                              files=PodFiles(tmp / "podfs")),
                name_prefix="postgres-recovery", commands=POSTGRES_PROGRAMS)
            os.environ["KUBECONFIG"] = str(emu.kubeconfig)
            config = wz.write_config(tmp / "config.yaml", kubeconfig=emu.kubeconfig,
                                     service_url=simulator.base_url, aws_endpoint=moto.endpoint,
                                     pg_dsn=dbs.dsn(dbs.production))
            world = wz.World(emu, dbs, moto, config, tmp)
            began = time.monotonic()
            pitr = await wz.drive(world, "db-pitr")
            out["total"] = total = time.monotonic() - began
            out["status"] = list(pitr.statuses.values())[-1]
            notes = {r["data"].get("text"): r["data"] for r in pitr.records("note")}
            step = pitr.outcomes["restore"].duration
            # the wizard's own timing of the restore: S3 object opened, streamed over exec
            # into pg_restore, pg_restore exited; the step also checks extensions first
            timed = notes.get("restore timed")
            out["restore"] = restore = timed["seconds"] if timed else step
            out["outage"] = (notes.get("outage measured") or {}).get("outage_seconds")
            after = await local_restore(dbs, tmp, FLOORS[1])
            out["floor"] = floor = (before + after) / 2
            say(f"local pg_restore from a file (floor, after): {after:.2f} s; floor "
                f"{floor:.2f} s, {size_mb / floor:.1f} MB/s")
            say(f"db-pitr: {pitr.run.log.id} {total:.2f} s total, status {out['status']}")
            say(f"  restore over exec stdin from S3: {restore:.2f} s, "
                f"{size_mb / restore:.1f} MB/s ({restore / floor:.2f}x the local floor's "
                f"time; the step with its extension check {step:.2f} s)")
            if out["outage"] is not None:
                say(f"  outage (0 replicas to all ready): {out['outage']:.2f} s, "
                    f"{out['outage'] / restore:.2f}x the restore, which ran before it")
            say(f"  per step: {steps(pitr)}")
            if velero:
                began = time.monotonic()
                driven = await wz.drive(world, "velero-restore")
                say(f"velero-restore: {time.monotonic() - began:.2f} s total, status "
                    f"{list(driven.statuses.values())[-1]}; per step: {steps(driven)}")
    finally:
        await simulator.stop()
        await drop(dbs, *(dbs.recovery + suffix for suffix in FLOORS))
        moto_server.stop()
    return out


async def main(rows: int) -> None:
    await measure_recovery(rows)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000))
