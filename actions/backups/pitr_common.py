"""Names and the way back shared by the steps of the ``db-pitr`` wizard.

The wizard keeps what it must remember *on the cluster*, not only in the session log: the
replica count before traffic was stopped is an annotation on the Deployment, and the
database host before the switch is kept in a small secret next to the credentials. So a
resumed run, a fresh run taking the way back, another operator or ``kubectl`` all see the
same state, and a lost laptop does not lose the way back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from console.execution.context import NotPermitted, StepContext
from console.execution.model import RunFn, StepFailed, StepOutput

RECOVERY_POD = "postgres-recovery"
RECOVERY_CLAIM = "postgres-recovery-pvc"
RECOVERY_SERVICE = "postgres-recovery"
RECOVERY_LABELS = {"app": "postgresql", "role": "recovery",
                   "app.kubernetes.io/managed-by": "mcp-ops"}
RECOVERY_IMAGE = "postgres:15-alpine"
REMEMBERED = "mcp-ops.pratiko.ai/pitr-replicas-before"
HOST_KEY = "host"


def previous_host_secret(ctx: StepContext) -> str:
    """Where the host before the switch is kept (only that key, not the password)."""
    return f"{ctx.env.kubernetes.database_secret}-before-pitr"


def recovery_host(ctx: StepContext) -> str:
    return f"{RECOVERY_SERVICE}.{ctx.env.kubernetes.namespace}.svc.cluster.local"


def remembered_replicas(annotations: Mapping[str, str]) -> int | None:
    """The count kept on the Deployment (its annotations, e.g. ``DeploymentInfo``'s)."""
    value = annotations.get(REMEMBERED)
    return int(value) if value is not None and str(value).isdigit() else None


def way_back_hint(ctx: StepContext) -> str:
    k, env = ctx.env.kubernetes, ctx.env_name
    return (f"The way back: scale deployment/{k.deployment} up again on the old database — "
            f"`mcp-ops run db-pitr --env {env} --set way_back=yes --confirm {env}` (also with "
            "--resume SESSION), or start db-pitr in the console and answer yes to \"way back\"")


def offers_way_back(run: RunFn) -> RunFn:
    """A failure of a step after traffic was stopped says how to go back."""

    async def wrapped(ctx: StepContext) -> AsyncIterator[StepOutput]:
        try:
            async for item in run(ctx):
                yield item
        except StepFailed as exc:
            raise StepFailed(f"{exc}. {way_back_hint(ctx)}") from exc
        except NotPermitted:  # the executor reports that itself
            raise
        except Exception as exc:  # noqa: BLE001 - a client error fails the step the same way
            raise StepFailed(f"{type(exc).__name__}: {exc}. {way_back_hint(ctx)}") from exc

    wrapped.__name__ = getattr(run, "__name__", "run")
    wrapped.__doc__ = run.__doc__
    return wrapped
