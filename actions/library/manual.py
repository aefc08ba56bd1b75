""""Do this by hand, then continue": a checklist the operator confirms, item by item.

Some work has no API: the OS updates on a drained node, a call to the database team. A
manual step shows its checklist, and goes on only when the operator has confirmed every
item — in the console by answering its input, on the command line with
``--set STEP-done=yes`` (every item) or ``--set STEP-done=1,3`` (those items). An item not
confirmed stops the wizard there, saying which and how to go on (``--resume SESSION
--set STEP-done=yes`` after doing it). The session log records who confirmed what: the
answer in the ``inputs`` record, and a ``note`` naming each item confirmed, by whom.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

from console.execution.context import StepContext
from console.execution.inputs import Input, InputError
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput

Items = Sequence[str] | Callable[[StepContext], Sequence[str]]
YES, NO = ("y", "yes", "all", "done", "true"), ("n", "no", "none", "false")


def _items(items: Items, ctx: StepContext) -> list[str]:
    return list(items(ctx) if callable(items) else items)


@dataclass(frozen=True)
class ChecklistInput(Input):
    """Which items are done: ``yes`` (all), ``no`` (none) or their numbers (``1,3``)."""

    items: Items = ()
    kind: str = field(default="checklist", init=False)

    async def convert(self, text: str, ctx: StepContext) -> tuple[int, ...]:
        count = len(_items(self.items, ctx))
        lowered = text.strip().lower()
        if lowered in YES:
            return tuple(range(1, count + 1))
        if lowered in NO:
            return ()
        try:
            numbers = sorted({int(part) for part in lowered.replace(" ", "").split(",") if part})
        except ValueError:
            raise InputError(f"{text!r}: answer yes (all done), no, or the numbers of the "
                             f"items done (1..{count}, comma-separated)") from None
        if any(not 1 <= n <= count for n in numbers):
            raise InputError(f"{text!r}: items are numbered 1..{count}")
        return tuple(numbers)

    def show(self, value: object) -> str:
        if value is None:
            return ""
        return ",".join(str(n) for n in value) if isinstance(value, tuple) and value else "no"


def manual_step(step_id: str, title: str, explanation: str, items: Items, *,
                input_name: str | None = None, timeout: float = 60.0) -> Step:
    """A step showing ``items`` (a list, or a function of the context) that succeeds once
    every one is confirmed through the input ``STEP_ID-done`` (a console form field id
    cannot hold a dot)."""
    name = input_name or f"{step_id}-done"
    answer = ChecklistInput(name, f"{title}: done?", default="no", items=items,
                            help="yes when every item is done by hand; or the numbers of "
                                 "the items done (1,3); no to stop here")

    def plan(ctx: StepContext) -> Plan:
        listed = "; ".join(f"{i}. {item}" for i, item in enumerate(_items(items, ctx), 1))
        return Plan(f"By hand, then confirm each item ({name}=yes): {listed}")

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        listed = _items(items, ctx)
        confirmed = set(ctx.values.get(name) or ())
        for number, item in enumerate(listed, 1):
            yield f"[{'x' if number in confirmed else ' '}] {number}. {item}"
        done = [item for n, item in enumerate(listed, 1) if n in confirmed]
        missing = [f"{n}. {item}" for n, item in enumerate(listed, 1) if n not in confirmed]
        who = ctx.operator.user
        ctx.note(f"checklist {step_id}: {len(done)} of {len(listed)} items confirmed by {who}",
                 checklist=step_id, confirmed=done, missing=[m.split(". ", 1)[1]
                                                              for m in missing],
                 confirmed_by=who, host=ctx.operator.host)
        if missing:
            raise StepFailed(f"not confirmed: {'; '.join(missing)}. Do it by hand, then answer "
                             f"yes to {name!r} (command line: --resume SESSION --set "
                             f"{name}=yes)")
        yield f"all {len(listed)} items confirmed by {who}"

    return Step(step_id, title, explanation, Risk.READ, plan, run, inputs=(answer,),
                timeout=timeout)
