"""Workload controllers driven through the store, with the clock sped up: Deployments and
their ReplicaSets, the rolling-update bounds, Recreate, pause, history pruning, pod
lifecycle, DaemonSets, StatefulSets and garbage collection.
"""

from __future__ import annotations

import copy
import re

import pytest
from kube_support import running_cluster
from waiting import until

from sandbox.kube import seed_platform
from sandbox.kube.controllers import podspec

# the seeded world's HPA would fight the replica counts these tests set
pytestmark = [pytest.mark.timeout(60), pytest.mark.world(hpa_actuation=False)]

NS = "mcp-production"


def _nodes_and_namespaces(cluster) -> None:
    seed_platform.namespaces(cluster.store, cluster.clock)
    seed_platform.nodes(cluster.store, cluster.clock)


@pytest.fixture
async def bare():
    """Nodes and namespaces only, so a test sees its own objects born."""
    async with running_cluster(seeded=False, prepare=_nodes_and_namespaces) as cluster:
        yield cluster


def owned(store, resource: str, owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    return [o for o in store.iter(resource, owner["metadata"]["namespace"])
            if any(r.get("uid") == uid and r.get("controller")
                   for r in o["metadata"].get("ownerReferences") or [])]


def deployment_body(name: str, replicas: int, image: str = "nginx:1.27", **spec) -> dict:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "progressDeadlineSeconds": 600, "revisionHistoryLimit": 10,
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": image}]}},
                 **spec},
    }


def set_image(store, name: str, image: str) -> None:
    store.mutate("deployments.apps", NS, name, lambda d: d["spec"]["template"]["spec"][
        "containers"][0].__setitem__("image", image))


def complete(store, name: str, replicas: int) -> bool:
    d = store.peek("deployments.apps", NS, name)
    s = d.get("status") or {}
    return (s.get("observedGeneration") == d["metadata"]["generation"]
            and s.get("updatedReplicas") == s.get("replicas") == s.get("availableReplicas")
            == replicas)


async def test_a_new_deployment_gets_a_hashed_replicaset_and_pods_that_start(bare):
    store = bare.store
    phases: dict[str, list[str]] = {}

    def watch(event):
        if event.resource == "pods" and event.type != "DELETED":
            cs = (event.object.get("status") or {}).get("containerStatuses") or [{}]
            state = next(iter(cs[0].get("state") or {"none": {}}))
            label = f"{event.object['status'].get('phase')}/{state}/{cs[0].get('ready')}"
            seen = phases.setdefault(event.name, [])
            if not seen or seen[-1] != label:
                seen.append(label)

    store.subscribe(watch)
    d = store.create("deployments.apps", deployment_body("web", 3))
    await until(lambda: complete(store, "web", 3))
    (rs,) = owned(store, "replicasets.apps", d)
    h = rs["metadata"]["labels"][podspec.HASH_LABEL]
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", podspec.HASH_LABEL: h}
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert store.get("deployments.apps", NS, "web")["metadata"]["annotations"][
        "deployment.kubernetes.io/revision"] == "1"
    pods = owned(store, "pods", rs)
    assert len(pods) == 3
    for pod in pods:
        assert re.fullmatch(rf"web-{h}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", pod["metadata"]["name"])
        assert pod["spec"]["nodeName"] and pod["status"]["podIP"].startswith("10.244.")
        kinds = [c["type"] for c in pod["status"]["conditions"]]
        assert {"PodScheduled", "Initialized", "ContainersReady", "Ready"} <= set(kinds)
        assert phases[pod["metadata"]["name"]][-3:] == [
            "Pending/waiting/False", "Running/running/False", "Running/running/True"]
    assert len({p["spec"]["nodeName"] for p in pods}) == 3  # spread over nodes
    reasons = {e["reason"] for e in store.iter("events", NS)}
    assert {"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Pulling", "Pulled", "Created",
            "Started"} <= reasons
    status = store.get("deployments.apps", NS, "web")["status"]
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "Available": "MinimumReplicasAvailable", "Progressing": "NewReplicaSetAvailable"}


