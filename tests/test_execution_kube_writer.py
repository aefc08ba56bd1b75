"""The one Kubernetes writer, against the emulator: every kind of change, made the way
kubectl makes it, through a granted change step (the executor's real path).

Each test runs its changes inside a change step confirmed with yes, then checks the
cluster's store (the emulator's ground truth) — never the writer's own answer alone.
The operations of ``kube/ops.py`` are checked to render the command kubectl would run for
the same change.
"""

from __future__ import annotations

import asyncio

import pytest
from health_support import emulator
from wizard_support import load_config, write_config

from console.execution.confirmation import ConfirmationAnswer
from console.execution.executor import FAILED, OK
from console.execution.kube import DrainOptions, ExecError, KubeError
from console.execution.kube.ops import (
    Annotate,
    Cordon,
    CreateObject,
    CreateVeleroBackup,
    DeleteObject,
    DrainNode,
    PatchObject,
    RolloutUndo,
    ScaleDeployment,
    SetImage,
)
from console.execution.model import Plan, Risk, Step, StepFailed, Wizard
from console.execution.session import WizardRun

pytestmark = pytest.mark.timeout(120)
NS, DEPLOYMENT = "mcp-production", "mcp-server-production"


async def yes(request):
    return ConfirmationAnswer(True)


@pytest.fixture
async def cluster(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    async with emulator(kubeconfig, speed=40) as (cluster, _server):
        cluster.extras["kubeconfig"] = kubeconfig
        yield cluster


async def granted(tmp_path, cluster, body, risk=Risk.CHANGE):
    """Run ``body(ctx)`` (an async generator) as one confirmed change step: (outcome,
    output lines)."""
    async def run(ctx):
        async for line in body(ctx):
            yield line

    lines: list[str] = []
    config = load_config(write_config(tmp_path, kubeconfig=str(cluster.extras["kubeconfig"])))
    wizard = Wizard("w", "W", "S", "W", steps=(
        Step("change", "Change", "why", risk, lambda ctx: Plan("change"), run, timeout=100),))
    run_ = WizardRun(config=config, env_name="sandbox", wizard=wizard, read_only=False,
                     confirmer=yes, sink=lambda e: lines.append(getattr(e, "text", "")))
    run_.start()
    try:
        outcome = await run_.run_step(0)
    finally:
        await run_.finish("completed")
    return outcome, [line for line in lines if line]


def peek(cluster, resource, name, ns=NS):
    return cluster.store.peek(resource, ns, name)


def image(cluster) -> str:
    return peek(cluster, "deployments.apps", DEPLOYMENT)["spec"]["template"]["spec"][
        "containers"][0]["image"]


async def test_scale_and_the_three_patch_types(tmp_path, cluster):
    async def body(ctx):
        writer = await ctx.mutations.kube()
        # (the MCP server's HPA would scale it back: a deployment no HPA targets)
        yield f"scaled to {await writer.scale('postgres-production-replica', 2)}"
        # strategic merge: containers merge by name, the rest of the container is kept
        await writer.patch("Deployment", DEPLOYMENT, {"spec": {"template": {"spec": {
            "containers": [{"name": "mcp-server", "env": [{"name": "EXTRA", "value": "1"}]}]}}}})
        await writer.patch("Deployment", DEPLOYMENT, {"metadata": {"labels": {"tier": "web"}}},
                           patch_type="merge")
        await writer.patch("HorizontalPodAutoscaler", "mcp-server-hpa",
                           [{"op": "replace", "path": "/spec/maxReplicas", "value": 30}],
                           patch_type="json")
        try:  # a JSON patch whose test fails changes nothing
            await writer.patch("HorizontalPodAutoscaler", "mcp-server-hpa",
                               [{"op": "test", "path": "/spec/maxReplicas", "value": 99},
                                {"op": "replace", "path": "/spec/minReplicas", "value": 1}],
                               patch_type="json")
        except KubeError as exc:
            yield f"refused {exc.status}"

    outcome, lines = await granted(tmp_path, cluster, body)
    assert outcome.status == OK, outcome
    assert lines == ["scaled to 2", "refused 422"]
    assert peek(cluster, "deployments.apps", "postgres-production-replica")["spec"]["replicas"] == 2
    deployment = peek(cluster, "deployments.apps", DEPLOYMENT)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "EXTRA", "value": "1"} in container["env"]
    assert container["image"] == "pratiko/mcp-server:v1.1.0"  # kept by the strategic merge
    assert deployment["metadata"]["labels"]["tier"] == "web"
    hpa = peek(cluster, "horizontalpodautoscalers.autoscaling", "mcp-server-hpa")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (6, 30)


