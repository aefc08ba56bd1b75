"""The Kubernetes collector against the project's API emulator (seeded production world):
list+watch caching, scaling seen through the watch, crashloop / OOMKilled / scaled-to-0 as
CRITICAL with reasons, CPU % from metrics.k8s.io, and a re-list on 410 Expired."""

from __future__ import annotations

import asyncio
import os

import pytest
from health_support import emulator
from waiting import DEFAULT_TIMEOUT
from waiting import until as wait_until

from console.collectors.kube import KubeCollector
from console.collectors.kube_model import KubeSnapshot
from console.config.model import KubernetesSettings, Thresholds
from console.health import Status
from console.health.evaluate import evaluate_component
from console.sources.kube import KubeError, KubeSource
from sandbox.kube.controllers import chaos, quantity

pytestmark = pytest.mark.timeout(60)
NS = "mcp-production"


@pytest.fixture
async def world(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10) as (cluster, server):
        yield cluster, KubernetesSettings(kubeconfig=str(kubeconfig), request_timeout=5)


async def until(collector: KubeCollector, predicate,
                seconds: float = DEFAULT_TIMEOUT) -> KubeSnapshot:
    """Collect until ``predicate(snapshot)`` holds. In watch mode the first collections may
    come before the informers' first list has arrived (empty pods), so a test that needs
    pods waits for them here too."""
    last: list[KubeSnapshot] = []

    async def probe() -> KubeSnapshot | None:
        snap = await collector.collect()
        assert snap.error is None, snap.error
        last[:] = [snap]
        return snap if predicate(snap) else None

    return await wait_until(probe, seconds, interval=0.2,
                            what=lambda: f"condition on the snapshot (last: {last})")


def published_cpu(cluster) -> dict[str, int]:
    """Each pod's CPU in millicores as the emulator's metrics writer last published it."""
    return {m["metadata"]["name"]: sum(quantity.cpu_millis(c["usage"]["cpu"])
                                       for c in m["containers"])
            for m in cluster.store.iter("pods.metrics.k8s.io", NS)}


