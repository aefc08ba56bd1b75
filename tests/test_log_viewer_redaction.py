"""A secret in a pod's log never reaches the log viewer.

The emulated cluster (in this loop) gets log lines written into one MCP-server pod that
carry a configured secret's value and secret-shaped text (a DSN with its password, a bearer
token) — one before the viewer opens (the tail) and one while it follows. The viewer, in a
real Textual app at 80x24, must show both lines, masked, and hold the secret nowhere: not
on screen, not in its buffer.
"""

from __future__ import annotations

import pytest
from health_support import emulator
from wizard_support import load_config, write_config

from console.logstream import open_pod_log
from sandbox.kube.log_book import append_log_line
from screens.app import McpOpsApp
from screens.log_viewer import LogViewer

pytestmark = pytest.mark.timeout(60)
NS, CONTAINER = "mcp-production", "mcp-server"
SECRET = "l0g-S3cret-Value"


async def wait_for(pilot, condition, what: str, timeout: float = 20.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def app_pod(cluster) -> str:
    return next(p["metadata"]["name"] for p in cluster.store.iter("pods", NS)
                if (p["metadata"].get("labels") or {}).get("app") == "mcp-server")


async def test_a_secret_in_a_pod_log_never_reaches_the_log_viewer(tmp_path, monkeypatch,
                                                                 fixed_operator):
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", SECRET)  # a configured secret variable
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10) as (cluster, _server):
        config = load_config(write_config(tmp_path, kubeconfig=str(kubeconfig)))
        pod = app_pod(cluster)
        append_log_line(cluster, NS, pod, CONTAINER,
                        f"ERROR tail-marker login failed for app with {SECRET}")
        app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
        async with app.run_test(size=(80, 24)) as pilot:
            viewer = LogViewer(pod)
            await app.push_screen(viewer)
            await wait_for(pilot, lambda: any("tail-marker" in line
                                              for line in viewer.visible_lines()), "the tail")
            append_log_line(cluster, NS, pod, CONTAINER,
                            "ERROR follow-marker connecting to postgresql://app:"
                            f"{SECRET}@db:5432/app with Authorization: Bearer abcdef0123456789")
            await wait_for(pilot, lambda: any("follow-marker" in line
                                              for line in viewer.visible_lines()), "follow")
            shown = viewer.visible_lines()
            buffered = list(viewer.buffer.lines)
    marked = [line for line in shown if "-marker" in line]
    assert len(marked) == 2
    assert "login failed for app with ***" in marked[0]
    assert "postgresql://app:***@db:5432/app" in marked[1] and "Bearer ***" in marked[1]
    for line in shown + buffered:
        assert SECRET not in line and "abcdef0123456789" not in line


async def test_open_pod_log_masks_lines_and_closes_its_source(tmp_path, monkeypatch):
    monkeypatch.setenv("WZ_TEST_PG_PASSWORD", SECRET)
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10) as (cluster, _server):
        config = load_config(write_config(tmp_path, kubeconfig=str(kubeconfig)))
        _, env = config.environment("sandbox")
        pod = app_pod(cluster)
        append_log_line(cluster, NS, pod, CONTAINER, f"WARN token={SECRET} marker")
        stream = open_pod_log(config, env, pod, tail=5, follow=False)
        assert stream.container == CONTAINER  # the environment's container by default
        try:
            lines = [line async for line in stream]
        finally:
            await stream.aclose()
    assert any("marker" in line for line in lines)
    assert not any(SECRET in line for line in lines)