async def test_create_apply_and_delete_any_kind_custom_resources_included(tmp_path, cluster):
    config_map = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": "written-by-test"}, "data": {"a": "1"}}

    async def body(ctx):
        writer = await ctx.mutations.kube()
        yield await writer.apply(CreateObject(config_map, NS))
        yield await writer.apply(CreateObject({**config_map, "data": {"a": "2", "b": "3"}}, NS,
                                              apply=True))
        yield await writer.apply(CreateVeleroBackup("adhoc-backup", (NS,)))
        yield await writer.apply(Annotate("ConfigMap", "written-by-test", NS, {"note": "x"}))
        yield await writer.apply(DeleteObject("ConfigMap", "written-by-test", NS))
        try:
            await writer.delete_object("ConfigMap", "written-by-test", namespace=NS)
        except KubeError as exc:
            yield f"second delete: {exc.status}"

    outcome, lines = await granted(tmp_path, cluster, body)
    assert outcome.status == OK, outcome
    assert lines == ["configmap/written-by-test created", "configmap/written-by-test applied",
                     "backup adhoc-backup created", "configmap/written-by-test annotated",
                     "configmap/written-by-test deleted", "second delete: 404"]
    backup = peek(cluster, "backups.velero.io", "adhoc-backup", "velero")
    assert backup["spec"]["includedNamespaces"] == [NS]
    assert peek(cluster, "configmaps", "written-by-test") is None


async def test_rollout_undo_to_the_previous_and_to_a_given_revision(tmp_path, cluster):
    async def body(ctx):
        writer, reader = await ctx.mutations.kube(), await ctx.kube()
        yield await writer.apply(SetImage(DEPLOYMENT, NS, "mcp-server",
                                          "pratiko/mcp-server:v1.2.0"))
        async for d in reader.follow_rollout(timeout=60):
            last = d
        yield f"rolled out: {last.image}"
        yield " ".join(str(r.number) for r in await reader.rollout_history())
        yield await writer.apply(RolloutUndo(DEPLOYMENT, NS))
        async for d in reader.follow_rollout(timeout=60):
            last = d
        yield f"after undo: {last.image} revision {last.revision}"
        yield await writer.apply(RolloutUndo(DEPLOYMENT, NS, to_revision=2))
        async for d in reader.follow_rollout(timeout=60):
            last = d
        yield f"after undo to 2: {last.image}"
        try:
            await writer.rollout_undo(DEPLOYMENT, to_revision=42)
        except StepFailed as exc:
            yield str(exc)

    outcome, lines = await granted(tmp_path, cluster, body)
    assert outcome.status == OK, (outcome, lines)
    assert lines[:3] == ["deployment/mcp-server-production: mcp-server set to "
                         "pratiko/mcp-server:v1.2.0", "rolled out: pratiko/mcp-server:v1.2.0",
                         "1 2"]
    assert lines[3] == "deployment/mcp-server-production rolled back to revision 1"
    assert lines[4] == "after undo: pratiko/mcp-server:v1.1.0 revision 3"
    assert lines[5] == "deployment/mcp-server-production rolled back to revision 2"
    assert lines[6] == "after undo to 2: pratiko/mcp-server:v1.2.0"
    assert "has no revision 42" in lines[7]
    assert image(cluster) == "pratiko/mcp-server:v1.2.0"


