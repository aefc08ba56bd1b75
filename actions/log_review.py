"""The ``log-review`` wizard — the guide's daily "Log Review".

The runbook's greps (``error``; ``auth|unauthorized|forbidden``; ``slow|timeout``) run on
``kubectl logs deployment/... --since=24h``: one pod of the deployment. Its "Log
Analysis" uses ``kubectl logs -l app=mcp-server``, which reads only the last 10 lines of
each pod when a selector is given. Here every pod of the selector is read for the whole
window — its current container and, when it restarted, the previous one too — streamed a
line at a time into counters (:mod:`.logs.review`): per filter the count per hour, per
pod, the top messages (numbers, addresses and ids folded) and a few samples. Memory stays
bounded however long the logs are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from console.execution.context import StepContext
from console.execution.inputs import Input, IntInput
from console.execution.model import Plan, Progress, Risk, Step, StepOutput, Wizard

from .logs.review import FILTERS, SAMPLES, TITLES, FilterCounts, Review

CACHE = "log-review"
TOP = 10

HOURS = IntInput("hours", "Hours of log to review", minimum=1, maximum=168, default=24,
                 help="The runbook's --since=24h.")
SELECTOR = Input("selector", "Pods (label selector)", max_length=200,
                 default=lambda ctx: ctx.env.kubernetes.app_selector,
                 help="Every pod matching it is read, not one and not 10 lines each.")


def review(ctx: StepContext) -> Review:
    found = ctx.cache.get(CACHE)
    return found if isinstance(found, Review) else Review()


def plan_read(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    hours = ctx.values.get("hours")
    return Plan(f"Read {hours} h of log from every pod of {ctx.values.get('selector')} "
                "(and the previous container of a pod that restarted), streamed, counted by "
                "the runbook's three filters",
                (Plan.command("kubectl", "logs", "-n", k.namespace, "-l",
                              str(ctx.values.get("selector")), "-c", k.container,
                              f"--since={hours}h", "--tail=-1", "--prefix",
                              "--max-log-requests=50"),))


async def run_read(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    k = ctx.env.kubernetes
    since = int(ctx.values.get("hours") or 24) * 3600
    pods = [p for p in await reader.pods(str(ctx.values.get("selector"))) if not p.deleting]
    found = Review()
    ctx.cache[CACHE] = found
    for done, pod in enumerate(pods):
        yield Progress(done, len(pods), "pods read")
        runs = [False, True] if pod.restarts else [False]
        for previous in runs:
            try:
                async for line in reader.stream_log(pod.name, k.container, previous=previous,
                                                    since_seconds=since):
                    found.add(pod.name, line)
            except Exception as exc:  # noqa: BLE001 - one log unreadable: said, the rest read
                yield f"{pod.name}{' (previous)' if previous else ''}: not readable ({exc})"
        yield (f"{pod.name}: {found.per_pod_lines[pod.name]} lines"
               + (" (previous container too)" if pod.restarts else ""))
    yield Progress(len(pods), len(pods), "pods read")
    totals = ", ".join(f"{TITLES[n].lower()} {found.counts[n].total}" for n in FILTERS)
    yield f"{found.lines} lines from {len(pods)} pods in {ctx.values.get('hours')} h: {totals}"


def report_lines(name: str, counts: FilterCounts) -> list[str]:
    out = [f"{TITLES[name]}: {counts.total} lines"]
    if not counts.total:
        return out
    out.append("per hour: " + ", ".join(f"{h[-5:]} {n}" for h, n in sorted(
        counts.per_hour.items())))
    out.append("per pod: " + ", ".join(f"{p} {n}" for p, n in counts.per_pod.most_common()))
    out.append("top messages:")
    out += [f"  {n:>6}  {m}" for m, n in counts.messages.most_common(TOP)]
    out.append(f"samples (first {SAMPLES}):")
    out += [f"  {s}" for s in counts.samples]
    return out


def filter_step(name: str) -> Step:
    pattern = FILTERS[name].pattern

    def plan(ctx: StepContext) -> Plan:
        k = ctx.env.kubernetes
        return Plan(f"{TITLES[name]} (grep -i '{pattern}'): per hour, per pod, top messages, "
                    "samples",
                    (Plan.command("kubectl", "logs", "-n", k.namespace, "-l",
                                  str(ctx.values.get("selector")), f"--since="
                                  f"{ctx.values.get('hours')}h", "--tail=-1") + " | "
                     + Plan.command("grep", "-iE", pattern),))

    async def run(ctx: StepContext) -> AsyncIterator[StepOutput]:
        for line in report_lines(name, review(ctx).counts[name]):
            yield line

    return Step(f"review-{name}", TITLES[name], f"The runbook's grep -i '{pattern}' over every "
                "pod.", Risk.READ, plan, run)


WIZARD = Wizard(
    id="log-review", title="Daily log review", section="Daily Operations › Log Review",
    when="Daily: errors, authentication failures and slow queries of the last 24 h, from "
         "every pod.",
    steps=(
        Step("read-logs", "Read every pod's log", "kubectl logs of each pod of the selector "
             "for the whole window (kubectl logs -l reads 10 lines a pod; deployment/... one "
             "pod).", Risk.READ, plan_read, run_read, inputs=(HOURS, SELECTOR), timeout=900),
        *(filter_step(name) for name in FILTERS),
    ),
)
