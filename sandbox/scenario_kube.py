"""Scenarios acting on the emulated clusters (through their chaos hooks), the backups in
S3 and the production region as a whole.

Reverts undo exactly what their ``apply`` did, the way an operator would have fixed it:
the crashing pod is replaced, the rollout is rolled back to the image it came from, the
failed backup is removed and tonight's dump put back, the certificate is renewed with the
runbook's annotation, the region answers again.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .kube.controllers import chaos
from .kube.controllers.certificates import ISSUING

if TYPE_CHECKING:
    from .platform import Sandbox

NAMESPACE = "mcp-production"
DEPLOYMENT = "mcp-server-production"
APP_LABELS = {"app": "mcp-server"}
VELERO_NAMESPACE = "velero"
CERTIFICATE = "production-tls"
BAD_TAG = "2.5.0-rc1"
CERT_DAYS = 12
BACKUP_JOB_PREFIX = "postgres-backup-"


def _production(sandbox: Sandbox):
    return sandbox.clusters.production.cluster


def _app_pods(cluster) -> list[dict]:
    pods = [p for p in cluster.store.iter("pods", NAMESPACE)
            if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in APP_LABELS.items())
            and not p["metadata"].get("deletionTimestamp")]
    return sorted(pods, key=lambda p: p["metadata"]["name"])


# ---- crashloop -------------------------------------------------------------------------
async def crashloop_apply(sandbox: Sandbox) -> None:
    cluster = _production(sandbox)
    pods = _app_pods(cluster)
    if not pods:
        raise RuntimeError(f"no {DEPLOYMENT} pod to crash")
    # the second pod by name: on screen without scrolling, and not under the table's cursor
    name = pods[min(1, len(pods) - 1)]["metadata"]["name"]
    chaos.crashloop(cluster, NAMESPACE, pod=name)
    sandbox.scenario_state["crashloop"] = name


async def crashloop_revert(sandbox: Sandbox) -> None:
    name = sandbox.scenario_state.pop("crashloop", None)
    if name is None:
        return
    cluster = _production(sandbox)
    state = chaos.state(cluster)
    state.crashes = [t for t in state.crashes if t.pod != name]
    if cluster.store.peek("pods", NAMESPACE, name) is not None:
        cluster.store.delete("pods", NAMESPACE, name)  # its ReplicaSet makes a healthy one


# ---- memory leak ending in OOMKilled ---------------------------------------------------
LEAK_MEMORY_FACTOR = 8.0  # the working set: ~5 GiB per pod where 620 MiB is normal
LEAK_NEEDS_BYTES = 6 * 2**30  # a memory limit this high holds it (the cache levels off)


def _server_limits(cluster) -> dict:
    deployment = cluster.store.peek("deployments.apps", NAMESPACE, DEPLOYMENT) or {}
    containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec")
                  or {}).get("containers") or []
    server = next((c for c in containers if c.get("name") == "mcp-server"), {})
    return dict((server.get("resources") or {}).get("limits") or {})


def _pod_memory_limit(pod: dict) -> int:
    from .kube.controllers import quantity

    server = next((c for c in pod["spec"].get("containers") or []
                   if c.get("name") == "mcp-server"), {})
    limit = ((server.get("resources") or {}).get("limits") or {}).get("memory")
    return quantity.memory_bytes(limit) if limit else 0


async def memory_leak_apply(sandbox: Sandbox) -> None:
    """The server's in-process cache grows without bound past the 4 GiB limit: every
    MCP-server pod is OOMKilled and restarts, again and again — every pod whose memory
    limit is under 6 GiB, new ones included (a restart does not help for long). A memory
    limit of 6 GiB or more (the runbook's stopgap) holds it: the pods of such a template
    run, the cache levelling off below it."""
    import asyncio

    cluster = _production(sandbox)
    added: list = []  # the crash targets and load rules, one of each per pod template

    def leak_where_the_limit_is_too_low() -> None:
        targeted = {t.selector.get("pod-template-hash") for t in added
                    if isinstance(t, chaos.CrashTarget) and t.selector}
        for pod in _app_pods(cluster):
            template = (pod["metadata"].get("labels") or {}).get("pod-template-hash")
            if not template or template in targeted or \
                    _pod_memory_limit(pod) >= LEAK_NEEDS_BYTES:
                continue
            selector = {**APP_LABELS, "pod-template-hash": template}
            chaos.crashloop(cluster, NAMESPACE, selector=selector, reason="OOMKilled")
            chaos.set_load(cluster, 1.0, memory=LEAK_MEMORY_FACTOR, namespace=NAMESPACE,
                           selector=selector)
            state = chaos.state(cluster)
            added.extend((state.crashes[-1], state.load[-1]))
            targeted.add(template)

    async def follow() -> None:
        while True:
            await asyncio.sleep(0.25)
            leak_where_the_limit_is_too_low()

    leak_where_the_limit_is_too_low()
    sandbox.scenario_state["memory-leak"] = (added, asyncio.create_task(follow()),
                                             _server_limits(cluster))


def _forget(cluster, added: list) -> None:
    state = chaos.state(cluster)
    state.crashes = [c for c in state.crashes if all(c is not a for a in added)]
    state.load = [r for r in state.load if all(r is not a for a in added)]
    controllers = cluster.extras.get("controllers")
    if controllers is not None:  # the metrics and the pods see it at once
        controllers.metrics.wake()
        controllers.poke("pods")


async def memory_leak_revert(sandbox: Sandbox) -> None:
    held = sandbox.scenario_state.pop("memory-leak", None)
    if held is None:
        return
    added, watcher, limits = held
    watcher.cancel()
    cluster = _production(sandbox)
    _forget(cluster, added)
    if _server_limits(cluster) != limits:  # the next rehearsal starts where this one did

        def put_back(deployment: dict) -> None:
            for c in deployment["spec"]["template"]["spec"]["containers"]:
                if c.get("name") == "mcp-server":
                    c.setdefault("resources", {})["limits"] = dict(limits)

        cluster.store.mutate("deployments.apps", NAMESPACE, DEPLOYMENT, put_back)
    for pod in _app_pods(cluster):  # the OOM-killed pods are replaced by healthy ones
        if any(int(cs.get("restartCount") or 0) for cs in
               (pod.get("status") or {}).get("containerStatuses") or []):
            cluster.store.delete("pods", NAMESPACE, pod["metadata"]["name"])


# ---- bad rollout -----------------------------------------------------------------------
def _set_image(cluster, image: str, cause: str) -> str:
    previous: list[str] = []

    def edit(deployment: dict) -> None:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        previous.append(container["image"])
        container["image"] = image
        annotations = deployment["metadata"].setdefault("annotations", {})
        annotations["kubernetes.io/change-cause"] = cause

    cluster.store.mutate("deployments.apps", NAMESPACE, DEPLOYMENT, edit)
    return previous[0]


async def bad_rollout_apply(sandbox: Sandbox) -> None:
    cluster = _production(sandbox)
    deployment = cluster.store.get("deployments.apps", NAMESPACE, DEPLOYMENT)
    current = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    bad = current.rsplit(":", 1)[0] + ":" + BAD_TAG
    chaos.mark_image_bad(cluster, bad)
    _set_image(cluster, bad, f"kubectl set image deployment/{DEPLOYMENT} mcp-server={bad}")
    sandbox.scenario_state["bad-rollout"] = (current, bad)


async def bad_rollout_revert(sandbox: Sandbox) -> None:
    images = sandbox.scenario_state.pop("bad-rollout", None)
    if images is None:
        return
    good, bad = images
    cluster = _production(sandbox)
    _set_image(cluster, good, f"kubectl rollout undo deployment/{DEPLOYMENT}")
    chaos.state(cluster).bad_images.discard(bad)


# ---- backups ---------------------------------------------------------------------------
def _backup_job_objects(cluster) -> list[tuple[str, dict]]:
    """Tonight's ``postgres-backup-YYYYMMDD`` Job and its pods, newest Job first."""
    jobs = sorted((j for j in cluster.store.iter("jobs.batch", NAMESPACE)
                   if j["metadata"]["name"].startswith(BACKUP_JOB_PREFIX)),
                  key=lambda j: j["metadata"]["name"], reverse=True)
    if not jobs:
        return []
    job = jobs[0]
    pods = [p for p in cluster.store.iter("pods", NAMESPACE)
            if (p["metadata"].get("labels") or {}).get("job-name") == job["metadata"]["name"]]
    return [("jobs.batch", job), *(("pods", p) for p in pods)]


def _fail_backup_job(cluster) -> list[tuple[str, str, dict]]:
    """Make tonight's backup Job a failed one (its pod exited 1, its log ends in ERROR);
    returns the statuses to put back."""
    saved = []
    for resource, obj in _backup_job_objects(cluster):
        name = obj["metadata"]["name"]
        saved.append((resource, name, copy.deepcopy(obj.get("status") or {})))

        def fail(o: dict, resource: str = resource) -> None:
            status = o.setdefault("status", {})
            if resource == "pods":
                status["phase"] = "Failed"
                for cs in status.get("containerStatuses") or []:
                    term = (cs.get("state") or {}).get("terminated") or {}
                    term.update(exitCode=1, reason="Error")
            else:
                at = status.get("completionTime") or status.get("startTime")
                status.pop("completionTime", None)
                status.update(succeeded=0, failed=1, conditions=[
                    {"type": t, "status": "True", "reason": "BackoffLimitExceeded",
                     "message": "Job has reached the specified backoff limit",
                     "lastProbeTime": at, "lastTransitionTime": at}
                    for t in ("FailureTarget", "Failed")])

        cluster.store.mutate(resource, NAMESPACE, name, fail)
    return saved


def _restore_statuses(cluster, saved: list[tuple[str, str, dict]]) -> None:
    for resource, name, status in saved:
        if cluster.store.peek(resource, NAMESPACE, name) is not None:
            cluster.store.mutate(resource, NAMESPACE, name,
                                 lambda o, status=status: o.__setitem__("status", status))


async def backup_failed_apply(sandbox: Sandbox) -> None:
    """Last night went wrong everywhere a backup is kept: the Velero backup ended Failed,
    the database dump job failed and left an empty file in S3."""
    cluster = _production(sandbox)
    chaos.set_velero_outcome(cluster, "Failed", kind="backups")
    sandbox.scenario_state["backup-job"] = _fail_backup_job(cluster)
    name = f"daily-backup-{datetime.now(UTC):%Y%m%d%H%M%S}"
    cluster.store.create("backups.velero.io", {
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": name, "namespace": VELERO_NAMESPACE,
                     "labels": {"velero.io/schedule-name": "daily-backup",
                                "velero.io/storage-location": "default"}},
        "spec": {"includedNamespaces": [NAMESPACE], "storageLocation": "default",
                 "ttl": "720h0m0s"},
    })
    sandbox.scenario_state["backup-failed"] = name
    await sandbox.aws.set_latest_dump_broken(True)


