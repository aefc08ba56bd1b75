"""Fixtures for the Kubernetes emulator: a running API server and the real kubectl.

``emulator`` (async) builds a cluster, starts its controllers and the API server on a free
port in the test's event loop, and yields an :class:`kube_support.Emulator` with ``.cluster``,
``.url``, ``.kubeconfig`` (admin token) and ``.readonly_kubeconfig``. Configure it with a
marker::

    @pytest.mark.emulator(seeded=False, speed=20, pods=0, controllers=True, minor=31)

Because the server runs in the test's own loop, kubectl must not block that loop: from an
async test call ``await kubectl(emulator, "get", "pods")`` (runs :func:`run_kubectl` in a
thread), never ``run_kubectl`` directly. ``run_kubectl(emulator, *args, kubeconfig=None,
input=None, check=True)`` is the plain synchronous helper, for threads and for servers
running elsewhere. Import them from ``kube_support``.

``world`` (async) is a seeded cluster with its controllers running at 50x speed and no API
server, for tests that drive the store; ``@pytest.mark.world(hpa_actuation=False)`` puts
settings into ``cluster.extras`` before the controllers start. A test module may define its
own ``world`` fixture, which then takes precedence.
"""

from __future__ import annotations

import pytest
from kube_support import (  # noqa: F401 - re-exported
    Emulator,
    kubectl,
    run_kubectl,
    running_cluster,
    start_emulator,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "emulator(seeded=True, speed=1.0, pods=0, controllers=True, minor=31, "
        "bookmark_interval=10.0): how the emulator fixture builds its cluster",
    )
    config.addinivalue_line(
        "markers", "world(**extras): cluster.extras for the world fixture (e.g. hpa_actuation=False)")


@pytest.fixture
async def emulator(request, tmp_path_factory):
    marker = request.node.get_closest_marker("emulator")
    opts = dict(marker.kwargs) if marker else {}
    opts.update(getattr(request, "param", None) or {})
    async with start_emulator(tmp_path_factory.mktemp("emulator"), **opts) as emu:
        yield emu


@pytest.fixture
async def kube_api(emulator):
    """A kubernetes-asyncio ApiClient logged in with the admin kubeconfig."""
    from kubernetes_asyncio import client, config

    configuration = client.Configuration()
    await config.load_kube_config(config_file=str(emulator.kubeconfig),
                                  client_configuration=configuration)
    async with client.ApiClient(configuration) as api:
        yield api


@pytest.fixture
async def world(request):
    """The seeded cluster, controllers running at 50x, no API server (see the module doc)."""
    marker = request.node.get_closest_marker("world")
    async with running_cluster(**(dict(marker.kwargs) if marker else {})) as cluster:
        yield cluster
