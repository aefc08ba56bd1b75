"""The log viewer's all-pods mode, at 80x24 against the Kubernetes emulator over HTTP.

`a` (offered in the footer) switches from the one pod to every pod of the app selector:
each line prefixed with its pod's name, the runbook's presets still filtering (on the line,
not the name), new lines of any pod followed, and `a` again back to the one pod. The
buffer is a ring of ``ui.output_line_cap`` lines however many pods write.
"""

from __future__ import annotations

import pytest
from health_support import emulator
from wizard_support import load_config, write_config

from console.logstream import PRESETS, LogBuffer, split_stamp
from sandbox.kube.log_book import append_log_line
from screens.app import McpOpsApp
from screens.log_viewer import LogViewer
from screens.wrap_log import WrapLog

pytestmark = pytest.mark.timeout(120)
NS, CONTAINER = "mcp-production", "mcp-server"


async def wait_for(pilot, condition, what: str, timeout: float = 40.0):
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def app_pods(cluster) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.store.iter("pods", NS)
                  if (p["metadata"].get("labels") or {}).get("app") == "mcp-server"
                  and not p["metadata"].get("deletionTimestamp"))


def footer_keys(app) -> dict[str, tuple[str, int]]:
    """The footer's keys as drawn: key -> (description, right edge of its cell)."""
    from textual.widgets._footer import FooterKey

    return {k.key: (k.description, k.region.right) for k in app.screen.query(FooterKey)
            if k.region.width}


async def test_all_pods_mode_prefixes_filters_and_follows(tmp_path, fixed_operator):
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=5) as (cluster, _server):
        config = load_config(write_config(tmp_path, kubeconfig=str(kubeconfig)))
        pods = app_pods(cluster)
        assert len(pods) >= 3
        for i, pod in enumerate(pods):
            append_log_line(cluster, NS, pod, CONTAINER,
                            f"WARN  [mcp.auth] tail-marker-{i} authentication failed for user x")
            append_log_line(cluster, NS, pod, CONTAINER, f"INFO  [mcp.http] info-marker-{i} ok")
        app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
        async with app.run_test(size=(80, 24)) as pilot:
            viewer = LogViewer(pods[0])
            await app.push_screen(viewer)

            def shown(marker: str) -> list[str]:
                return [line for line in viewer.visible_lines() if marker in line]

            await wait_for(pilot, lambda: shown("tail-marker-0"), "the one pod's tail")
            assert not shown("tail-marker-1")  # one pod only
            assert not shown("tail-marker-0")[0].startswith(pods[0])  # no prefix
            await wait_for(pilot, lambda: "a" in footer_keys(app), "the footer")
            keys = footer_keys(app)
            assert keys["a"][0] == "All pods"
            for key in ("escape", "a", "space", "f", "1", "2", "3", "4", "5"):
                assert keys[key][1] <= 80, (key, keys)  # every key of the viewer on screen
            assert "q" not in keys  # the app's "q Quit" no longer cut off at the edge

            await pilot.press("a")
            await wait_for(pilot, lambda: all(shown(f"tail-marker-{i}")
                                              for i in range(len(pods))), "every pod's tail")
            for i, pod in enumerate(pods):
                (line,) = shown(f"tail-marker-{i}")  # once each, prefixed with its pod
                assert line.startswith(f"{pod} ") and line.endswith("failed for user x")
            title = str(viewer.query_one("#log-title").render())
            assert "every pod of app=mcp-server" in title
            await wait_for(pilot, lambda: len(viewer.source.pods) == len(pods), "pods listed")

            await pilot.press("3")  # the auth preset: on the line, not the pod's name
            await pilot.pause()
            lines = viewer.visible_lines()
            assert len([ln for ln in lines if "tail-marker-" in ln]) == len(pods)
            assert not any("info-marker" in ln for ln in lines)
            auth = next(p for p in PRESETS if p.name == "auth")
            for line in lines:
                pod, _, text = line.partition(" ")
                assert pod in pods and auth.matches(text), line

            append_log_line(cluster, NS, pods[-1], CONTAINER,
                            "WARN  [mcp.auth] follow-marker unauthorized: token expired")
            await wait_for(pilot, lambda: shown("follow-marker"), "a new line of another pod")
            assert shown("follow-marker")[0].startswith(f"{pods[-1]} ")
            rows = viewer.query_one(WrapLog).rows()
            assert all(len(row) <= 80 for row in rows)  # wrapped, nothing cut

            await pilot.press("a")  # back to the one pod, a fresh buffer
            await wait_for(pilot, lambda: shown("tail-marker-0"), "the one pod again")
            assert not shown("tail-marker-1")
            assert shown("tail-marker-0")[0].startswith("WARN")  # no prefix again
            assert str(viewer.query_one("#log-title").render()) == f"Logs of pod {pods[0]}"
            await pilot.press("q")  # leaves the viewer, as q leaves less(1); not the app
            await wait_for(pilot, lambda: not isinstance(app.screen, LogViewer), "back")
            assert app.is_running


async def test_all_pods_buffer_is_a_ring_of_the_line_cap(tmp_path, fixed_operator):
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=5) as (cluster, _server):
        config = load_config(write_config(tmp_path, kubeconfig=str(kubeconfig),
                                          extra_env="ui: {output_line_cap: 100}\n"))
        pods = app_pods(cluster)
        app = McpOpsApp(config, "sandbox", operator=fixed_operator, live=False)
        async with app.run_test(size=(80, 24)) as pilot:
            viewer = LogViewer(pods[0])
            await app.push_screen(viewer)
            await pilot.press("a")
            # every pod's last 200 lines arrive: far more than the cap
            await wait_for(pilot, lambda: viewer.buffer.received >= 3 * 100, "many lines")
            assert len(viewer.buffer.lines) == 100 and viewer.buffer.dropped >= 200
            assert viewer.query_one(WrapLog).line_count <= 100
            assert len({line.split(" ", 1)[0] for line in viewer.buffer.lines}) >= 1
            status = str(viewer.query_one("#log-status").render())
            assert "dropped" in status


def test_buffer_presets_skip_the_prefix_and_stamps_split():
    buffer = LogBuffer(3)
    buffer.add("auth-proxy-1 GET / 200", skip=len("auth-proxy-1 "))
    buffer.add("web-1 WARN authentication failed", skip=len("web-1 "))
    auth = next(p for p in PRESETS if p.name == "auth")
    assert buffer.view(auth) == ["web-1 WARN authentication failed"]
    for i in range(3):
        buffer.add(f"line {i}")
    assert list(buffer.lines) == ["line 0", "line 1", "line 2"] and buffer.dropped == 2
    assert split_stamp("2026-12-06T19:00:00.123456789Z hello world") == (
        "2026-12-06T19:00:00.123456789Z", "hello world")
    assert split_stamp("2026-12-06 19:00:00,123 INFO x") == (None, "2026-12-06 19:00:00,123 INFO x")