async def test_rolling_update_stays_within_surge_and_unavailability(world):
    store = world.store
    d = store.get("deployments.apps", NS, "mcp-server-production")
    worst = {"total": 0, "ready": 99}

    def count(_event=None):
        pods = [p for rs in owned(store, "replicasets.apps", d) for p in owned(store, "pods", rs)
                if podspec.is_active(p)]
        worst["total"] = max(worst["total"], len(pods))
        worst["ready"] = min(worst["ready"], sum(1 for p in pods if podspec.is_ready(p)))

    store.subscribe(lambda e: count() if e.resource == "pods" else None)
    set_image(store, "mcp-server-production", "pratiko/mcp-server:v1.2.0")
    await until(lambda: complete(store, "mcp-server-production", 6))
    # 6 replicas, maxSurge 25% -> 2 (rounded up), maxUnavailable 25% -> 1 (rounded down)
    assert worst["total"] <= 8
    assert worst["ready"] >= 5
    old, new = sorted(owned(store, "replicasets.apps", d),
                      key=lambda rs: rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 6)


async def test_recreate_stops_every_old_pod_before_starting_new_ones(world):
    store = world.store
    d = store.get("deployments.apps", NS, "postgres-production-primary")
    old_rs = owned(store, "replicasets.apps", d)[0]
    overlap = []

    def watch(event):
        if event.resource == "pods" and event.type == "ADDED" and \
                event.object["spec"]["containers"][0]["image"] == "postgres:15.8":
            overlap.append([p["metadata"]["name"] for p in owned(store, "pods", old_rs)])

    store.subscribe(watch)
    set_image(store, "postgres-production-primary", "postgres:15.8")
    await until(lambda: complete(store, "postgres-production-primary", 1))
    assert overlap == [[]]


async def test_paused_deployment_holds_its_rollout_until_resumed(world):
    store = world.store
    store.mutate("deployments.apps", NS, "redis-production-master",
                 lambda o: o["spec"].__setitem__("paused", True))
    set_image(store, "redis-production-master", "redis:7.4")

    def paused_seen():  # written by the first sync that saw both the pause and the new image
        d = store.get("deployments.apps", NS, "redis-production-master")
        return any(c["type"] == "Progressing" and c["reason"] == "DeploymentPaused"
                   for c in d["status"].get("conditions") or [])

    await until(paused_seen)
    d = store.get("deployments.apps", NS, "redis-production-master")
    assert len(owned(store, "replicasets.apps", d)) == 1
    progressing = next(c for c in d["status"]["conditions"] if c["type"] == "Progressing")
    assert (progressing["status"], progressing["reason"]) == ("Unknown", "DeploymentPaused")
    store.mutate("deployments.apps", NS, "redis-production-master",
                 lambda o: o["spec"].__setitem__("paused", False))
    await until(lambda: complete(store, "redis-production-master", 1))
    assert len(owned(store, "replicasets.apps", d)) == 2


async def test_revision_history_limit_prunes_the_oldest_replicasets(bare):
    store = bare.store
    d = store.create("deployments.apps", deployment_body("api", 1, revisionHistoryLimit=1))
    for tag in ("1.25", "1.26", "1.27"):
        await until(lambda: complete(store, "api", 1))
        set_image(store, "api", f"nginx:{tag}")
    await until(lambda: complete(store, "api", 1) and len(owned(store, "replicasets.apps", d)) == 2)
    revisions = sorted(int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                       for rs in owned(store, "replicasets.apps", d))
    assert revisions == [3, 4]


