"""Following a Deployment until it has settled, as ``kubectl rollout status`` does.

Shared by every wizard that scales, restarts or updates the MCP server: it watches the
Deployment (one watch stream, no polling) and reports progress as ready replicas out of
the desired count, with a line whenever the picture changes, until the controller has
observed the latest generation and every desired replica is updated, ready and no old
ones are left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from console.execution.model import Progress, StepFailed, StepOutput


def rollout_state(deployment: dict[str, Any]) -> tuple[bool, int, int, str]:
    """(settled, ready, desired, description) of a deployment's JSON."""
    meta = deployment.get("metadata", {})
    spec = deployment.get("spec", {})
    status = deployment.get("status", {}) or {}
    desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    ready = int(status.get("readyReplicas") or 0)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    observed = int(status.get("observedGeneration") or 0)
    generation = int(meta.get("generation") or 0)
    settled = (observed >= generation and updated >= desired and ready >= desired
               and available >= desired and total == desired)
    text = (f"{ready}/{desired} ready, {updated} updated, {total} total, "
            f"{available} available")
    return settled, ready, desired, text


async def follow_rollout(ctx: Any, *, timeout: int = 300, name: str | None = None,
                         replicas: int | None = None) -> AsyncIterator[StepOutput]:
    """Yield progress until the deployment has settled; StepFailed if the watch ends first,
    or if ``spec.replicas`` moves away from ``replicas`` (an HPA, or another operator)."""
    reader = await ctx.kube()
    last_text = None
    async for deployment in reader.watch_deployment(name, timeout=timeout):
        settled, ready, desired, text = rollout_state(deployment)
        if replicas is not None and desired != replicas:
            raise StepFailed(f"spec.replicas changed to {desired} during the rollout (asked "
                             f"for {replicas}): the HPA or another operator scaled it; set the "
                             f"HPA's minimum to at least {replicas} to hold it")
        yield Progress(ready, desired or 1, "ready replicas")
        if text != last_text:
            yield f"rollout: {text}"
            last_text = text
        if settled:
            yield f"rollout complete: {ready}/{desired} replicas ready"
            return
    raise StepFailed(f"the rollout did not settle within {timeout}s ({last_text})")