async def test_drain_needs_the_emptydir_flag_retries_on_the_budget_and_leaves_daemonsets(
        tmp_path, cluster):
    def servers_on(node):
        return [p["metadata"]["name"] for p in cluster.store.iter("pods", NS)
                if p["spec"].get("nodeName") == node
                and (p["metadata"].get("labels") or {}).get("app") == "mcp-server"
                and not p["metadata"].get("deletionTimestamp")]

    assert len(servers_on("node-1")) == 2  # the budget (maxUnavailable 1) must bite

    async def refused(ctx):
        async for event in (await ctx.mutations.kube()).drain("node-1", DrainOptions()):
            yield f"{event.kind} {event.pod}"

    outcome, _ = await granted(tmp_path, cluster, refused)
    assert outcome.status == FAILED
    assert "stays cordoned" in outcome.error and "local storage" in outcome.error
    assert "--delete-emptydir-data" in outcome.error
    assert peek(cluster, "nodes", "node-1", "")["spec"]["unschedulable"] is True
    assert len(servers_on("node-1")) == 2  # nothing evicted before the refusal

    async def drained(ctx):
        writer = await ctx.mutations.kube()
        async for event in writer.drain("node-1", DrainOptions(delete_emptydir_data=True,
                                                               timeout=90)):
            yield f"{event.kind} {event.pod} {event.message} [{event.done}/{event.total}]"

    outcome, lines = await granted(tmp_path, cluster, drained)
    assert outcome.status == OK, (outcome, lines)
    assert any(line.startswith("skipped security/falco-") and "DaemonSet" in line
               for line in lines)
    retries = [line for line in lines if line.startswith("retry")]
    assert retries and "disruption budget" in retries[0]  # the PDB's reason is shown
    assert lines[-1].startswith("done") and lines[-1].endswith("]")
    gone = [line for line in lines if line.startswith("gone")]
    assert gone and gone[-1].endswith(f"[{len(gone)}/{len(gone)}]")
    left = [p for p in cluster.store.iter("pods") if p["spec"].get("nodeName") == "node-1"
            and not p["metadata"].get("deletionTimestamp")]
    assert {r["kind"] for p in left for r in p["metadata"].get("ownerReferences") or []
            if r.get("controller")} == {"DaemonSet"}

    outcome, lines = await granted(tmp_path, cluster, lambda ctx: uncordon(ctx, "node-1"))
    assert outcome.status == OK and lines == ["node/node-1 uncordoned"]
    assert not peek(cluster, "nodes", "node-1", "")["spec"].get("unschedulable")


async def uncordon(ctx, node):
    yield await (await ctx.mutations.kube()).apply(Cordon(node, undo=True))


async def test_exec_streams_stdin_then_closes_it_and_logs_are_read(tmp_path, cluster):
    chunks = [b"first line\n", b"second ", b"line\nno newline"]

    async def stdin():
        for chunk in chunks:
            yield chunk

    async def body(ctx):
        reader = await ctx.kube()
        pod = (await reader.pods())[0].name
        execution = (await ctx.mutations.kube()).exec(pod, ["cat"], stdin=stdin())
        async for item in execution:
            yield getattr(item, "text", None) or f"sent {item.sent}"
        yield f"exit {execution.code}"
        # an MCP pod logs a line a second of emulated time (40 a second here): stop the
        # clock so that both reads see the same last three lines
        cluster.clock.speed = 1e-9
        log = await reader.pod_log(pod, tail=3)
        yield f"log lines {len(log.splitlines())}"
        streamed = [line async for line in reader.stream_log(pod, tail=3)]
        yield f"streamed {streamed == log.splitlines()}"

    outcome, lines = await granted(tmp_path, cluster, body)
    assert outcome.status == OK, (outcome, lines)
    text = [line for line in lines if not line.startswith("sent")]
    assert text[:3] == ["first line", "second line", "no newline"]
    assert "exit 0" in text and "log lines 3" in text and "streamed True" in text
    assert f"sent {sum(map(len, chunks))}" in lines


