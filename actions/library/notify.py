"""Notify: a message to the status page or Slack, shown in the plan before it is sent.

The text is an input (its default made from the run, e.g. "Scheduled maintenance in
progress…"), so the operator can change it; the plan shows the exact JSON that will be
posted and the runbook's ``curl`` with the webhook's *variable* — the URL is a secret and
is never shown, logged or kept. Sending goes through the HTTP writer
(``ctx.mutations.http()``), so it is a change step: refused in read-only mode, confirmed
like any other change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from console.execution.context import StepContext
from console.execution.inputs import Input
from console.execution.model import Plan, Risk, Step, StepOutput

Channel = Literal["slack", "status_page"]


def payload(channel: Channel, text: str, **fields: Any) -> dict[str, Any]:
    """What is posted: the HTTP writer's own payload (so the plan shows what is sent)."""
    from console.execution.writers.http import WebhookWriter

    return WebhookWriter.payload(channel, text, **fields)


def variable(ctx: StepContext, channel: Channel) -> str:
    n = ctx.env.notifications
    name = n.slack_webhook_env if channel == "slack" else n.status_page_webhook_env
    return name or f"<notifications.{channel}_webhook_env not set>"


def notify_step(step_id: str, title: str, explanation: str, *, channel: Channel,
                text: Callable[[StepContext], str], fields: dict[str, Any] | None = None,
                input_name: str | None = None, timeout: float = 30.0) -> Step:
    """A change step posting ``text(ctx)`` (editable as the input ``STEP_ID-text``)."""
    name = input_name or f"{step_id}-text"
    message = Input(name, f"{title}: message", default=text, max_length=2000,
                    help=f"posted to the {channel.replace('_', ' ')} webhook as shown in "
                         "the plan")
    extra = dict(fields or {})

    def plan(ctx: StepContext) -> Plan:
        body = json.dumps(payload(channel, ctx.values.get(name) or text(ctx), **extra),
                          ensure_ascii=False)
        curl = Plan.command("curl", "-X", "POST", "-H", "Content-type: application/json",
                            "--data", body) + f' "${variable(ctx, channel)}"'
        return Plan(f"Post to the {channel.replace('_', ' ')} webhook "
                    f"(${variable(ctx, channel)}): {body}", (curl,))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        body = ctx.values.get(name) or text(ctx)
        status = await (await ctx.mutations.http()).post(channel, body, **extra)
        yield f"{channel.replace('_', ' ')} notified (HTTP {status}): {body}"

    return Step(step_id, title, explanation, Risk.CHANGE, plan, run, inputs=(message,),
                timeout=timeout)
