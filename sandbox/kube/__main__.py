"""``python -m sandbox.kube --port PORT --kubeconfig-out FILE [--pods N] [--token T]
[--speed X]``: the seeded emulator in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from .auth import ADMIN_TOKEN, READONLY_TOKEN, Authorizer
from .cluster import build_cluster
from .server import start_server


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox.kube",
                                     description="Kubernetes API emulator with the runbook's seeded world")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--kubeconfig-out", required=True, help="where to write the kubeconfig")
    parser.add_argument("--pods", type=int, default=0, help="extra pods to seed, for scale tests")
    parser.add_argument("--token", default=ADMIN_TOKEN, help="the admin bearer token")
    parser.add_argument("--readonly-token", default=READONLY_TOKEN, help="the read-only bearer token")
    parser.add_argument("--speed", type=float, default=1.0, help="clock speed of the controllers")
    parser.add_argument("--no-seed", action="store_true", help="start with an empty cluster")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    cluster = build_cluster(seeded=not args.no_seed, extra_pods=args.pods, speed=args.speed)
    await cluster.start()
    authorizer = Authorizer.default(admin_token=args.token, readonly_token=args.readonly_token)
    server = await start_server(cluster, port=args.port, tokens=authorizer)
    server.write_kubeconfig(args.kubeconfig_out, args.token)
    print(f"emulator listening on {server.url}; kubeconfig {args.kubeconfig_out}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
        await cluster.stop()


def main(argv: list[str] | None = None) -> int:
    asyncio.run(serve(parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
