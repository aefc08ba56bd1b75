"""The pre-maintenance backup as a reusable step: create it, wait until it is Completed.

The guide's pre-maintenance checklist starts with ``velero backup create
pre-maintenance-backup-$(date +%Y%m%d)``. Without ``--include-namespaces`` the CLI backs up
the whole cluster; here the backup covers the environment's namespace (plus any given),
which is what a rollback of the maintenance needs. The step is the library's
:func:`~actions.library.velero.velero_backup_step`: it waits for the backup with its
progress and verifies it — maintenance must not start on a backup that is still running or
that failed — and running it again the same day reuses a Completed backup of that name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from console.execution.model import Step

from ..library.velero import velero_backup_step

PREFIX = "pre-maintenance-backup-"
WAIT_SECONDS = 3600


def backup_name(now: datetime | None = None) -> str:
    return f"{PREFIX}{(now or datetime.now(UTC)):%Y%m%d}"


def pre_maintenance_backup_step(*, step_id: str = "pre-maintenance-backup",
                                extra_namespaces: Sequence[str] = ()) -> Step:
    """A change step creating ``pre-maintenance-backup-YYYYMMDD`` of the environment's
    namespace (and ``extra_namespaces``) and waiting for it to be Completed."""
    return velero_backup_step(
        step_id, "Pre-maintenance backup", "1. Create a pre-maintenance backup, and wait "
        "for it: a rollback of the maintenance starts from it.",
        name=lambda ctx: backup_name(),
        namespaces=lambda ctx: [ctx.env.kubernetes.namespace, *extra_namespaces],
        wait_seconds=WAIT_SECONDS)