async def backup_failed_revert(sandbox: Sandbox) -> None:
    name = sandbox.scenario_state.pop("backup-failed", None)
    cluster = _production(sandbox)
    chaos.set_velero_outcome(cluster, None)
    if name and cluster.store.peek("backups.velero.io", VELERO_NAMESPACE, name) is not None:
        cluster.store.delete("backups.velero.io", VELERO_NAMESPACE, name)
    _restore_statuses(cluster, sandbox.scenario_state.pop("backup-job", []))
    await sandbox.aws.set_latest_dump_broken(False)


# ---- region failure --------------------------------------------------------------------
async def region_failure_apply(sandbox: Sandbox) -> None:
    """Every request to the production API server hangs (as to a region that is gone),
    open watches are cut, the production service refuses connections, and production's
    own database server (with every backend it forked) is frozen: connections open and
    never get an answer. The DR standby keeps what it had streamed."""
    from .dr_region import freeze_with_watchdog

    server = sandbox.clusters.production
    fault = server.faults.add("/", hang=True, message="region unavailable")
    server.cluster.store.close_watches()
    sandbox.scenario_state["region-failure"] = fault.id
    await sandbox.simulator.set_down(True)
    sandbox.scenario_state["region-failure-watchdog"] = await freeze_with_watchdog(
        sandbox.db.embedded, sandbox.workdir)