async def kubectl(settings: KubernetesSettings, tmp_path, *args: str) -> str:
    env = os.environ | {"KUBECONFIG": settings.kubeconfig, "KUBECACHEDIR": str(tmp_path / "kc")}
    proc = await asyncio.create_subprocess_exec(
        "kubectl", "--request-timeout=10s", "-n", NS, *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_seeded_world_is_healthy_with_cpu_from_metrics(world):
    cluster, settings = world
    c = KubeCollector(settings, watch=False)
    published: dict[str, int] = {}

    async def reading_within_one_scrape() -> KubeSnapshot | None:
        # the writer publishes new figures every few seconds: keep a collection during
        # which they did not change, so there is one right answer to compare with
        before = published_cpu(cluster)
        snap = await c.collect()
        assert snap.error is None, snap.error
        if published_cpu(cluster) != before or not snap.pods or any(
                p.cpu_m is None for p in snap.pods):
            return None
        published.update(before)
        return snap

    try:
        snap = await wait_until(reading_within_one_scrape, interval=0.2,
                                what="a collection within one metrics scrape")
    finally:
        await c.close()
    d = snap.deployment
    assert (d.name, d.desired, d.ready) == ("mcp-server-production", 6, 6)
    assert d.image and d.revision == "1"
    assert snap.hpa is not None and snap.hpa.max >= snap.hpa.min > 0
    assert len(snap.pods) == 6 and snap.ready_pods == 6
    assert len(snap.nodes) >= 1 and all(n.ready for n in snap.nodes)
    for pod in snap.pods:  # vs the published usage and the runbook's 500m CPU request
        assert pod.cpu_m == pytest.approx(published[pod.name])
        assert pod.cpu_pct == pytest.approx(100 * published[pod.name] / 500)
        assert 0 < pod.cpu_pct < 100
    assert snap.avg_cpu_pct is not None
    health = evaluate_component("pods", snap, Thresholds())
    assert health.status is Status.HEALTHY, health.reasons
    assert "6/6 pods ready" in health.reasons


async def test_watch_sees_scaling_with_a_single_list(world, tmp_path):
    cluster, settings = world
    c = KubeCollector(settings, watch=True)
    try:
        first = await until(c, lambda s: s.deployment is not None and s.pods)
        assert first.deployment.desired == 6
        await kubectl(settings, tmp_path, "scale", "deployment/mcp-server-production", "--replicas=3")
        snap = await until(c, lambda s: s.deployment.desired == 3 and len(
            [p for p in s.pods if not p.deleting]) == 3)
        assert snap.deployment.desired == 3
        assert all(i.lists == 1 for i in c.informers.values()), \
            {n: i.lists for n, i in c.informers.items()}
        assert all(i.watches >= 1 for i in c.informers.values())
    finally:
        await c.close()


async def test_watches_open_once_the_first_snapshot_is_in(world, tmp_path):
    cluster, settings = world
    c = KubeCollector(settings, watch=True)
    try:
        first = await c.collect()
        assert first.deployment.desired == 6 and len(first.pods) == 6
        assert {n: (i.lists, i.watches) for n, i in c.informers.items()} == \
            {n: (1, 0) for n in c.informers}
        await kubectl(settings, tmp_path, "scale", "deployment/mcp-server-production", "--replicas=3")
        snap = await until(c, lambda s: s.deployment.desired == 3)
        assert snap.deployment.desired == 3
        assert all(i.lists == 1 and i.watches >= 1 for i in c.informers.values())
    finally:
        await c.close()


async def test_scaled_to_zero_is_critical_service_down(world, tmp_path):
    cluster, settings = world
    await kubectl(settings, tmp_path, "scale", "deployment/mcp-server-production", "--replicas=0")
    c = KubeCollector(settings, watch=True)
    try:
        snap = await until(c, lambda s: s.deployment.desired == 0)
    finally:
        await c.close()
    health = evaluate_component("pods", snap, Thresholds())
    assert health.status is Status.CRITICAL
    assert health.reasons[0] == "service down: deployment mcp-server-production scaled to 0 replicas"


async def test_crashlooping_pod_is_critical_with_pod_and_reason(world):
    cluster, settings = world
    c = KubeCollector(settings, watch=True)
    try:
        victim = (await until(c, lambda s: s.pods)).pods[0].name
        chaos.crashloop(cluster, NS, pod=victim)
        snap = await until(c, lambda s: any(p.name == victim and p.waiting_reason == "CrashLoopBackOff"
                                            for p in s.pods))
    finally:
        await c.close()
    health = evaluate_component("pods", snap, Thresholds())
    assert health.status is Status.CRITICAL
    reason = next(r for r in health.reasons if victim in r)
    assert reason.startswith(f"pod {victim} CrashLoopBackOff (")
    assert "last exit Error" in reason


async def test_oomkilled_pod_is_reported(world):
    cluster, settings = world
    c = KubeCollector(settings, watch=True)
    try:
        victim = (await until(c, lambda s: len(s.pods) >= 2)).pods[1].name
        chaos.oom_kill(cluster, NS, victim)
        snap = await until(c, lambda s: any(p.name == victim and p.last_termination == "OOMKilled"
                                            for p in s.pods))
    finally:
        await c.close()
    health = evaluate_component("pods", snap, Thresholds())
    assert any(r.startswith(f"pod {victim} OOMKilled") for r in health.reasons)
    assert health.status >= Status.WARNING


async def test_expired_resource_version_relists(world):
    cluster, settings = world
    c = KubeCollector(settings, watch=True)
    try:
        await until(c, lambda s: s.pods)
        pods = c.informers["pods"]
        await pods.stop()
        assert pods.lists == 1
        cluster.store.create("configmaps", {"metadata": {"name": "churn", "namespace": NS},
                                            "data": {"n": "0"}})
        for i in range(20_050):  # roll the emulator's watch history past our version
            cluster.store.mutate("configmaps", NS, "churn", lambda o, i=i: o["data"].update(n=str(i)))
        pods.start()  # resumes the watch from the old version: 410 Expired, then a new list
        await wait_until(lambda: pods.lists >= 2, what="a second list")
        assert pods.lists == 2
        assert pods.error is None  # 410 is a re-list, not a failure
        snap = await c.collect()
        assert snap.error is None and len(snap.pods) == 6
    finally:
        await c.close()


async def test_unreachable_api_is_an_error_snapshot(tmp_path):
    kubeconfig = tmp_path / "kc"
    async with emulator(kubeconfig, seeded=False):
        pass  # written, then the server is gone
    c = KubeCollector(KubernetesSettings(kubeconfig=str(kubeconfig)), watch=True, timeout=1)
    try:
        snap = await c.collect()
    finally:
        await c.close()
    assert snap.error and snap.pods == ()
    health = evaluate_component("pods", snap, Thresholds())
    assert health.status is Status.UNKNOWN and health.reasons[0].startswith("Kubernetes unreachable")


# ---- optional parts fail alone: a slow metrics-server or cert-manager, no node access -----
@pytest.fixture
async def served(tmp_path):
    """The seeded world with its API server (for faults and extra tokens)."""
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=10) as (cluster, server):
        yield cluster, server, KubernetesSettings(kubeconfig=str(kubeconfig), request_timeout=5)