async def test_rollback_template_reuses_the_replicaset_with_the_next_revision(bare):
    store = bare.store
    d = store.create("deployments.apps", deployment_body("api", 2, image="nginx:1.25"))
    await until(lambda: complete(store, "api", 2))
    first_template = copy.deepcopy(owned(store, "replicasets.apps", d)[0]["spec"]["template"])
    set_image(store, "api", "nginx:1.27")
    await until(lambda: complete(store, "api", 2) and len(owned(store, "replicasets.apps", d)) == 2)
    # what kubectl rollout undo does: the old template (minus its hash label) written back
    del first_template["metadata"]["labels"][podspec.HASH_LABEL]
    first_template["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "0"}}
    store.mutate("deployments.apps", NS, "api",
                 lambda o: o["spec"].__setitem__("template", first_template))
    # a template that is *not* the old one (it gained a request) makes revision 3, new RS
    await until(lambda: len(owned(store, "replicasets.apps", d)) == 3)
    first_template["spec"]["containers"][0]["resources"] = {}
    store.mutate("deployments.apps", NS, "api",
                 lambda o: o["spec"].__setitem__("template", first_template))
    await until(lambda: complete(store, "api", 2))
    rss = {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
           for rs in owned(store, "replicasets.apps", d)}
    assert sorted(rss) == ["2", "3", "4"]
    assert rss["4"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert rss["4"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"


async def test_scale_down_removes_unready_pods_first(world):
    store = world.store
    d = store.get("deployments.apps", NS, "mcp-server-production")
    (rs,) = owned(store, "replicasets.apps", d)
    from sandbox.kube.controllers import chaos

    victim = sorted(owned(store, "pods", rs), key=lambda p: p["metadata"]["name"])[-1]
    chaos.crashloop(world, NS, pod=victim["metadata"]["name"])
    await until(lambda: not podspec.is_ready(store.get("pods", NS, victim["metadata"]["name"])))
    store.mutate("deployments.apps", NS, "mcp-server-production",
                 lambda o: o["spec"].__setitem__("replicas", 5))
    await until(lambda: complete(store, "mcp-server-production", 5))
    names = {p["metadata"]["name"] for p in owned(store, "pods", rs) if podspec.is_active(p)}
    assert len(names) == 5 and victim["metadata"]["name"] not in names


async def test_daemonset_covers_every_node_even_cordoned_ones(world):
    store = world.store
    store.mutate("nodes", "", "node-2", lambda n: n["spec"].__setitem__("unschedulable", True))
    node5 = copy.deepcopy(store.get("nodes", "", "node-4"))
    for field in ("uid", "resourceVersion", "creationTimestamp"):
        node5["metadata"].pop(field)
    node5["metadata"]["name"] = "node-5"
    node5["metadata"]["labels"]["kubernetes.io/hostname"] = "node-5"
    store.create("nodes", node5)
    ds = store.get("daemonsets.apps", "security", "falco")

    def on_nodes():
        return sorted(p["spec"]["nodeName"] for p in owned(store, "pods", ds)
                      if podspec.is_active(p))

    await until(lambda: on_nodes() == ["node-1", "node-2", "node-3", "node-4", "node-5"])
    await until(lambda: store.get("daemonsets.apps", "security", "falco")["status"].get(
        "numberReady") == 5)
    status = store.get("daemonsets.apps", "security", "falco")["status"]
    assert status["desiredNumberScheduled"] == status["currentNumberScheduled"] == 5
    store.delete("nodes", "", "node-5")
    await until(lambda: on_nodes() == ["node-1", "node-2", "node-3", "node-4"])


async def test_statefulset_starts_pods_one_by_one_in_order(bare):
    store = bare.store
    order: list[tuple[str, int]] = []

    def watch(event):
        if event.resource == "pods" and event.type == "ADDED":
            ready = sum(1 for p in store.iter("pods", NS) if podspec.is_ready(p))
            order.append((event.name, ready))

    store.subscribe(watch)
    store.create("statefulsets.apps", {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "queue", "namespace": NS},
        "spec": {"replicas": 3, "serviceName": "queue",
                 "selector": {"matchLabels": {"app": "queue"}},
                 "template": {"metadata": {"labels": {"app": "queue"}},
                              "spec": {"containers": [{"name": "q", "image": "rabbitmq:3"}]}}},
    })
    await until(lambda: (store.get("statefulsets.apps", NS, "queue").get("status") or {}).get(
        "readyReplicas") == 3)
    assert order == [("queue-0", 0), ("queue-1", 1), ("queue-2", 2)]
    pod = store.get("pods", NS, "queue-1")
    assert pod["spec"]["hostname"] == "queue-1" and pod["spec"]["subdomain"] == "queue"
    store.mutate("statefulsets.apps", NS, "queue", lambda o: o["spec"].__setitem__("replicas", 1))
    await until(lambda: sorted(p["metadata"]["name"] for p in store.iter("pods", NS)) == ["queue-0"])


async def test_deleting_a_deployment_deletes_its_replicasets_and_pods(world):
    store = world.store
    d = store.get("deployments.apps", NS, "redis-production-master")
    (rs,) = owned(store, "replicasets.apps", d)
    store.delete("deployments.apps", NS, "redis-production-master")
    await until(lambda: store.peek("replicasets.apps", NS, rs["metadata"]["name"]) is None)
    await until(lambda: not [p for p in store.iter("pods", NS)
                             if p["metadata"]["labels"].get("app") == "redis"])
