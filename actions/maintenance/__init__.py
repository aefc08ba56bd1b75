"""The ``maintenance-window`` wizard — the guide's "Maintenance Windows".

Before: the window (typed confirmation outside it), the current state, the
``pre-maintenance-backup-YYYYMMDD`` Velero backup to Completed and verified, the
maintenance replica count held against the HPA, the status-page notice. Node updates, one
node at a time (:mod:`.nodes`). The application update with an undo when it fails
(:mod:`.app`). Database maintenance (:mod:`.database`). After: a full health check,
Prometheus ``up`` (:mod:`.after`), the HPA and the normal count back (:mod:`.capacity`),
the maintenance log, the status page.
"""

from __future__ import annotations

from console.execution.context import StepContext
from console.execution.model import Wizard

from ..backups.velero_backup import pre_maintenance_backup_step
from ..library import health_check_step, notify_step
from .after import log_step, prometheus_step
from .app import rollout_undo_step, set_image_step
from .capacity import scale_back_step, scale_up_step, state_step
from .database import reset_step, vacuum_step
from .nodes import node_steps
from .window import window, window_step


def _start_text(ctx: StepContext) -> str:
    try:
        w = window(ctx)
        when = f" ({w.start:%H:%M}-{w.end:%H:%M} {w.zone.key})"
    except ValueError:
        when = ""
    return f"Scheduled maintenance in progress{when}: expect brief service interruptions."


def _end_text(ctx: StepContext) -> str:
    return "Scheduled maintenance completed: the service is fully available."


notify_start = notify_step(
    "notify-start", "Notify users: maintenance starting",
    "4. Notify users: the status page, its text shown (and editable) before it is sent. "
    "The webhook URL is a secret read from the variable notifications.status_page_webhook_env "
    "names, never shown or logged.",
    channel="status_page", text=_start_text, fields={"status": "in_progress"})
notify_end = notify_step(
    "notify-end", "Notify users: maintenance completed",
    "The runbook announces the window but never its end; the status page is told the "
    "service is back.", channel="status_page", text=_end_text,
    fields={"status": "completed"})

WIZARD = Wizard(
    id="maintenance-window", title="Monthly maintenance window", section="Maintenance Windows",
    when="2nd Sunday 02:00-06:00: backup, scale up, node updates, app update, DB maintenance.",
    steps=(
        window_step(),
        state_step(),
        pre_maintenance_backup_step(),
        scale_up_step(),
        notify_start,
        *node_steps(),
        set_image_step(),
        rollout_undo_step(),
        vacuum_step(),
        reset_step(),
        health_check_step(
            "1. Run comprehensive health check: the service, its pods and the database, "
            "judged by the environment's thresholds.",
            components=("service", "pods", "database"), step_id="health-check",
            title="Comprehensive health check"),
        prometheus_step(),
        scale_back_step(),
        log_step(),
        notify_end,
    ),
)
