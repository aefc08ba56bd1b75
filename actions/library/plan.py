"""The plan helper: a change step made of Kubernetes operations, shown as it will run.

A step built with :func:`kube_change_step` (or whose plan uses :func:`kube_plan`) shows the
``kubectl``/``velero`` command of each operation of :mod:`console.execution.kube.ops` and
then hands *the same objects* to the writer (``writer.apply(op)``): the command on the screen
and the call that changes the cluster are made from one set of arguments, so they cannot
drift apart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence

from console.execution.context import StepContext
from console.execution.kube.ops import KubeOp
from console.execution.model import Plan, Risk, Step, StepOutput, VerifyFn

OpsFn = Callable[[StepContext], Sequence[KubeOp]]


def commands(ctx: StepContext, ops: Sequence[KubeOp], *,
             explicit_context: bool = False) -> tuple[str, ...]:
    """Each operation's command line; ``explicit_context`` adds the environment's
    kubeconfig context (``--context``), as a wizard spanning two clusters must show."""
    context = ctx.env.kubernetes.context if explicit_context else None
    return tuple(op.shown(context) for op in ops)


def kube_plan(ctx: StepContext, summary: str, ops: Sequence[KubeOp], *more: str,
              explicit_context: bool = False) -> Plan:
    """A plan whose commands are the operations' own (then ``more`` shown commands, e.g.
    the ``kubectl rollout status`` a step follows with)."""
    return Plan(summary, commands(ctx, ops, explicit_context=explicit_context) + tuple(more))


async def apply_all(ctx: StepContext, ops: Sequence[KubeOp]) -> AsyncIterator[StepOutput]:
    """Run the operations in order through the step's writer, a line for each."""
    writer = await ctx.mutations.kube()
    for op in ops:
        yield await writer.apply(op)


def kube_change_step(step_id: str, title: str, explanation: str, *, ops: OpsFn,
                     summary: Callable[[StepContext], str], risk: Risk = Risk.CHANGE,
                     verify: VerifyFn | None = None, timeout: float = 120.0) -> Step:
    """A change step that applies ``ops(ctx)`` — the operations its plan showed."""

    def plan(ctx: StepContext) -> Plan:
        return kube_plan(ctx, summary(ctx), ops(ctx))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        async for line in apply_all(ctx, ops(ctx)):
            yield line

    return Step(step_id, title, explanation, risk, plan, run, verify=verify, timeout=timeout)
