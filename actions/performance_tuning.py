"""The performance review's tuning actions — the guide's "Performance Tuning Actions" — each
a change step that runs only when its input is given, its SQL or ``kubectl`` shown first.

- ``CREATE INDEX CONCURRENTLY``: table and column names validated before anything runs (a
  quote, a semicolon or a space is refused as the answers are read) and always quoted; run
  outside a transaction with progress from ``pg_stat_progress_create_index``. A build that
  fails leaves an INVALID index (``pg_index.indisvalid = false``) that costs every write:
  the SQL writer finds it and drops it with ``DROP INDEX CONCURRENTLY``; this step reads
  ``pg_index`` again and says what was left. After a build, ``indisvalid`` is checked.
- Invalid indexes the review found (from an earlier failed build) are dropped when asked.
- ``ANALYZE`` of one table.
- Resource requests/limits of the one container (the guide's strategic patch, which merges
  by container name; refused if the container is not in the pod template, where the patch
  would *add* one). The previous values are kept in the session log for an undo.
- The HPA's CPU target, through the same JSON patch as the scaling wizard: only the CPU
  metric's target changes, the other metrics are kept (the guide's
  ``targetCPUUtilizationPercentage`` is the autoscaling/v1 field, which an autoscaling/v2
  HPA with several metrics does not have).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from console.collectors.kube_model import HpaInfo
from console.config.model import Environment
from console.execution.context import StepContext
from console.execution.inputs import BoolInput, Input, InputError, IntInput
from console.execution.kube.ops import PatchObject
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput
from console.execution.writers.sql import IndexProgress, SqlWriter, validate_identifier

from .library.plan import commands
from .performance_state import INVALID, changed
from .scaling import Targets, hpa_patch, live_hpa

QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$", re.ASCII)


@dataclass(frozen=True)
class SqlNameInput(Input):
    """A table (``schema.table`` allowed) or index name: letters, digits, ``_`` and ``$``;
    checked by the SQL writer's own rule, so what passes here is what it will quote."""

    qualified: bool = True
    kind: str = field(default="SQL identifier", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        try:
            return validate_identifier(text, qualified=self.qualified, what=self.label.lower())
        except ValueError as exc:
            raise InputError(str(exc)) from None


@dataclass(frozen=True)
class ColumnsInput(Input):
    """One or more column names, comma-separated, each a plain identifier."""

    kind: str = field(default="SQL identifiers", init=False)

    async def convert(self, text: str, ctx: StepContext) -> tuple[str, ...]:
        names = tuple(part.strip() for part in text.split(","))
        try:
            return tuple(validate_identifier(n, qualified=False, what="column") for n in names)
        except ValueError as exc:
            raise InputError(str(exc)) from None

    def show(self, value: Any) -> str:
        return ", ".join(value) if isinstance(value, tuple) else super().show(value)


@dataclass(frozen=True)
class QuantityInput(Input):
    """A Kubernetes resource quantity: 500m, 2, 1.5, 512Mi, 8Gi."""

    kind: str = field(default="resource quantity", init=False)

    async def convert(self, text: str, ctx: StepContext) -> str:
        if not QUANTITY.match(text):
            raise InputError(f"{text!r} is not a resource quantity like 500m, 2, 512Mi or 8Gi")
        return text


INDEX_TABLE = SqlNameInput("index_table", "Table to index (empty: no index)", required=False,
                           help="CREATE INDEX CONCURRENTLY on this table (schema.table "
                                "allowed); letters, digits, _ and $ only.")
INDEX_COLUMNS = ColumnsInput("index_columns", "Column(s) to index, comma-separated",
                             required=False, help="e.g. account_id or account_id, created_at")
INDEX_NAME = SqlNameInput("index_name", "Index name (empty: idx_<table>_<columns>)",
                          required=False, qualified=False)
INDEX_UNIQUE = BoolInput("index_unique", "Unique index?", default=False, required=False)
DROP_INVALID = BoolInput("drop_invalid", "Drop the invalid indexes the review found?",
                         default=False, required=False,
                         help="DROP INDEX CONCURRENTLY of each index pg_index marks invalid.")
ANALYZE_TABLE = SqlNameInput("analyze_table", "Table to ANALYZE (empty: none)", required=False)
CPU_REQUEST = QuantityInput("cpu_request", "CPU request (empty: unchanged)", required=False,
                            help="The guide: 1000m")
MEMORY_REQUEST = QuantityInput("memory_request", "Memory request (empty: unchanged)",
                               required=False, help="The guide: 2Gi")
CPU_LIMIT = QuantityInput("cpu_limit", "CPU limit (empty: unchanged)", required=False,
                          help="The guide: 4000m")
MEMORY_LIMIT = QuantityInput("memory_limit", "Memory limit (empty: unchanged)", required=False,
                             help="The guide: 8Gi")
HPA_CPU = IntInput("hpa_cpu_target", "HPA CPU target % (empty: unchanged)", minimum=10,
                   maximum=95, required=False, default=None,
                   help="The guide: 60. Only the CPU metric changes; other metrics are kept.")
RESOURCE_INPUTS = (CPU_REQUEST, MEMORY_REQUEST, CPU_LIMIT, MEMORY_LIMIT)


def check_tuning(values: Mapping[str, Any], env: Environment) -> list[str]:
    problems = []
    if (values.get("index_table") is None) != (values.get("index_columns") is None):
        problems.append("index_table and index_columns go together: give both or neither")
    return problems


# ---- CREATE INDEX CONCURRENTLY -----------------------------------------------------------
def index_name(values: Mapping[str, Any]) -> str:
    if values.get("index_name"):
        return str(values["index_name"])
    table = str(values["index_table"]).split(".")[-1]
    return f"idx_{table}_{'_'.join(values['index_columns'])}"[:63]


def create_index_statement(values: Mapping[str, Any]) -> str:
    return SqlWriter.create_index_sql(index_name(values), values["index_table"],
                                      values["index_columns"],
                                      unique=bool(values.get("index_unique")))


def plan_index(ctx: StepContext) -> Plan:
    statement = create_index_statement(ctx.values)
    return Plan(f"Build index {index_name(ctx.values)} without blocking writes, outside a "
                "transaction, progress from pg_stat_progress_create_index; if the build fails, "
                "the INVALID index it leaves is dropped (DROP INDEX CONCURRENTLY)",
                (statement + ";",))


FIND_INDEX = ("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
              " WHERE i.indrelid = to_regclass($1) AND c.relname = $2")


async def _index_state(ctx: StepContext, table: str, name: str) -> bool | None:
    """True/False: the index exists and is valid or not (pg_index.indisvalid); None: absent."""
    from console.execution.writers.sql import quote_ident

    valid = await (await ctx.postgres()).fetchval(FIND_INDEX, quote_ident(table), name)
    return None if valid is None else bool(valid)


async def run_index(ctx: StepContext) -> AsyncIterator[StepOutput]:
    values = ctx.values
    table, columns, name = values["index_table"], values["index_columns"], index_name(values)
    writer = await ctx.mutations.sql()
    seen: asyncio.Queue[IndexProgress] = asyncio.Queue()
    build = asyncio.ensure_future(writer.create_index_concurrently(
        name, table, columns, unique=bool(values.get("index_unique")), progress=seen.put))
    yield f"building {name}: {create_index_statement(values)}"
    last_phase = ""
    while not build.done() or not seen.empty():
        getter = asyncio.ensure_future(seen.get())
        await asyncio.wait({build, getter}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            continue
        p = getter.result()
        if p.phase != last_phase:
            last_phase = p.phase
            yield f"  {p.phase}"
        fraction = p.fraction
        yield Progress(round(fraction * 100, 1) if fraction is not None else 0, 100,
                       p.phase)
    try:
        status = build.result()
    except Exception as exc:  # noqa: BLE001 - reported with what was left behind
        notes = "; ".join(getattr(exc, "__notes__", []))
        state = await _index_state(ctx, table, name)
        left = ("no index left behind" if state is None else
                f"index {name} still there ({'valid' if state else 'INVALID'})")
        yield f"the concurrent build failed: {type(exc).__name__}: {exc}"
        if notes:
            yield f"  {notes}"
        yield f"  pg_index now: {left}"
        changed(ctx, f"CREATE INDEX CONCURRENTLY {name} on {table} failed ({exc}); {notes or left}",
                index=name, table=table, failed=True)
        raise StepFailed(f"index {name} was not built: {exc}; {notes or left}") from exc
    changed(ctx, f"index {name} on {table} ({', '.join(columns)}) built: {status}",
            index=name, table=table, columns=list(columns))
    yield f"{status}: index {name} on {table}"


async def verify_index(ctx: StepContext) -> str:
    name = index_name(ctx.values)
    state = await _index_state(ctx, ctx.values["index_table"], name)
    if state is not True:
        raise StepFailed(f"index {name} is {'INVALID' if state is False else 'absent'} "
                         "(pg_index.indisvalid)")
    return f"index {name} valid (pg_index.indisvalid = true)"


# ---- invalid indexes -------------------------------------------------------------------
def plan_drop_invalid(ctx: StepContext) -> Plan:
    found = ctx.cache.get(INVALID, [])
    return Plan(f"Drop the invalid indexes the review found ({len(found)}), one at a time, "
                "outside a transaction",
                tuple(SqlWriter.drop_index_sql(i) + ";" for i in found))


async def run_drop_invalid(ctx: StepContext) -> AsyncIterator[StepOutput]:
    from .performance_review import INVALID_INDEXES_SQL

    rows = await (await ctx.postgres()).fetch(INVALID_INDEXES_SQL)  # as they are now
    if not rows:
        yield "no invalid index (pg_index.indisvalid is true everywhere)"
        return
    writer = await ctx.mutations.sql()
    for r in rows:
        status = await writer.drop_index_concurrently(r["index"])
        changed(ctx, f"invalid index {r['index']} on {r['table']} dropped", index=r["index"])
        yield f"dropped {r['index']} (invalid, on {r['table']}): {status}"


# ---- ANALYZE ---------------------------------------------------------------------------
def plan_analyze(ctx: StepContext) -> Plan:
    return Plan(f"Update the planner's statistics of {ctx.values['analyze_table']}",
                (SqlWriter.analyze_sql(ctx.values["analyze_table"]) + ";",))


async def run_analyze(ctx: StepContext) -> AsyncIterator[StepOutput]:
    table = ctx.values["analyze_table"]
    status = await (await ctx.mutations.sql()).analyze(table)
    changed(ctx, f"ANALYZE {table}: {status}", table=table)
    yield f"{status}: {table}"


# ---- resources of the container --------------------------------------------------------
def _resources(values: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, (part, resource) in {"cpu_request": ("requests", "cpu"),
                                  "memory_request": ("requests", "memory"),
                                  "cpu_limit": ("limits", "cpu"),
                                  "memory_limit": ("limits", "memory")}.items():
        if values.get(key) is not None:
            out.setdefault(part, {})[resource] = str(values[key])
    return out


def _resources_op(ctx: StepContext, resources: Mapping[str, Any]) -> PatchObject:
    k = ctx.env.kubernetes
    return PatchObject("Deployment", k.deployment, k.namespace, {"spec": {"template": {"spec": {
        "containers": [{"name": k.container, "resources": dict(resources)}]}}}})


def plan_resources(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan(f"Set the resources of container {k.container} of deployment/{k.deployment} "
                "(a rolling restart follows); the values not given are kept",
                commands(ctx, [_resources_op(ctx, _resources(ctx.values))]))


async def run_resources(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = ctx.env.kubernetes
    body = await (await ctx.kube()).deployment_json()
    containers = body.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    mine = next((c for c in containers if c.get("name") == k.container), None)
    if mine is None:
        raise StepFailed(f"container {k.container} is not in deployment/{k.deployment} "
                         f"({', '.join(c.get('name', '?') for c in containers)}): the patch "
                         "would add one; nothing was changed")
    previous = mine.get("resources") or {}
    ctx.note(f"container {k.container} resources before: {previous}", previous=previous)
    yield f"previous resources of {k.container}: {previous or 'none'} (kept in the session log)"
    wanted = _resources(ctx.values)
    yield await (await ctx.mutations.kube()).apply(_resources_op(ctx, wanted))
    changed(ctx, f"deployment/{k.deployment} container {k.container} resources set to "
                 f"{wanted} (were {previous or 'none'})", previous=previous, wanted=wanted)


async def verify_resources(ctx: StepContext) -> str:
    k = ctx.env.kubernetes
    body = await (await ctx.kube()).deployment_json()
    mine = next(c for c in body["spec"]["template"]["spec"]["containers"]
                if c.get("name") == k.container)
    got = mine.get("resources") or {}
    for part, values in _resources(ctx.values).items():
        for resource, value in values.items():
            if str(got.get(part, {}).get(resource)) != value:
                raise StepFailed(f"{part}.{resource} reads back {got.get(part, {}).get(resource)}, "
                                 f"expected {value}")
    return f"resources of {k.container}: {got}"


# ---- HPA CPU target --------------------------------------------------------------------
def _hpa_op(ctx: StepContext, hpa: HpaInfo | None) -> PatchObject:
    k = ctx.env.kubernetes
    target = int(ctx.values["hpa_cpu_target"])
    t = Targets(None, hpa.min if hpa else None, hpa.max if hpa else None, target)
    return PatchObject("HorizontalPodAutoscaler", k.hpa, k.namespace, hpa_patch(hpa, t), "json")


def plan_hpa(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    hpa = ctx.cache.get("scaling.hpa")
    summary = (f"Set the CPU target of hpa/{k.hpa} to {ctx.values['hpa_cpu_target']}% (a JSON "
               "patch of the CPU metric only; min, max and the other metrics kept)")
    if not isinstance(hpa, HpaInfo):
        return Plan(summary, (Plan.command("kubectl", "patch", "hpa", k.hpa, "-n", k.namespace,
                                           "--type", "json", "-p",
                                           "<the cpu metric's target, at its index>"),))
    return Plan(summary, commands(ctx, [_hpa_op(ctx, hpa)]))


async def run_hpa_target(ctx: StepContext) -> AsyncIterator[StepOutput]:
    k = ctx.env.kubernetes
    hpa = await live_hpa(ctx, fresh=True)
    if not isinstance(hpa, HpaInfo):
        raise StepFailed(f"hpa/{k.hpa} cannot be read ({hpa}); nothing was changed")
    ctx.note(f"hpa/{hpa.name} before: cpu target {hpa.cpu_target_pct}%",
             cpu_target=hpa.cpu_target_pct, hpa_min=hpa.min, hpa_max=hpa.max)
    yield (f"previous: cpu target {hpa.cpu_target_pct}%, metrics {', '.join(hpa.metrics)} "
           "(kept in the session log)")
    yield await (await ctx.mutations.kube()).apply(_hpa_op(ctx, hpa))
    after = await live_hpa(ctx, fresh=True)
    if isinstance(after, HpaInfo):
        missing = [m for m in hpa.metrics if m not in after.metrics]
        if missing:
            raise StepFailed(f"the HPA lost its metrics {', '.join(missing)}")
        yield f"hpa/{after.name}: cpu target {after.cpu_target_pct}%; metrics " \
              f"{', '.join(after.metrics)}"
    changed(ctx, f"hpa/{hpa.name} CPU target {hpa.cpu_target_pct}% -> "
                 f"{ctx.values['hpa_cpu_target']}%", previous=hpa.cpu_target_pct)


async def verify_hpa_target(ctx: StepContext) -> str:
    hpa = await (await ctx.kube()).hpa()
    if hpa.cpu_target_pct != ctx.values["hpa_cpu_target"]:
        raise StepFailed(f"HPA CPU target reads back {hpa.cpu_target_pct}%")
    return f"HPA CPU target {hpa.cpu_target_pct}%; metrics {', '.join(hpa.metrics)}"


TUNING_STEPS: tuple[Step, ...] = (
    Step("create-index", "Create a missing index", "CREATE INDEX CONCURRENTLY builds the index "
         "without blocking writes; it cannot run in a transaction, and a failed build leaves "
         "an INVALID index, which is dropped here.", Risk.CHANGE, plan_index, run_index,
         inputs=(INDEX_TABLE, INDEX_COLUMNS, INDEX_NAME, INDEX_UNIQUE), verify=verify_index,
         applies=lambda v: v.get("index_table") is not None, timeout=3600),
    Step("drop-invalid-indexes", "Drop invalid indexes", "An index pg_index marks invalid was "
         "left by a failed concurrent build: it is maintained on every write and used by no "
         "query.", Risk.CHANGE, plan_drop_invalid, run_drop_invalid, inputs=(DROP_INVALID,),
         applies=lambda v: bool(v.get("drop_invalid")), timeout=600),
    Step("analyze-table", "Update table statistics", "ANALYZE refreshes the planner's "
         "statistics of one table (after a bulk load, or when plans go wrong).", Risk.CHANGE,
         plan_analyze, run_analyze, inputs=(ANALYZE_TABLE,),
         applies=lambda v: v.get("analyze_table") is not None, timeout=1800),
    Step("resource-limits", "Resource requests and limits", "The guide's patch of the MCP "
         "server's requests and limits, by usage; only the values given change, the previous "
         "ones are kept in the session log.", Risk.CHANGE, plan_resources, run_resources,
         inputs=RESOURCE_INPUTS, verify=verify_resources,
         applies=lambda v: any(v.get(i.name) is not None for i in RESOURCE_INPUTS)),
    Step("hpa-cpu-target", "Auto-scaling CPU target", "The guide's HPA target change, as a "
         "JSON patch of the CPU metric alone (its targetCPUUtilizationPercentage is the "
         "autoscaling/v1 field and its merge patch would drop the other metrics).",
         Risk.CHANGE, plan_hpa, run_hpa_target, inputs=(HPA_CPU,), verify=verify_hpa_target,
         applies=lambda v: v.get("hpa_cpu_target") is not None),
)
