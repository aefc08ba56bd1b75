"""Builders for the seeded world's workloads, created already running.

A cluster that has been up for months does not start from Pending pods: the seed writes
each Deployment together with its ReplicaSet (revision 1, the right pod-template-hash) and
pods that are Running and Ready since a moment in the past, with statuses identical to
what the controllers would compute, so that starting the controllers changes nothing and
the world is healthy from the first request. DaemonSets, StatefulSets and a finished Job
are built the same way.
"""

from __future__ import annotations

import copy
import itertools

from .clock import Clock
from .controllers import podspec
from .controllers.containers import running_status
from .controllers.daemonset import daemon_pod
from .store import Obj, Store

DAY = 86400.0


class Placer:
    """Hands out nodes round-robin and pod IPs per node, as the scheduler and CNI would."""

    def __init__(self, nodes: list[Obj], extras: dict):
        self.nodes = nodes
        self._ips: dict[str, int] = extras.setdefault("pod_ip_next", {})
        self._cycle = itertools.cycle(range(len(nodes)))

    def host_ip(self, node: str) -> str:
        obj = next(n for n in self.nodes if n["metadata"]["name"] == node)
        return next(a["address"] for a in obj["status"]["addresses"] if a["type"] == "InternalIP")

    def pod_ip(self, node: str) -> str:
        n = self._ips.get(node, 1) + 1
        self._ips[node] = n
        digits = "".join(ch for ch in node if ch.isdigit()) or "0"
        return f"10.244.{int(digits) % 250}.{n % 250 + 2}"

    def next_node(self) -> str:
        return self.nodes[next(self._cycle)]["metadata"]["name"]


def _running_pod(pod: Obj, node: str, placer: Placer, started: str) -> Obj:
    pod["spec"]["nodeName"] = node
    pod["metadata"]["creationTimestamp"] = started
    pod["status"] = running_status(pod, placer.host_ip(node), placer.pod_ip(node), started)
    return pod


def deployment(store: Store, clock: Clock, placer: Placer, *, namespace: str, name: str,
               replicas: int, template: Obj, age_days: float, rollout_age_days: float,
               labels: dict[str, str] | None = None, strategy: Obj | None = None,
               nodes: list[str] | None = None) -> Obj:
    """A Deployment at revision 1 with ``replicas`` Running pods (on ``nodes`` if given,
    else round-robin)."""
    created = clock.timestamp(clock.now() - age_days * DAY)
    rolled = clock.timestamp(clock.now() - rollout_age_days * DAY)
    template = copy.deepcopy(template)
    podspec.default_pod_spec(template["spec"])
    match = {"app": template["metadata"]["labels"]["app"]}
    d = store.create("deployments.apps", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                     "labels": labels or {"app": match.get("app", name)},
                     "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": match},
            "template": template,
            "strategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {
                "maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
        },
    })
    h = podspec.template_hash(template)
    rs_template = copy.deepcopy(template)
    rs_template["metadata"]["labels"][podspec.HASH_LABEL] = h
    surge = _surge(d)
    rs = store.create("replicasets.apps", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": f"{name}-{h}", "namespace": namespace, "creationTimestamp": rolled,
                     "labels": dict(rs_template["metadata"]["labels"]),
                     "annotations": {"deployment.kubernetes.io/revision": "1",
                                     "deployment.kubernetes.io/desired-replicas": str(replicas),
                                     "deployment.kubernetes.io/max-replicas": str(replicas + surge)},
                     "ownerReferences": [podspec.owner_ref(d)]},
        "spec": {"replicas": replicas, "minReadySeconds": 0,
                 "selector": {"matchLabels": {**match, podspec.HASH_LABEL: h}},
                 "template": rs_template},
    })
    for i in range(replicas):
        node = nodes[i % len(nodes)] if nodes else placer.next_node()
        pod_name = f"{rs['metadata']['name']}-{podspec.random_suffix()}"
        while store.peek("pods", namespace, pod_name) is not None:  # 27^5 names: rare, not never
            pod_name = f"{rs['metadata']['name']}-{podspec.random_suffix()}"
        pod = podspec.pod_from_template(rs_template, name=pod_name, namespace=namespace, owner=rs)
        store.create("pods", _running_pod(pod, node, placer, rolled))
    counts = {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
    store.mutate("replicasets.apps", namespace, rs["metadata"]["name"], lambda o: o.__setitem__(
        "status", {**counts, "fullyLabeledReplicas": replicas, "observedGeneration": 1}))
    conditions = [
        {"type": "Available", "status": "True", "lastUpdateTime": rolled,
         "lastTransitionTime": rolled, "reason": "MinimumReplicasAvailable",
         "message": "Deployment has minimum availability."},
        {"type": "Progressing", "status": "True", "lastUpdateTime": rolled,
         "lastTransitionTime": created, "reason": "NewReplicaSetAvailable",
         "message": f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'},
    ]
    return store.mutate("deployments.apps", namespace, name, lambda o: o.__setitem__(
        "status", {"observedGeneration": 1, **counts, "updatedReplicas": replicas,
                   "conditions": conditions}))


def _surge(d: Obj) -> int:
    from .controllers.deployment import surge_and_unavailable

    return surge_and_unavailable(d)[0]


def daemonset(store: Store, clock: Clock, placer: Placer, *, namespace: str, name: str,
              template: Obj, age_days: float) -> Obj:
    created = clock.timestamp(clock.now() - age_days * DAY)
    template = copy.deepcopy(template)
    podspec.default_pod_spec(template["spec"])
    ds = store.create("daemonsets.apps", {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                     "labels": dict(template["metadata"]["labels"])},
        "spec": {"selector": {"matchLabels": dict(template["metadata"]["labels"])},
                 "template": template, "revisionHistoryLimit": 10,
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
                     "maxUnavailable": 1, "maxSurge": 0}}},
    })
    for node in placer.nodes:
        node_name = node["metadata"]["name"]
        store.create("pods", _running_pod(daemon_pod(ds, node_name), node_name, placer, created))
    n = len(placer.nodes)
    return store.mutate("daemonsets.apps", namespace, name, lambda o: o.__setitem__("status", {
        "currentNumberScheduled": n, "desiredNumberScheduled": n, "numberMisscheduled": 0,
        "numberReady": n, "observedGeneration": 1, "updatedNumberScheduled": n,
        "numberAvailable": n}))


