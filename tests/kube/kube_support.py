"""Helpers for driving the Kubernetes emulator from tests: the :class:`Emulator` handle,
:func:`start_emulator`, the real kubectl (:func:`run_kubectl`, async :func:`kubectl`),
:func:`running_cluster` for tests that drive the store with the controllers running, and
:func:`eventually` for conditions read back through kubectl.

The fixtures that use them are in ``conftest.py`` (``emulator``, ``kube_api``, ``world``).
Import these with ``from kube_support import kubectl, run_kubectl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sandbox.kube.auth import ADMIN_TOKEN, READONLY_TOKEN
from sandbox.kube.cluster import Cluster, build_cluster
from sandbox.kube.server import RunningServer, start_server

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
KUBECTL_VERSIONS_DIR = Path("/usr/lib/google-cloud-sdk/bin")
DEFAULT_REQUEST_TIMEOUT = "10s"


@dataclass
class Emulator:
    cluster: Cluster
    server: RunningServer
    kubeconfig: Path
    readonly_kubeconfig: Path
    cache_dir: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def store(self):
        return self.cluster.store

    @property
    def faults(self):
        return self.server.faults

    def kubeconfig_for(self, token: str, path: Path) -> Path:
        """A kubeconfig for another token (see ``Authorizer.tokens``)."""
        return self.server.write_kubeconfig(path, token)


def kubectl_binary(version: str | None = None) -> str:
    """The dispatcher, or one client version directly (``"1.27"`` ... ``"1.33"``)."""
    if version is None:
        return KUBECTL
    return str(KUBECTL_VERSIONS_DIR / f"kubectl.{version}")


def kubectl_env(emulator: Emulator, kubeconfig: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["KUBECONFIG"] = str(kubeconfig or emulator.kubeconfig)
    env["KUBECACHEDIR"] = str(emulator.cache_dir)
    env.pop("KUBERNETES_SERVICE_HOST", None)
    return env


def run_kubectl(emulator: Emulator, *args: str, kubeconfig: Path | None = None,
                input: str | None = None, check: bool = True, version: str | None = None,
                timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real kubectl against the emulator (synchronously: not from the loop the
    emulator runs in). Adds ``--request-timeout`` unless given — before a ``--``, so it
    never becomes an argument of the command run by ``kubectl exec``."""
    args_list = list(args)
    if not any(a.startswith("--request-timeout") for a in args_list):
        cut = args_list.index("--") if "--" in args_list else len(args_list)
        args_list.insert(cut, f"--request-timeout={DEFAULT_REQUEST_TIMEOUT}")
    argv = [kubectl_binary(version), *args_list]
    result = subprocess.run(argv, env=kubectl_env(emulator, kubeconfig), input=input,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"kubectl {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


async def kubectl(emulator: Emulator, *args: str, **kw) -> subprocess.CompletedProcess:
    """:func:`run_kubectl` from an async test, leaving the emulator's loop free."""
    return await asyncio.to_thread(run_kubectl, emulator, *args, **kw)


@contextlib.asynccontextmanager
async def start_emulator(base: Path, *, seeded: bool = True, speed: float = 1.0, pods: int = 0,
                         controllers: bool = True, minor: int = 31,
                         bookmark_interval: float = 10.0):
    """A cluster with its controllers and API server, kubeconfigs written under ``base``."""
    cluster = build_cluster(seeded=seeded, extra_pods=pods, speed=speed)
    if controllers:
        await cluster.start()
    server = await start_server(cluster, minor=minor, bookmark_interval=bookmark_interval)
    try:
        yield Emulator(
            cluster=cluster,
            server=server,
            kubeconfig=server.write_kubeconfig(base / "kubeconfig", ADMIN_TOKEN),
            readonly_kubeconfig=server.write_kubeconfig(base / "readonly-kubeconfig", READONLY_TOKEN),
            cache_dir=base / "kubecache",
        )
    finally:
        await server.stop()
        await cluster.stop()


@contextlib.asynccontextmanager
async def running_cluster(*, seeded: bool = True, speed: float = 50.0, prepare=None, **extras):
    """A cluster with its controllers running and no API server, for tests that drive the
    store directly (the clock sped up ``speed`` times). ``extras`` go into
    ``cluster.extras`` before the controllers start (e.g. ``hpa_actuation=False``);
    ``prepare(cluster)`` may seed objects first. A controller sync that raised while the
    test ran fails the test: the controllers swallow errors to keep running, so without
    this check a broken sync would go unnoticed."""
    cluster = build_cluster(seeded=seeded, speed=speed)
    cluster.extras.update(extras)
    if prepare is not None:
        prepare(cluster)
    await cluster.start()
    try:
        yield cluster
    finally:
        errors = list(cluster.extras["controllers"].errors)
        await cluster.stop()
    assert errors == [], errors


async def eventually(probe, timeout: float | None = None):
    """:func:`waiting.until` (its load-tolerant deadline unless ``timeout`` is given) for
    async probes that run kubectl: polled every 0.1 s, as each probe starts a process anyway.
    (Imported here, not at the top: benchmarks import this module without ``tests/`` on
    their path.)"""
    from waiting import DEFAULT_TIMEOUT, until

    return await until(probe, timeout or DEFAULT_TIMEOUT, interval=0.1)