async def test_exec_stdin_whose_source_fails_is_an_error_not_a_hang(tmp_path, cluster):
    """The source of stdin is read ahead of the socket; when it fails part way, the exec
    ends with that failure (the command's stdin is never closed as if complete)."""

    async def stdin():
        for _ in range(20):
            yield b"chunk\n"
        raise OSError("the S3 connection was reset")

    async def body(ctx):
        reader = await ctx.kube()
        pod = (await reader.pods())[0].name
        execution = (await ctx.mutations.kube()).exec(pod, ["cat"], stdin=stdin())
        try:
            async for _ in execution:
                pass
        except ExecError as exc:
            yield f"failed: {exc}"
        yield f"code {execution.code}"

    outcome, lines = await asyncio.wait_for(granted(tmp_path, cluster, body), 60)
    assert outcome.status == OK, (outcome, lines)
    assert lines == ["failed: reading the data for stdin failed: the S3 connection was reset",
                     "code None"]


async def test_a_read_step_gets_no_writer_and_the_reader_types_what_it_reads(tmp_path, cluster):
    async def body(ctx):
        reader = await ctx.kube()
        deployment = await reader.deployment()
        yield f"{deployment.name} {deployment.desired} {deployment.rollout_complete}"
        hpa = await reader.hpa()
        yield f"hpa {hpa.min}-{hpa.max} cpu {hpa.cpu_target_pct} at {hpa.cpu_metric_index}"
        yield f"nodes {[n.name for n in await reader.nodes()]}"
        yield f"backups {len(await reader.backups())} certificate " \
              f"{(await reader.certificate()).name}"
        await ctx.mutations.kube()

    outcome, lines = await granted(tmp_path, cluster, body, risk=Risk.READ)
    assert outcome.status == FAILED and "not permitted" in outcome.error
    assert lines[:3] == ["mcp-server-production 6 True", "hpa 6-20 cpu 70 at 0",
                         "nodes ['node-1', 'node-2', 'node-3', 'node-4']"]
    assert lines[3].startswith("backups ") and lines[3].endswith("certificate production-tls")


def test_operations_render_the_command_kubectl_would_run():
    assert ScaleDeployment("web", "ns", 3).command() == "kubectl scale deployment/web --replicas=3 -n ns"
    assert ScaleDeployment("web", "ns", 3).command("prod") == \
        "kubectl scale deployment/web --replicas=3 -n ns --context prod"
    assert PatchObject("HorizontalPodAutoscaler", "hpa", "ns", [{"op": "test", "path": "/a",
                                                                  "value": 1}], "json").command() \
        == "kubectl patch hpa hpa -n ns --type json -p '[{\"op\":\"test\",\"path\":\"/a\",\"value\":1}]'"
    assert PatchObject("Deployment", "web", "ns", {"a": 1}).command() == \
        "kubectl patch deployment web -n ns -p '{\"a\":1}'"
    assert RolloutUndo("web", "ns", 4).command() == \
        "kubectl rollout undo deployment/web -n ns --to-revision=4"
    assert DrainNode("node-1", DrainOptions(delete_emptydir_data=True, timeout=90)).command() == \
        "kubectl drain node-1 --ignore-daemonsets --delete-emptydir-data --timeout=90s"
    assert Cordon("node-1").command() == "kubectl cordon node-1"
    assert CreateVeleroBackup("b", ("ns", "x")).command("prod") == \
        "velero backup create b --include-namespaces=ns,x --wait --kubecontext prod"
    assert Annotate("Deployment", "web", "ns", {"a": "1", "b": None}).command() == \
        "kubectl annotate deployment/web -n ns a=1 b- --overwrite"
    shown = CreateObject({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
                         "ns").shown()
    assert shown.startswith("kubectl create -n ns -f - <<EOF\napiVersion: v1\nkind: ConfigMap")
