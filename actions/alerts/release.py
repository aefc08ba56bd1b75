"""Was it the last release? The rollout-history step the service alerts share.

A high error rate or slow responses that began with a release are undone, not restarted:
the step lists the revisions (image, change cause, age of its ReplicaSet) and, when the
alert's figure is over its warning band and the newest revision is younger than
:data:`RECENT_SECONDS` with an older one to go back to, points at ``undo``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from console.execution.context import StepContext
from console.execution.inputs import ChoiceInput
from console.execution.kube.reader import Revision
from console.execution.model import Plan, Risk, Step, StepOutput

RECENT_SECONDS = 24 * 3600
CACHE = "alerts.release"


@dataclass(frozen=True)
class Release:
    history: tuple[Revision, ...]
    newest_age: float | None  # seconds since the newest revision's ReplicaSet was created

    @property
    def recent(self) -> bool:
        return (len(self.history) > 1 and self.newest_age is not None
                and self.newest_age < RECENT_SECONDS)


async def release(ctx: StepContext) -> Release:
    if CACHE not in ctx.cache:
        reader = await ctx.kube()
        history = tuple(await reader.rollout_history())
        age = None
        if history:
            rs = await reader.raw("ReplicaSet", history[-1].replica_set)
            created = ((rs or {}).get("metadata") or {}).get("creationTimestamp")
            if created:
                at = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
                age = (datetime.now(UTC) - at).total_seconds()
        ctx.cache[CACHE] = Release(history, age)
    found: Release = ctx.cache[CACHE]
    return found


def remedy_default(alarming: Callable[[StepContext], Awaitable[bool]],
                   otherwise: str = "restart") -> Callable[[StepContext], Awaitable[str]]:
    """``undo`` when the figure is alarming and a recent release exists; ``otherwise``
    when it is alarming without one; ``none`` when it is not alarming."""

    async def default(ctx: StepContext) -> str:
        try:
            if not await alarming(ctx):
                return "none"
            return "undo" if (await release(ctx)).recent else otherwise
        except Exception:  # noqa: BLE001 - unreadable: the steps say why; nothing guessed
            return "none"

    return default


def release_step(remedy: ChoiceInput) -> Step:
    def plan(ctx: StepContext) -> Plan:
        k = ctx.env.kubernetes
        return Plan("The revisions of the deployment: did the trouble start with the last "
                    "release?", (Plan.command("kubectl", "rollout", "history",
                                              f"deployment/{k.deployment}", "-n",
                                              k.namespace),))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        found = await release(ctx)
        for revision in found.history:
            yield (f"revision {revision.number}: {', '.join(revision.images)}"
                   + (f" — {revision.change_cause}" if revision.change_cause else ""))
        if found.newest_age is not None:
            yield (f"newest revision {found.history[-1].number} rolled out "
                   f"{found.newest_age / 60:.0f} min ago"
                   + (" (recent: undo is the first remedy)" if found.recent else ""))
        yield f"remedy the state points at: {ctx.values.get('remedy')}"

    return Step("recent-release", "The last release", "kubectl rollout history: a release "
                "that brought the trouble is rolled back first.", Risk.READ, plan, run,
                inputs=(remedy,))
