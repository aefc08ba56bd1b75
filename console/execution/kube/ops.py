"""Kubernetes changes as values: what the plan shows is made from what the writer runs.

Each operation holds the arguments of one change (``ScaleDeployment("mcp-server", "ns",
10)``). :meth:`KubeOp.command` renders the ``kubectl`` (or ``velero``) command line an
operator would type for it, for the plan; :meth:`KubeWriter.apply` runs the very same
object. So the shown command and the call cannot drift apart: there is one set of
arguments, not a plan string written next to the code that acts. The writer's context and
kubeconfig are the environment's; ``command(context=...)`` shows the context explicitly
(never ``kubectl config use-context``, which would change every other terminal).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import yaml

if TYPE_CHECKING:
    from .drain import DrainOptions
    from .writer import KubeWriter

PatchType = Literal["strategic", "merge", "json"]


def _join(argv: Sequence[Any]) -> str:
    return shlex.join(str(a) for a in argv)


class KubeOp:
    """One change: its command line for the plan, and :meth:`run` for the writer."""

    program = "kubectl"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def command(self, context: str | None = None) -> str:
        argv = [self.program, *self.argv()]
        if context:
            argv += ["--kubecontext" if self.program == "velero" else "--context", context]
        return _join(argv)

    def stdin(self) -> str | None:
        """A manifest the command reads from ``-f -``, shown as a here-document."""
        return None

    def shown(self, context: str | None = None) -> str:
        text = self.command(context)
        manifest = self.stdin()
        return f"{text} <<EOF\n{manifest.rstrip()}\nEOF" if manifest else text

    async def run(self, writer: KubeWriter) -> str:
        """Make the change through ``writer``; returns one line saying what was done."""
        raise NotImplementedError


def _ns(namespace: str | None) -> list[str]:
    return ["-n", namespace] if namespace else []


@dataclass(frozen=True)
class ScaleDeployment(KubeOp):
    name: str
    namespace: str
    replicas: int
    kind: str = "Deployment"

    def argv(self) -> list[str]:
        return ["scale", f"{self.kind.lower()}/{self.name}", f"--replicas={self.replicas}",
                *_ns(self.namespace)]

    async def run(self, writer: KubeWriter) -> str:
        got = await writer.scale(self.name, self.replicas, kind=self.kind,
                                 namespace=self.namespace)
        return f"{self.kind.lower()}/{self.name} scaled: spec.replicas={got}"


@dataclass(frozen=True)
class PatchObject(KubeOp):
    """``kubectl patch KIND NAME [--type merge|json] -p PATCH``; strategic is kubectl's
    default, so it is not shown."""

    kind: str
    name: str
    namespace: str | None
    patch: Any  # a dict (strategic, merge) or a list of operations (json)
    patch_type: PatchType = "strategic"
    api_version: str | None = None

    def argv(self) -> list[str]:
        kind = self.kind.lower() if self.kind != "HorizontalPodAutoscaler" else "hpa"
        argv = ["patch", kind, self.name, *_ns(self.namespace)]
        if self.patch_type != "strategic":
            argv += ["--type", self.patch_type]
        return argv + ["-p", json.dumps(self.patch, separators=(",", ":"))]

    async def run(self, writer: KubeWriter) -> str:
        await writer.patch(self.kind, self.name, self.patch, patch_type=self.patch_type,
                           namespace=self.namespace, api_version=self.api_version)
        return f"{self.kind.lower()}/{self.name} patched ({self.patch_type})"


@dataclass(frozen=True)
class Annotate(KubeOp):
    """``kubectl annotate KIND/NAME k=v k- --overwrite`` (None removes a key)."""

    kind: str
    name: str
    namespace: str | None
    annotations: Mapping[str, str | None]

    def argv(self) -> list[str]:
        pairs = [f"{k}-" if v is None else f"{k}={v}" for k, v in self.annotations.items()]
        return ["annotate", f"{self.kind.lower()}/{self.name}", *_ns(self.namespace), *pairs,
                "--overwrite"]

    async def run(self, writer: KubeWriter) -> str:
        await writer.annotate(self.kind, self.name, dict(self.annotations),
                              namespace=self.namespace)
        return f"{self.kind.lower()}/{self.name} annotated"


@dataclass(frozen=True)
class SetImage(KubeOp):
    name: str
    namespace: str
    container: str
    image: str

    def argv(self) -> list[str]:
        return ["set", "image", f"deployment/{self.name}", f"{self.container}={self.image}",
                *_ns(self.namespace)]

    async def run(self, writer: KubeWriter) -> str:
        await writer.set_image(self.name, self.container, self.image, namespace=self.namespace)
        return f"deployment/{self.name}: {self.container} set to {self.image}"


@dataclass(frozen=True)
class RolloutRestart(KubeOp):
    name: str
    namespace: str
    kind: str = "Deployment"

    def argv(self) -> list[str]:
        return ["rollout", "restart", f"{self.kind.lower()}/{self.name}", *_ns(self.namespace)]

    async def run(self, writer: KubeWriter) -> str:
        at = await writer.rollout_restart(self.name, kind=self.kind, namespace=self.namespace)
        return f"{self.kind.lower()}/{self.name} restarted (restartedAt {at})"


@dataclass(frozen=True)
class RolloutUndo(KubeOp):
    """``kubectl rollout undo deployment/NAME [--to-revision=N]`` (0: the previous one)."""

    name: str
    namespace: str
    to_revision: int = 0

    def argv(self) -> list[str]:
        argv = ["rollout", "undo", f"deployment/{self.name}", *_ns(self.namespace)]
        return argv + ([f"--to-revision={self.to_revision}"] if self.to_revision else [])

    async def run(self, writer: KubeWriter) -> str:
        revision = await writer.rollout_undo(self.name, to_revision=self.to_revision,
                                             namespace=self.namespace)
        return f"deployment/{self.name} rolled back to revision {revision}"


@dataclass(frozen=True)
class Cordon(KubeOp):
    node: str
    undo: bool = False  # True: uncordon

    def argv(self) -> list[str]:
        return ["uncordon" if self.undo else "cordon", self.node]

    async def run(self, writer: KubeWriter) -> str:
        if self.undo:
            await writer.uncordon(self.node)
            return f"node/{self.node} uncordoned"
        await writer.cordon(self.node)
        return f"node/{self.node} cordoned"


@dataclass(frozen=True)
class DrainNode(KubeOp):
    """``kubectl drain NODE --ignore-daemonsets [--delete-emptydir-data] --timeout=Ns``.
    :meth:`KubeWriter.drain` streams its progress; :meth:`run` drains to the end."""

    node: str
    options: DrainOptions

    def argv(self) -> list[str]:
        o = self.options
        argv = ["drain", self.node]
        argv += ["--ignore-daemonsets"] if o.ignore_daemonsets else []
        argv += ["--delete-emptydir-data"] if o.delete_emptydir_data else []
        argv += ["--force"] if o.force else []
        argv += [f"--grace-period={o.grace_period}"] if o.grace_period is not None else []
        return argv + [f"--timeout={o.timeout:g}s"]

    async def run(self, writer: KubeWriter) -> str:
        evicted = 0
        async for event in writer.drain(self.node, self.options):
            evicted += event.kind == "gone"
        return f"node/{self.node} drained ({evicted} pods evicted)"


@dataclass(frozen=True)
class CreateObject(KubeOp):
    """``kubectl create -f -`` (``apply=True``: ``kubectl apply --server-side -f -``)."""

    manifest: Mapping[str, Any]
    namespace: str | None = None
    apply: bool = False

    def argv(self) -> list[str]:
        verb = ["apply", "--server-side", "--field-manager=mcp-ops"] if self.apply else ["create"]
        return [*verb, *_ns(self.namespace), "-f", "-"]

    def stdin(self) -> str:
        return yaml.safe_dump(dict(self.manifest), sort_keys=False)

    async def run(self, writer: KubeWriter) -> str:
        if self.apply:
            obj = await writer.apply_manifest(dict(self.manifest), namespace=self.namespace)
        else:
            obj = await writer.create(dict(self.manifest), namespace=self.namespace)
        verb = "applied" if self.apply else "created"
        return f"{str(obj.get('kind', '')).lower()}/{obj['metadata']['name']} {verb}"


@dataclass(frozen=True)
class DeleteObject(KubeOp):
    kind: str
    name: str
    namespace: str | None
    api_version: str | None = None

    def argv(self) -> list[str]:
        return ["delete", self.kind.lower(), self.name, *_ns(self.namespace)]

    async def run(self, writer: KubeWriter) -> str:
        await writer.delete_object(self.kind, self.name, namespace=self.namespace,
                                   api_version=self.api_version)
        return f"{self.kind.lower()}/{self.name} deleted"


@dataclass(frozen=True)
class CreateVeleroBackup(KubeOp):
    """``velero backup create NAME --include-namespaces=NS[,NS] [--ttl T] [--wait]``: the
    Backup object the CLI would create (waiting is the step's, not this operation's)."""

    name: str
    namespaces: tuple[str, ...]
    ttl: str = "720h0m0s"
    wait: bool = True
    program = "velero"

    def argv(self) -> list[str]:
        argv = ["backup", "create", self.name,
                f"--include-namespaces={','.join(self.namespaces)}"]
        return argv + (["--wait"] if self.wait else [])

    def manifest(self) -> dict[str, Any]:
        return {"apiVersion": "velero.io/v1", "kind": "Backup",
                "metadata": {"name": self.name,
                             "labels": {"velero.io/storage-location": "default"}},
                "spec": {"includedNamespaces": list(self.namespaces),
                         "storageLocation": "default", "ttl": self.ttl,
                         "snapshotVolumes": True, "defaultVolumesToFsBackup": False,
                         "itemOperationTimeout": "4h0m0s", "csiSnapshotTimeout": "10m0s"}}

    async def run(self, writer: KubeWriter) -> str:
        await writer.create_velero(self.manifest())
        return f"backup {self.name} created"


@dataclass(frozen=True)
class CreateVeleroRestore(KubeOp):
    """``velero restore create NAME --from-backup=BACKUP``: every namespace of the backup
    unless scoped; Velero's server adds its default exclusions (nodes, events, its own
    objects). ``existing_policy``: ``none`` (Velero's default) leaves existing objects
    alone, ``update`` patches them back to the backed-up content. ``resources`` scopes by
    resource (``configmaps``, ``deployments``), ``namespace_mapping`` restores
    ``(source, target)`` namespaces under another name."""

    name: str
    backup: str
    namespaces: tuple[str, ...] = field(default=("*",))
    existing_policy: str = "none"
    resources: tuple[str, ...] = ()
    namespace_mapping: tuple[tuple[str, str], ...] = ()
    program = "velero"

    def argv(self) -> list[str]:
        argv = ["restore", "create", self.name, f"--from-backup={self.backup}"]
        if self.namespaces != ("*",):
            argv.append(f"--include-namespaces={','.join(self.namespaces)}")
        if self.resources:
            argv.append(f"--include-resources={','.join(self.resources)}")
        if self.namespace_mapping:
            argv.append("--namespace-mappings="
                        + ",".join(f"{a}:{b}" for a, b in self.namespace_mapping))
        if self.existing_policy != "none":
            argv.append(f"--existing-resource-policy={self.existing_policy}")
        return argv

    def manifest(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"backupName": self.backup,
                                "includedNamespaces": list(self.namespaces),
                                "itemOperationTimeout": "4h0m0s"}
        if self.resources:
            spec["includedResources"] = list(self.resources)
        if self.namespace_mapping:
            spec["namespaceMapping"] = dict(self.namespace_mapping)
        if self.existing_policy != "none":
            spec["existingResourcePolicy"] = self.existing_policy
        return {"apiVersion": "velero.io/v1", "kind": "Restore",
                "metadata": {"name": self.name, "labels": {"velero.io/backup-name": self.backup}},
                "spec": spec}

    async def run(self, writer: KubeWriter) -> str:
        created = await writer.create_velero(self.manifest())
        return f"restore {created['metadata']['name']} created from backup {self.backup}"
