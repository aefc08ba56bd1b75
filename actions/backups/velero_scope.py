"""What a Velero restore is allowed to touch, and what it did touch.

The choices, each explained where it is asked:

- ``existing_policy``: ``none`` (Velero's default) re-creates missing objects and leaves
  every existing one as it is — restoring over a *broken* ConfigMap reports Completed and
  repairs nothing; ``update`` also patches existing objects that differ back to the
  backup's content (and labels them with the restore's name);
- ``namespaces``: only these of the backup's namespaces (default: all of them);
- ``resources``: only these resources (``configmaps,deployments``; default: all);
- ``namespace_mapping``: ``source:target,...`` restores a namespace under another name (to
  compare side by side, or to recover into a fresh namespace without touching the live one).

What the restore did is read back from the cluster, as ``kubectl`` would show it: Velero
labels every object it creates or updates with ``velero.io/restore-name``. An object so
labelled that was not there before was created; one that was there was updated; an object
of the restored kinds that was there and is not labelled was skipped (left as it was).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import ChoiceInput, Input, InputError
from console.execution.kube import KubeReader

KINDS = ("ConfigMap", "Secret", "Service", "ServiceAccount", "PersistentVolumeClaim",
         "Deployment", "StatefulSet", "DaemonSet", "HorizontalPodAutoscaler",
         "PodDisruptionBudget", "NetworkPolicy")
PLURALS = {"ConfigMap": "configmaps", "Secret": "secrets", "Service": "services",
           "ServiceAccount": "serviceaccounts", "PersistentVolumeClaim": "persistentvolumeclaims",
           "Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
           "HorizontalPodAutoscaler": "horizontalpodautoscalers",
           "PodDisruptionBudget": "poddisruptionbudgets", "NetworkPolicy": "networkpolicies"}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
RESTORE_LABEL = "velero.io/restore-name"

POLICY = ChoiceInput(
    "existing_policy", "Objects that already exist", choices=("none", "update"),
    default="none",
    help="none (Velero's default): only missing objects come back; an existing object stays "
         "as it is, even if it is the broken one. update: existing objects that differ are "
         "patched back to the backup's content.")


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


@dataclass(frozen=True)
class NamesInput(Input):
    """Comma-separated Kubernetes names (empty: all)."""

    kind: str = field(default="names", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        names = _names(await super().convert(text, ctx))
        bad = [n for n in names if not NAME.match(n)]
        if bad:
            raise InputError(f"not a Kubernetes name: {', '.join(bad)}")
        return ",".join(names)


@dataclass(frozen=True)
class MappingInput(Input):
    """``source:target`` pairs, comma-separated."""

    kind: str = field(default="namespace mapping", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        pairs = _names(await super().convert(text, ctx))
        for pair in pairs:
            source, colon, target = pair.partition(":")
            if not colon or not NAME.match(source) or not NAME.match(target) or source == target:
                raise InputError(f"{pair!r} is not source:target (two different namespaces)")
        return ",".join(pairs)


NAMESPACES = NamesInput(
    "namespaces", "Only these namespaces of the backup (empty: all)", default="",
    required=False, help="Comma-separated; --include-namespaces.")
RESOURCES = NamesInput(
    "resources", "Only these resources (empty: all)", default="", required=False,
    help="Comma-separated plural names, e.g. configmaps,deployments; --include-resources.")
MAPPING = MappingInput(
    "namespace_mapping", "Restore namespaces under other names (empty: none)", default="",
    required=False, help="source:target,...: the backup's 'source' namespace is restored "
                         "as 'target' (the live one untouched); --namespace-mappings.")


def namespaces(ctx: StepContext) -> tuple[str, ...]:
    return tuple(_names(ctx.values.get("namespaces"))) or ("*",)


def resources(ctx: StepContext) -> tuple[str, ...]:
    return tuple(_names(ctx.values.get("resources")))


def mapping(ctx: StepContext) -> tuple[tuple[str, str], ...]:
    return tuple((a, b) for a, _, b in (p.partition(":") for p in
                                         _names(ctx.values.get("namespace_mapping"))))


def explain(ctx: StepContext) -> str:
    policy = ctx.values.get("existing_policy") or "none"
    parts = [("existing objects that differ are patched back to the backup's content "
              "(existingResourcePolicy: update)") if policy == "update" else
             ("missing objects come back; existing ones are left exactly as they are, broken "
              "or not (existingResourcePolicy: none)")]
    if namespaces(ctx) != ("*",):
        parts.append(f"only namespaces {', '.join(namespaces(ctx))}")
    if resources(ctx):
        parts.append(f"only resources {', '.join(resources(ctx))}")
    if mapping(ctx):
        parts.append("restored under other names: "
                     + ", ".join(f"{a} -> {b}" for a, b in mapping(ctx)))
    return "; ".join(parts)


def kinds_in_scope(ctx: StepContext) -> list[str]:
    wanted = {r.split(".", 1)[0] for r in resources(ctx)}
    return [k for k in KINDS if not wanted or PLURALS[k] in wanted or "*" in wanted]


def target_namespaces(ctx: StepContext, backup_namespaces: Sequence[str]) -> list[str]:
    chosen = [n for n in namespaces(ctx) if n != "*"] or list(backup_namespaces)
    mapped = dict(mapping(ctx))
    return [mapped.get(n, n) for n in chosen]


Key = tuple[str, str, str]


async def inventory(reader: KubeReader, kinds: Sequence[str], spaces: Sequence[str],
                    selector: str | None = None) -> dict[Key, dict[str, Any]]:
    """(kind, namespace, name) -> object, for the kinds and namespaces given."""
    found: dict[Key, dict[str, Any]] = {}
    for ns in spaces:
        for kind in kinds:
            for obj in await reader.raw_list(kind, namespace=ns, selector=selector):
                found[(kind, ns, obj["metadata"]["name"])] = obj
    return found


@dataclass
class Touched:
    created: list[Key] = field(default_factory=list)
    updated: list[Key] = field(default_factory=list)
    skipped: list[Key] = field(default_factory=list)


async def what_changed(reader: KubeReader, restore: str, kinds: Sequence[str],
                       spaces: Sequence[str], before: dict[Key, str]) -> Touched:
    """``before``: (kind, ns, name) -> resourceVersion before the restore."""
    labelled = await inventory(reader, kinds, spaces, f"{RESTORE_LABEL}={restore}")
    touched = Touched()
    for key in sorted(labelled):
        (touched.updated if key in before else touched.created).append(key)
    touched.skipped = sorted(k for k in before if k not in labelled)
    return touched


async def describe(touched: Touched, limit: int = 40) -> AsyncIterator[str]:
    yield (f"created {len(touched.created)}, updated {len(touched.updated)}, skipped "
           f"{len(touched.skipped)} (already there, left as they were)")
    shown = 0
    for action, keys in (("created", touched.created), ("updated", touched.updated),
                         ("skipped", touched.skipped)):
        for kind, ns, name in keys:
            if shown >= limit:
                total = len(touched.created) + len(touched.updated) + len(touched.skipped)
                yield f"  … {total - limit} more"
                return
            yield f"  {action:<8} {kind.lower()}/{name} -n {ns}"
            shown += 1
