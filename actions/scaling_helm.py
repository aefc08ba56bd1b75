"""The scaling wizard's PostgreSQL read replicas: ``helm upgrade`` done so it really applies.

The runbook's ``helm upgrade postgres-production bitnami/postgresql-ha --reuse-values --set
readReplicas.replicaCount=N`` changes nothing: ``readReplicas.replicaCount`` is not a value
of ``bitnami/postgresql-ha`` (that chart counts its PostgreSQL nodes, primary included, in
``postgresql.replicaCount``), and with ``--reuse-values`` helm accepts an unknown key
without a word. So here:

- the key is the config's ``helm.read_replicas_key`` (default ``postgresql.replicaCount``);
- ``--version`` pins the chart version now deployed (read with ``helm list -o json``, a
  read), so an upgrade never pulls a newer chart along with the new count;
- ``--wait`` makes helm wait until the release's pods are ready;
- afterwards the StatefulSet the chart runs is read back: its ready replicas must be the
  count asked for, or the step fails saying what it found.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

from console.execution.context import StepContext
from console.execution.model import Plan, StepFailed, StepOutput

CHART_VERSION = "scaling.chart_version"  # ctx.cache key
VERIFY_SECONDS = 300


def _kube_flags(ctx: StepContext) -> list[str]:
    k = ctx.env.kubernetes
    flags = []
    if k.context:
        flags += ["--kube-context", k.context]
    if k.kubeconfig:
        flags += ["--kubeconfig", k.kubeconfig]
    return flags


def list_argv(ctx: StepContext) -> list[str]:
    """``helm list`` of the database release, as JSON."""
    helm = ctx.env.helm
    return ["helm", "list", "--namespace", ctx.env.kubernetes.namespace,
            "--filter", f"^{re.escape(helm.postgres_release)}$", "-o", "json",
            *_kube_flags(ctx)]


def chart_version(chart: str, chart_name: str) -> str | None:
    """``postgresql-ha-14.2.3`` -> ``14.2.3`` (the chart field of ``helm list``)."""
    name = chart_name.rsplit("/", 1)[-1]
    if chart.startswith(name + "-"):
        return chart[len(name) + 1:] or None
    found = re.search(r"-(v?\d+\.\d+\.\d+[\w.+-]*)$", chart)
    return found.group(1) if found else None


async def deployed_version(ctx: StepContext) -> str:
    """The chart version of the deployed release (cached for the run); StepFailed when it
    cannot be read — the upgrade is not made without it."""
    if CHART_VERSION in ctx.cache:
        return str(ctx.cache[CHART_VERSION])
    helm = ctx.env.helm
    process = ctx.read_process(list_argv(ctx))
    out = [line.text async for line in process if line.stream == "stdout"]
    assert process.result is not None
    if not process.result.ok:
        raise StepFailed(f"helm list failed ({process.result.describe()}): the deployed chart "
                         "version is needed to pin --version")
    try:
        releases = json.loads("\n".join(out) or "[]")
    except ValueError:
        raise StepFailed("helm list did not answer JSON") from None
    release = next((r for r in releases if r.get("name") == helm.postgres_release), None)
    if release is None:
        raise StepFailed(f"release {helm.postgres_release} not found in "
                         f"{ctx.env.kubernetes.namespace} (helm list)")
    version = chart_version(str(release.get("chart", "")), helm.postgres_chart)
    if not version:
        raise StepFailed(f"cannot tell the chart version from {release.get('chart')!r}")
    ctx.cache[CHART_VERSION] = version
    return version


def upgrade_argv(ctx: StepContext, version: str) -> list[str]:
    k, helm = ctx.env.kubernetes, ctx.env.helm
    return ["helm", "upgrade", helm.postgres_release, helm.postgres_chart,
            "--namespace", k.namespace, "--reuse-values", "--version", version,
            "--set", f"{helm.read_replicas_key}={ctx.values['read_replicas']}",
            "--wait", "--timeout", f"{VERIFY_SECONDS}s", *_kube_flags(ctx)]


def selector(ctx: StepContext) -> str:
    helm = ctx.env.helm
    return helm.read_replicas_selector or (
        f"app.kubernetes.io/instance={helm.postgres_release},"
        "app.kubernetes.io/component=postgresql")


def plan_replicas(ctx: StepContext) -> Plan:
    helm = ctx.env.helm
    version = ctx.cache.get(CHART_VERSION, "<deployed chart version, read with helm list>")
    return Plan(f"Set {helm.postgres_release} to {ctx.values['read_replicas']} PostgreSQL "
                f"replicas ({helm.read_replicas_key}; the runbook's readReplicas.replicaCount "
                f"is not a key of {helm.postgres_chart}) with helm, keeping every other value "
                f"and the deployed chart version {version}; then check the StatefulSet "
                f"({selector(ctx)}) has that many ready",
                (Plan.command(*list_argv(ctx)), Plan.command(*upgrade_argv(ctx, version)),
                 Plan.command("kubectl", "get", "statefulset", "-n",
                              ctx.env.kubernetes.namespace, "-l", selector(ctx))))


async def run_replicas(ctx: StepContext) -> AsyncIterator[StepOutput]:
    version = await deployed_version(ctx)
    yield f"chart version deployed: {version} (pinned)"
    process = ctx.mutations.process(upgrade_argv(ctx, version))
    async for line in process:
        yield f"helm: {line.text}"
    assert process.result is not None
    if not process.result.ok:
        raise StepFailed(f"helm upgrade failed: {process.result.describe()}")
    async for item in wait_for_replicas(ctx, int(ctx.values["read_replicas"])):
        yield item


async def wait_for_replicas(ctx: StepContext, wanted: int) -> AsyncIterator[StepOutput]:
    """The chart's StatefulSet read back until ``wanted`` replicas are ready."""
    reader = await ctx.kube()
    deadline = time.monotonic() + VERIFY_SECONDS
    last = None
    while True:
        found = await reader.statefulsets(selector(ctx))
        if len(found) > 1:
            raise StepFailed(f"{len(found)} StatefulSets match {selector(ctx)}: "
                             + ", ".join(s.name for s in found))
        shown = (f"statefulset/{found[0].name}: {found[0].ready}/{found[0].desired} ready"
                 if found else f"no StatefulSet matches {selector(ctx)}")
        if shown != last:
            yield shown
            last = shown
        if found and found[0].desired == wanted and found[0].ready == wanted:
            return
        if time.monotonic() > deadline:
            raise StepFailed(f"after helm upgrade: {shown}, not {wanted} ready; check the key "
                             f"{ctx.env.helm.read_replicas_key} is a value of "
                             f"{ctx.env.helm.postgres_chart}")
        await asyncio.sleep(1.0)


async def release_lines(ctx: StepContext) -> AsyncIterator[StepOutput]:
    """For the current-state step: the release's chart version (when it will be changed)."""
    try:
        version = await deployed_version(ctx)
    except StepFailed as exc:
        yield f"helm release {ctx.env.helm.postgres_release}: {exc}"
        return
    yield f"helm release {ctx.env.helm.postgres_release}: chart version {version}"