async def region_failure_revert(sandbox: Sandbox) -> None:
    fault_id = sandbox.scenario_state.pop("region-failure", None)
    if fault_id is not None:
        sandbox.clusters.production.faults.remove(fault_id)
    await sandbox.simulator.set_down(False)
    from .dr_region import freeze

    freeze(sandbox.db.embedded, False)
    watchdog = sandbox.scenario_state.pop("region-failure-watchdog", None)
    if watchdog is not None:
        await watchdog.stop(grace=2)


# ---- certificate -----------------------------------------------------------------------
async def cert_expiring_apply(sandbox: Sandbox) -> None:
    chaos.expire_certificate(_production(sandbox), NAMESPACE, CERTIFICATE, CERT_DAYS)


async def cert_expiring_revert(sandbox: Sandbox) -> None:
    """Renew as ``cmctl renew`` does: an ``Issuing=True`` condition on the status makes
    cert-manager re-issue (the runbook's annotation would not)."""
    cluster = _production(sandbox)
    chaos.state(cluster).broken_certificates.discard((NAMESPACE, CERTIFICATE))
    if cluster.store.peek("certificates.cert-manager.io", NAMESPACE, CERTIFICATE) is None:
        return

    def issuing(cert: dict) -> None:
        status = cert.setdefault("status", {})
        status["conditions"] = [c for c in status.get("conditions") or []
                                if c.get("type") != "Issuing"] + [dict(ISSUING)]

    cluster.store.mutate("certificates.cert-manager.io", NAMESPACE, CERTIFICATE, issuing)