def statefulset(store: Store, clock: Clock, placer: Placer, *, namespace: str, name: str,
                replicas: int, template: Obj, service: str, age_days: float) -> Obj:
    created = clock.timestamp(clock.now() - age_days * DAY)
    template = copy.deepcopy(template)
    podspec.default_pod_spec(template["spec"])
    sts = store.create("statefulsets.apps", {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created,
                     "labels": dict(template["metadata"]["labels"])},
        "spec": {"replicas": replicas, "serviceName": service,
                 "selector": {"matchLabels": dict(template["metadata"]["labels"])},
                 "template": template, "podManagementPolicy": "OrderedReady",
                 "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                 "revisionHistoryLimit": 10},
    })
    revision = f"{name}-{podspec.template_hash(template)}"
    for i in range(replicas):
        pod = podspec.pod_from_template(template, name=f"{name}-{i}", namespace=namespace,
                                        owner=sts, extra_labels={
                                            "controller-revision-hash": revision,
                                            "statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                                            "apps.kubernetes.io/pod-index": str(i)})
        pod["spec"].update(hostname=f"{name}-{i}", subdomain=service)
        store.create("pods", _running_pod(pod, placer.next_node(), placer, created))
    return store.mutate("statefulsets.apps", namespace, name, lambda o: o.__setitem__("status", {
        "observedGeneration": 1, "replicas": replicas, "currentReplicas": replicas,
        "updatedReplicas": replicas, "currentRevision": revision, "updateRevision": revision,
        "collisionCount": 0, "readyReplicas": replicas, "availableReplicas": replicas}))


def finished_job(store: Store, clock: Clock, placer: Placer, *, namespace: str, name: str,
                 template: Obj, started_at: float, seconds: float) -> Obj:
    """A batch/v1 Job that ran once and succeeded, with its Completed pod."""
    start, end = clock.timestamp(started_at), clock.timestamp(started_at + seconds)
    template = copy.deepcopy(template)
    podspec.default_pod_spec(template["spec"])
    job = store.create("jobs.batch", {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": start,
                     "labels": dict(template["metadata"]["labels"])},
        "spec": {"parallelism": 1, "completions": 1, "backoffLimit": 3,
                 "completionMode": "NonIndexed", "suspend": False, "template": template},
    })
    uid = job["metadata"]["uid"]
    ids = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
           "controller-uid": uid, "job-name": name}
    pod = podspec.pod_from_template(template, name=f"{name}-{podspec.random_suffix()}",
                                    namespace=namespace, owner=job, extra_labels=ids)
    node = placer.next_node()
    pod["spec"]["nodeName"] = node
    pod["metadata"]["creationTimestamp"] = start
    status = running_status(pod, placer.host_ip(node), placer.pod_ip(node), start)
    status["phase"] = "Succeeded"
    for cs in status["containerStatuses"]:
        cs.update(ready=False, started=False, state={"terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": end,
            "containerID": cs["containerID"]}})
    for cond in status["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond.update(status="False", reason="PodCompleted", lastTransitionTime=end)
    pod["status"] = status
    store.create("pods", pod)

    def finish(o: Obj) -> None:
        o["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        o["spec"]["template"]["metadata"]["labels"].update(ids)
        o["metadata"]["labels"].update(ids)
        o["status"] = {
            "startTime": start, "completionTime": end, "succeeded": 1, "ready": 0,
            "terminating": 0, "uncountedTerminatedPods": {},
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": end,
                 "lastTransitionTime": end},
                {"type": "Complete", "status": "True", "lastProbeTime": end,
                 "lastTransitionTime": end},
            ],
        }

    return store.mutate("jobs.batch", namespace, name, finish)
