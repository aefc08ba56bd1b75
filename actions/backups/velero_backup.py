"""The pre-maintenance backup as a reusable step: create it, wait until it is Completed.

The guide's pre-maintenance checklist starts with ``velero backup create
pre-maintenance-backup-$(date +%Y%m%d)``. Without ``--include-namespaces`` the CLI backs up
the whole cluster; here the backup covers the environment's namespace (plus any given),
which is what a rollback of the maintenance needs. The step waits for the backup to finish
with its progress (items backed up of total) — maintenance must not start on a backup that
is still running or that failed. Running it again the same day reuses a Completed backup
of that name instead of failing on "already exists".

Use it in a wizard with ``pre_maintenance_backup_step()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput
from . import velero
from .cluster import ClusterReads, ClusterWrites

PREFIX = "pre-maintenance-backup-"
WAIT_SECONDS = 3600


def backup_name(now: datetime | None = None) -> str:
    return f"{PREFIX}{(now or datetime.now(UTC)):%Y%m%d}"


def _namespaces(ctx: Any, extra: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([ctx.env.kubernetes.namespace, *extra]))


def pre_maintenance_backup_step(*, step_id: str = "pre-maintenance-backup",
                                extra_namespaces: Sequence[str] = ()) -> Step:
    """A change step creating ``pre-maintenance-backup-YYYYMMDD`` of the environment's
    namespace (and ``extra_namespaces``) and waiting for it to be Completed."""

    def plan(ctx: Any) -> Plan:
        name, namespaces = backup_name(), _namespaces(ctx, extra_namespaces)
        return Plan(f"Create Velero backup {name} of {', '.join(namespaces)} and wait until "
                    "it is Completed",
                    (Plan.command("velero", "backup", "create", name,
                                  f"--include-namespaces={','.join(namespaces)}", "--wait"),))

    async def run(ctx: Any) -> AsyncIterator[StepOutput]:
        name = backup_name()
        reads = ClusterReads(await ctx.kube())
        existing = await reads.velero("backups", name)
        if existing is None:
            writes = ClusterWrites(await ctx.mutations.kube())
            await writes.create_velero("backups", velero.backup_manifest(
                name, _namespaces(ctx, extra_namespaces)))
            yield f"backup {name} created"
        else:
            yield f"backup {name} already exists (phase {velero.phase(existing)}); following it"
        holder: dict[str, Any] = {}
        async for item in velero.follow(reads, "backups", name, timeout=WAIT_SECONDS,
                                        holder=holder):
            yield item
        backup = holder["object"]
        for line in velero.outcome_lines(backup):
            yield line
        if velero.phase(backup) != "Completed":
            raise StepFailed(f"backup {name} ended {velero.phase(backup)}: do not start the "
                             "maintenance without a good backup (delete it with `velero "
                             f"backup delete {name}` and run this step again)")
        yield f"backup {name} Completed"

    return Step(step_id, "Pre-maintenance backup", "1. Create a pre-maintenance backup, and "
                "wait for it: a rollback of the maintenance starts from it.", Risk.CHANGE,
                plan, run, timeout=WAIT_SECONDS + 60)
