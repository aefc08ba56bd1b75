"""Pure pieces the controllers rest on: quantities, template hashing and equality, the
rolling-update arithmetic, the container state machine and the event recorder.
"""

from __future__ import annotations

import copy

import pytest

from sandbox.kube.clock import Clock
from sandbox.kube.cluster import Cluster
from sandbox.kube.controllers import containers, podspec, quantity
from sandbox.kube.controllers.chaos import ChaosState, CrashTarget
from sandbox.kube.controllers.deployment import surge_and_unavailable
from sandbox.kube.controllers.events import EventRecorder

TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                     "resources": {"limits": {"cpu": "2000m"}}}]}}


@pytest.mark.parametrize(("given", "canonical"), [
    ("2000m", "2"), ("500m", "500m"), ("0.5", "500m"), ("1024Mi", "1Gi"), ("1536Mi", "1536Mi"),
    ("1.5Gi", "1536Mi"), ("4Gi", "4Gi"), ("0", "0"), ("1e3", "1k"), ("100m", "100m")])
def test_quantities_canonicalise_like_the_apiserver(given, canonical):
    assert quantity.canonical(given) == canonical
    assert quantity.parse(given) == pytest.approx(quantity.parse(canonical))


def test_quantity_parsing_and_formatting():
    assert quantity.cpu_millis("250m") == 250 and quantity.cpu_millis("2") == 2000
    assert quantity.memory_bytes("512Mi") == 512 * 2**20
    assert quantity.memory_bytes("1G") == 10**9
    assert quantity.parse(None) == 0 and quantity.parse("nonsense") == 0
    assert quantity.format_cpu(249.6) == "250m" and quantity.format_memory(3 * 2**30) == "3072Mi"


@pytest.mark.parametrize(("replicas", "surge", "unavailable", "expected"), [
    (6, "25%", "25%", (2, 1)), (10, "25%", "25%", (3, 2)), (1, "25%", "25%", (1, 0)),
    (4, 0, 0, (0, 1)), (6, 1, 0, (1, 0))])
def test_surge_rounds_up_and_unavailability_rounds_down(replicas, surge, unavailable, expected):
    d = {"spec": {"replicas": replicas, "strategy": {"rollingUpdate": {
        "maxSurge": surge, "maxUnavailable": unavailable}}}}
    assert surge_and_unavailable(d) == expected


def test_template_hash_ignores_defaults_hash_label_and_quantity_spelling():
    h = podspec.template_hash(TEMPLATE)
    assert len(h) >= 8 and set(h) <= set(podspec.SAFE_ALPHABET)
    through_kubectl = copy.deepcopy(TEMPLATE)
    through_kubectl["metadata"]["creationTimestamp"] = None
    through_kubectl["metadata"]["labels"][podspec.HASH_LABEL] = h
    through_kubectl["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "2"
    podspec.default_pod_spec(through_kubectl["spec"])
    assert podspec.templates_equal(TEMPLATE, through_kubectl)
    assert podspec.template_hash(through_kubectl) == h
    changed = copy.deepcopy(TEMPLATE)
    changed["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert not podspec.templates_equal(TEMPLATE, changed)
    assert podspec.template_hash(changed) != h
    assert podspec.template_hash(TEMPLATE, collision_count=1) != h


def test_pods_from_a_template_carry_owner_and_defaults():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "web-abc", "uid": "u-1"}}
    pod = podspec.pod_from_template(TEMPLATE, name="web-abc-xyz12", namespace="ns", owner=owner)
    assert pod["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "u-1",
        "controller": True, "blockOwnerDeletion": True}]
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["status"] == {"phase": "Pending", "qosClass": "Burstable"}


def test_label_selectors_with_expressions():
    sel = {"matchLabels": {"app": "web"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                {"key": "canary", "operator": "DoesNotExist"}]}
    assert podspec.labels_match(sel, {"app": "web", "tier": "a"})
    assert not podspec.labels_match(sel, {"app": "web", "tier": "c"})
    assert not podspec.labels_match(sel, {"app": "web", "tier": "a", "canary": "1"})
    assert podspec.labels_match({}, {"anything": "x"})