async def test_a_hung_request_is_a_kube_error_not_a_bare_timeout(served):
    cluster, server, settings = served
    server.faults.add("/apis/metrics.k8s.io", hang=True)
    source = KubeSource(settings, timeout=0.5)
    try:
        with pytest.raises(KubeError) as caught:
            await source.get(f"/apis/metrics.k8s.io/v1beta1/namespaces/{NS}/pods")
        assert caught.value.status == 0 and "no answer" in str(caught.value)
        # a stream that goes quiet past its read timeout ends the same way
        body = await source.get(f"/api/v1/namespaces/{NS}/configmaps")
        version = body["metadata"]["resourceVersion"]
        with pytest.raises(KubeError):
            async for _ in source.lines(f"/api/v1/namespaces/{NS}/configmaps", read_timeout=0.5,
                                        watch=True, resourceVersion=version, timeoutSeconds=30,
                                        fieldSelector="metadata.name=no-such-map"):
                pass
    finally:
        await source.close()


@pytest.mark.parametrize("watch", [False, True], ids=["listed", "watched"])
@pytest.mark.parametrize("slow", ["/apis/metrics.k8s.io", "/apis/cert-manager.io"])
async def test_slow_metrics_or_certificate_keeps_the_pods_panel(served, watch, slow):
    cluster, server, settings = served
    c = KubeCollector(settings, watch=watch, timeout=1)
    try:
        await until(c, lambda s: s.certificate is not None and s.avg_cpu_pct is not None)
        server.faults.add(slow, hang=True)
        snap = await c.collect()
    finally:
        await c.close()
    assert snap.error is None, snap.error
    assert len(snap.pods) == 6 and snap.deployment is not None
    if "metrics" in slow:
        assert snap.metrics_error and "no answer" in snap.metrics_error
        assert snap.certificate is not None
    else:
        assert snap.certificate is None and snap.metrics_error is None
        assert snap.avg_cpu_pct is not None


NS_READER = "ns-reader-token"


@pytest.mark.parametrize("watch", [False, True], ids=["listed", "watched"])
async def test_namespace_only_credentials_show_pods_without_nodes(served, tmp_path, watch):
    """get/list/watch in the namespace only, as a RoleBinding grants: nodes (cluster-scoped)
    are refused with 403, and the snapshot keeps everything else."""
    from sandbox.kube.auth import EVERYONE, User

    cluster, server, _ = served
    authz = server.ctx.authorizer
    authz.tokens[NS_READER] = User("ns-reader", (EVERYONE,))
    authz.user_rules["ns-reader"] = [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"],
                                      "resources": ["*"], "namespace": NS}]
    settings = KubernetesSettings(
        kubeconfig=str(server.write_kubeconfig(tmp_path / "kc-ns", NS_READER)), request_timeout=5)
    c = KubeCollector(settings, watch=watch, timeout=3)
    try:
        snap = await until(c, lambda s: s.avg_cpu_pct is not None)
    finally:
        await c.close()
    assert snap.deployment is not None and len(snap.pods) == 6 and snap.hpa is not None
    assert snap.nodes == () and snap.nodes_error.startswith("HTTP 403")
    assert snap.hpa_error is None and snap.events_error is None
    health = evaluate_component("pods", snap, Thresholds())
    assert health.status is Status.HEALTHY, health.reasons
    assert any(r.startswith("nodes not checked (these credentials may not read them)")
               for r in health.reasons)


async def test_unanswered_events_are_a_warning_with_the_pods_kept(served):
    cluster, server, settings = served
    server.faults.add(f"/api/v1/namespaces/{NS}/events", status=503)
    c = KubeCollector(settings, watch=False, timeout=1)
    try:
        snap = await until(c, lambda s: s.avg_cpu_pct is not None)
    finally:
        await c.close()
    assert len(snap.pods) == 6 and snap.events == ()
    assert snap.events_error.startswith("HTTP 503")
    health = evaluate_component("pods", snap, Thresholds())
    assert health.status is Status.WARNING
    assert any(r.startswith("events not checked: HTTP 503") for r in health.reasons)
