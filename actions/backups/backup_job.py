"""The nightly database backup Job: found by its CronJob, judged by its state and its log.

A CronJob names its Jobs ``<cronjob>-<scheduled minute>`` (``postgres-backup-29412345``),
not by date, so the job is found by its owner reference to the CronJob named by
``kubernetes.backup_job_prefix`` (without the trailing ``-``); a date-named job
(``postgres-backup-YYYYMMDD``, the guide's name, e.g. one created by hand) counts too. The
newest of them is judged.

The log check is the guide's ``grep -i "success\\|error"`` made exact: a line *reporting*
no error ("0 errors", "no errors", "errors: 0") is not an error line.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from console.execution.context import StepContext
from console.execution.kube import KubeReader

SUCCESS_OR_ERROR = re.compile(r"success|error", re.IGNORECASE)
NO_ERRORS = re.compile(r"\b(?:0|no|zero|without)\s+errors?\b|\berrors?\s*[:=]\s*0\b",
                       re.IGNORECASE)
ERROR = re.compile(r"error", re.IGNORECASE)


def is_error_line(line: str) -> bool:
    return bool(ERROR.search(NO_ERRORS.sub("", line)))


def cronjob_name(ctx: StepContext) -> str:
    return ctx.env.kubernetes.backup_job_prefix.rstrip("-")


def dated_name(ctx: StepContext, today: datetime | None = None) -> str:
    return f"{ctx.env.kubernetes.backup_job_prefix}{(today or datetime.now(UTC)):%Y%m%d}"


def owned_by(job: dict[str, Any], kind: str, name: str) -> bool:
    return any(o.get("kind") == kind and o.get("name") == name
               for o in job["metadata"].get("ownerReferences") or [])


def created(job: dict[str, Any]) -> str:
    return str(job["metadata"].get("creationTimestamp") or "")


async def newest_backup_job(ctx: StepContext, reader: KubeReader) -> dict[str, Any] | None:
    """The newest Job the backup CronJob owns, or today's date-named one."""
    cron, dated = cronjob_name(ctx), dated_name(ctx)
    jobs = [j for j in await reader.raw_list("Job")
            if owned_by(j, "CronJob", cron) or j["metadata"]["name"] == dated]
    return max(jobs, key=created) if jobs else None


def age_hours(job: dict[str, Any], now: datetime | None = None) -> float | None:
    stamp = (job.get("status") or {}).get("startTime") or created(job)
    if not stamp:
        return None
    started = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    return ((now or datetime.now(UTC)) - started).total_seconds() / 3600


def job_state(job: dict[str, Any]) -> tuple[bool, str]:
    status = job.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []
                  if c.get("status") == "True"}
    if "Failed" in conditions:
        return False, f"failed: {conditions['Failed'].get('message') or 'see its pods'}"
    if "Complete" in conditions or int(status.get("succeeded") or 0) > 0:
        return True, f"completed at {status.get('completionTime', '?')}"
    return False, f"not finished ({int(status.get('active') or 0)} active)"