def _bound_pod(clock: Clock) -> tuple[dict, dict]:
    pod = podspec.pod_from_template(
        {"metadata": {"labels": {"app": "web"}},
         "spec": {"containers": [{"name": "web", "image": "nginx:1.27",
                                  "readinessProbe": {"httpGet": {"path": "/", "port": 80},
                                                     "initialDelaySeconds": 2}}]}},
        name="web-1", namespace="ns",
        owner={"kind": "ReplicaSet", "metadata": {"name": "rs", "uid": "u"}})
    pod["metadata"]["uid"] = "pod-uid"
    node = {"metadata": {"name": "node-1"},
            "status": {"addresses": [{"type": "InternalIP", "address": "10.0.1.11"}]}}
    return pod, node


def _advance(pod, node, chaos, clock, seconds):
    clock.advance(seconds)
    status, events, recheck = containers.advance_containers(pod, node, True, chaos, clock,
                                                            lambda: "10.244.1.9")
    pod["status"] = status
    return status, [e[2] for e in events], recheck


def test_container_state_machine_from_creating_to_ready_and_crashloop():
    clock = Clock(speed=1)
    chaos = ChaosState()
    pod, node = _bound_pod(clock)
    status, reasons, recheck = _advance(pod, node, chaos, clock, 0)
    assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    assert status["podIP"] == "10.244.1.9" and status["hostIP"] == "10.0.1.11"
    assert reasons == ["Pulling"] and recheck == containers.PULL_SECONDS
    status, reasons, _ = _advance(pod, node, chaos, clock, containers.PULL_SECONDS)
    assert status["phase"] == "Running" and reasons == ["Pulled", "Created", "Started"]
    assert not status["containerStatuses"][0]["ready"]
    status, _, _ = _advance(pod, node, chaos, clock, 3.5)
    assert status["containerStatuses"][0]["ready"] is True
    assert podspec.is_ready(pod)

    chaos.crashes.append(CrashTarget("ns", pod="web-1"))
    status, reasons, recheck = _advance(pod, node, chaos, clock, containers.CRASH_AFTER)
    cs = status["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert (cs["restartCount"], cs["lastState"]["terminated"]["exitCode"]) == (1, 1)
    assert "BackOff" in reasons and "Unhealthy" in reasons
    assert recheck == containers.restart_backoff(1) == 10
    status, reasons, _ = _advance(pod, node, chaos, clock, 10)
    assert "running" in status["containerStatuses"][0]["state"]
    status, _, recheck = _advance(pod, node, chaos, clock, containers.CRASH_AFTER)
    assert status["containerStatuses"][0]["restartCount"] == 2 and recheck == 20
    assert [containers.restart_backoff(n) for n in (1, 2, 3, 6, 10)] == [10, 20, 40, 300, 300]


def test_event_recorder_repeats_instead_of_duplicating():
    cluster = Cluster(clock=Clock(speed=1))
    recorder = EventRecorder(cluster)
    pod = {"kind": "Pod", "apiVersion": "v1",
           "metadata": {"name": "p", "namespace": "ns", "uid": "u"}}
    for _ in range(3):
        recorder.record(pod, "Warning", "BackOff", "Back-off restarting", component="kubelet",
                        host="node-1")
    recorder.record(pod, "Normal", "Pulled", "pulled", component="kubelet")
    events = sorted(cluster.store.iter("events", "ns"), key=lambda e: e["reason"])
    assert [(e["reason"], e["count"]) for e in events] == [("BackOff", 3), ("Pulled", 1)]
    assert events[0]["involvedObject"]["uid"] == "u"
    assert events[0]["source"] == {"component": "kubelet", "host": "node-1"}
    cluster.clock.advance(3601)
    recorder.prune()
    assert cluster.store.iter("events", "ns") == []


def test_hpa_recommendation_is_conservative_about_unmeasured_pods():
    from sandbox.kube.controllers.hpa import _recommend

    # 6 pods measured at 120 % of a 70 % target: 6 * 1.2 / 0.7 -> 11
    assert _recommend(used=6 * 1.2, counted=6, ready=6, goal=0.7, current=6) == 11
    within = _recommend(used=6 * 0.74, counted=6, ready=6, goal=0.7, current=6)
    assert within == 6  # inside the 10 % tolerance
    # 12 ready, only the 6 old ones measured (at the old load): missing count as idle
    assert _recommend(used=6 * 1.2, counted=6, ready=12, goal=0.7, current=12) == 12
    # scaling down with unmeasured pods assumes they sit at the target
    assert _recommend(used=4 * 0.2, counted=4, ready=8, goal=0.7, current=8) == 6
    assert _recommend(used=8 * 0.2, counted=8, ready=8, goal=0.7, current=8) == 3
