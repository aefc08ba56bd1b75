"""``troubleshoot-redis`` — the runbook's "Redis Performance Issues".

Look: ``INFO`` (memory against ``maxmemory`` judged by ``redis_memory_pct``, the eviction
policy, hit rate and evictions since start, keys), the slow log, and which key patterns
hold the memory: a ``SCAN`` of the keyspace in pages (never ``KEYS``), keys grouped by
their prefix up to the first part that varies (``mcp:export:20261206:17`` ->
``mcp:export:*``), counted exactly, their memory estimated from a ``MEMORY USAGE`` sample,
and how many have no TTL.

The runbook's fix, ``redis-cli flushdb``, drops every key — the live working set with the
culprit — so here the first remedy is ``unlink-pattern``: the chosen pattern (by default
the one holding most memory when memory is over its band) deleted with ``SCAN`` +
``UNLINK`` in batches, its key count and memory shown first. ``flushdb`` stays available
as a destructive step that shows the key count and memory first and runs only when the
environment's name is typed into ``flushdb_confirm``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import Input, InputError, IntInput
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status

from ..library.diagnosis import diagnosis_step, judge
from .common import after_step, chosen, remedy_input

SCAN_LIMIT = 200_000  # keys looked at by the pattern survey (the count says when cut)
SAMPLE_PER_PATTERN = 50
CACHE = "troubleshoot-redis.survey"
VARYING = re.compile(r"^(\d+|[0-9a-f-]{16,})$")  # an id, a date, a uuid: the part that varies


def pattern_of(key: str) -> str:
    parts = key.split(":")
    for i, part in enumerate(parts[1:], 1):  # the first part names the family: kept
        if VARYING.search(part):
            return ":".join(parts[:i] + ["*"])
    return ":".join(parts[:-1] + ["*"]) if len(parts) > 1 else key


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


@dataclass
class PatternStats:
    pattern: str
    keys: int = 0
    sampled: int = 0
    sampled_bytes: int = 0
    no_ttl: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return round(self.sampled_bytes / self.sampled * self.keys) if self.sampled else 0


@dataclass(frozen=True)
class Survey:
    patterns: tuple[PatternStats, ...]  # most memory first
    scanned: int
    complete: bool
    used_memory: int
    maxmemory: int


async def survey(ctx: StepContext, *, fresh: bool = False) -> Survey:
    if fresh or CACHE not in ctx.cache:
        redis = ctx.redis()
        memory = await redis.info("memory")
        stats: dict[str, PatternStats] = {}
        scanned = 0
        complete = True
        async for raw in redis.scan_iter(count=1000):
            key = _text(raw)
            scanned += 1
            p = stats.setdefault(pattern_of(key), PatternStats(pattern_of(key)))
            p.keys += 1
            if p.sampled < SAMPLE_PER_PATTERN:
                usage = await redis.memory_usage(raw)
                if usage is not None:
                    p.sampled += 1
                    p.sampled_bytes += int(usage)
                    p.no_ttl += int(await redis.ttl(raw)) == -1
                    if len(p.examples) < 2:
                        p.examples.append(key)
            if scanned >= SCAN_LIMIT:
                complete = False
                break
        ordered = tuple(sorted(stats.values(), key=lambda s: -s.bytes))
        ctx.cache[CACHE] = Survey(ordered, scanned, complete, int(memory.get("used_memory", 0)),
                                  int(memory.get("maxmemory", 0)))
    found: Survey = ctx.cache[CACHE]
    return found


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


async def stats_findings(ctx: StepContext) -> list[Finding]:
    redis = ctx.redis()
    info = {**await redis.info("memory"), **await redis.info("stats")}
    keys = int(await redis.dbsize())
    t = ctx.env.thresholds
    used, maximum = int(info.get("used_memory", 0)), int(info.get("maxmemory", 0))
    out = []
    if maximum:
        out.append(judge("cache", "memory", f"Redis memory {_mb(used)} of {_mb(maximum)} =",
                         100.0 * used / maximum, t.redis_memory_pct, unit="%"))
    else:
        out.append(Finding("cache", "memory", Status.WARNING, f"Redis memory {_mb(used)} "
                           "used, no maxmemory set: it grows until the node runs out"))
    hits, misses = int(info.get("keyspace_hits", 0)), int(info.get("keyspace_misses", 0))
    if hits + misses:
        out.append(judge("cache", "hit_rate", "hit rate since start", 100.0 * hits /
                         (hits + misses), t.redis_hit_rate_pct, unit="%", low_is_worse=True))
    evicted = int(info.get("evicted_keys", 0))
    out.append(Finding("cache", "evicted", Status.WARNING if evicted else Status.HEALTHY,
                       f"{evicted} keys evicted since start (policy "
                       f"{info.get('maxmemory_policy', '?')})", float(evicted)))
    out.append(Finding("cache", "keys", Status.HEALTHY, f"{keys} keys in this database",
                       float(keys)))
    return out


def plan_slowlog(ctx: StepContext) -> Plan:
    return Plan("The ten slowest recent commands", (Plan.command("redis-cli", "slowlog", "get",
                                                                 "10"),))


async def run_slowlog(ctx: StepContext) -> AsyncIterator[StepOutput]:
    entries = await ctx.redis().slowlog_get(10)
    for entry in entries:
        command = entry.get("command", b"")
        yield f"{int(entry.get('duration', 0)) / 1000:.1f} ms  {_text(command)[:120]}"
    yield f"{len(entries)} slow log entries"


async def pattern_findings(ctx: StepContext) -> list[Finding]:
    found = await survey(ctx, fresh=True)
    out = []
    for p in found.patterns[:10]:
        share = 100.0 * p.bytes / found.used_memory if found.used_memory else 0.0
        no_ttl = (f", {p.no_ttl} of {p.sampled} sampled without TTL" if p.sampled else "")
        status = Status.WARNING if share >= 50 else Status.HEALTHY
        out.append(Finding("cache", f"pattern.{p.pattern}", status,
                           f"pattern {p.pattern}: {p.keys} keys, ~{_mb(p.bytes)} ({share:.0f}% "
                           f"of used memory){no_ttl}; e.g. {', '.join(p.examples)}",
                           float(p.bytes)))
    out.append(Finding("cache", "survey", Status.HEALTHY,
                       f"{found.scanned} keys scanned in {len(found.patterns)} patterns"
                       + ("" if found.complete else f" (stopped at {SCAN_LIMIT})")))
    return out


# ---- inputs ---------------------------------------------------------------------------
async def _over_band(ctx: StepContext) -> bool:
    found = await survey(ctx)
    return bool(found.maxmemory) and 100.0 * found.used_memory / found.maxmemory >= \
        ctx.env.thresholds.redis_memory_pct.warning


async def default_remedy(ctx: StepContext) -> str:
    try:
        return "unlink-pattern" if await _over_band(ctx) and (await survey(ctx)).patterns \
            else "none"
    except Exception:  # noqa: BLE001 - unreachable: the steps say why
        return "none"


async def default_pattern(ctx: StepContext) -> str | None:
    try:
        found = await survey(ctx)
    except Exception:  # noqa: BLE001
        return None
    return found.patterns[0].pattern if found.patterns else None


class PatternInput(Input):
    """A key pattern with at least one literal character before its first wildcard."""

    async def convert(self, text: str, ctx: StepContext) -> str:
        text = str(await super().convert(text, ctx))  # no control characters
        if set(text) <= {"*", "?"}:
            raise InputError(f"{text!r} matches every key: that is FLUSHDB (remedy=flushdb)")
        if any(c.isspace() for c in text):
            raise InputError("a key pattern has no spaces")
        return text


PATTERN = PatternInput("pattern", "Key pattern to delete (SCAN MATCH)", required=False,
                       default=default_pattern, max_length=200,
                       help="Default: the pattern holding the most memory.")
BATCH = IntInput("batch", "Keys per UNLINK", minimum=10, maximum=5000, default=500)
FLUSH_CONFIRM = Input("flushdb_confirm", "Type the environment's name to allow FLUSHDB",
                      required=False, default=None, max_length=100,
                      help="FLUSHDB drops every key of the database, the live cache too.")
REMEDY = remedy_input(("unlink-pattern", "flushdb"), default_remedy,
                      "Default: unlink-pattern when memory is over its band, else none. "
                      "flushdb drops every key and needs flushdb_confirm=<environment>.")


# ---- remedies -------------------------------------------------------------------------
def plan_unlink(ctx: StepContext) -> Plan:
    pattern = ctx.values.get("pattern")
    return Plan(f"Count the keys matching {pattern!r} and their memory, then delete them with "
                f"SCAN + UNLINK, {ctx.values.get('batch')} at a time (freed in the "
                "background, the server never blocks)",
                (Plan.command("redis-cli", "--scan", "--pattern", str(pattern)) +
                 " | " + Plan.command("xargs", "-n", str(ctx.values.get("batch")),
                                      "redis-cli", "unlink"),))


async def run_unlink(ctx: StepContext) -> AsyncIterator[StepOutput]:
    pattern = ctx.values.get("pattern")
    if not pattern:
        raise StepFailed("no pattern chosen and none found: give --set pattern=PREFIX:*")
    writer = await ctx.mutations.redis()
    size = await writer.count_pattern(str(pattern))
    yield f"{pattern}: {size.keys} keys, ~{_mb(size.bytes)} (estimated from a sample)"
    ctx.note(f"deleting {size.keys} keys matching {pattern} (~{_mb(size.bytes)})",
             pattern=pattern, keys=size.keys, bytes=size.bytes)
    removed = 0
    async for removed in writer.unlink_pattern(str(pattern), batch=int(ctx.values["batch"])):
        yield Progress(removed, size.keys or None, "keys unlinked")
    yield f"{removed} keys unlinked"
    memory = await ctx.redis().info("memory")
    yield f"Redis memory now {_mb(int(memory.get('used_memory', 0)))}"


async def verify_unlink(ctx: StepContext) -> str:
    pattern = str(ctx.values.get("pattern"))
    left = 0
    async for _ in ctx.redis().scan_iter(match=pattern, count=1000):
        left += 1
    if left:
        return f"{left} keys match {pattern} again (something still writes them)"
    return f"no key matches {pattern}"


def plan_flush(ctx: StepContext) -> Plan:
    found = ctx.cache.get(CACHE)
    shown = (f"{found.scanned} keys, {_mb(found.used_memory)}" if isinstance(found, Survey)
             else "every key")
    return Plan(f"FLUSHDB: delete {shown} of this database — the live cache too; runs only "
                f"with flushdb_confirm={ctx.env_name}", (Plan.command("redis-cli", "flushdb"),))


async def run_flush(ctx: StepContext) -> AsyncIterator[StepOutput]:
    if ctx.values.get("flushdb_confirm") != ctx.env_name:
        raise StepFailed(f"FLUSHDB drops every key: type the environment's name "
                         f"(--set flushdb_confirm={ctx.env_name}) to allow it; nothing was "
                         "deleted")
    redis = ctx.redis()
    keys = int(await redis.dbsize())
    used = int((await redis.info("memory")).get("used_memory", 0))
    yield f"before: {keys} keys, {_mb(used)}"
    ctx.note(f"FLUSHDB of {keys} keys ({_mb(used)}) confirmed by typing {ctx.env_name}",
             keys=keys, used_memory=used)
    yield f"FLUSHDB -> {await (await ctx.mutations.redis(risk='destructive')).command('FLUSHDB')}"
    yield f"after: {int(await redis.dbsize())} keys"


WIZARD = Wizard(
    id="troubleshoot-redis", title="Troubleshoot Redis performance",
    section="Troubleshooting › Redis Performance Issues",
    when="Slow cache or memory alarms: stats, slow log, the key patterns holding the "
         "memory; delete one pattern (SCAN + UNLINK), FLUSHDB only typed.",
    steps=(
        diagnosis_step("stats", "Memory, hit rate, evictions", "redis-cli info: memory "
                       "against maxmemory, hit rate, evictions, keys.", diagnose=stats_findings,
                       commands=lambda ctx: [Plan.command("redis-cli", "info", "memory"),
                                             Plan.command("redis-cli", "info", "stats")]),
        Step("slowlog", "Slow log", "redis-cli slowlog get 10.", Risk.READ, plan_slowlog,
             run_slowlog),
        replace(diagnosis_step("key-patterns", "Which keys hold the memory", "SCAN in pages, "
                               "keys grouped by pattern, memory from a MEMORY USAGE sample, "
                               "keys without TTL.", diagnose=pattern_findings,
                               commands=lambda ctx: [Plan.command("redis-cli", "--bigkeys"),
                                                     Plan.command("redis-cli", "--scan")],
                               timeout=300),
                inputs=(REMEDY, PATTERN, BATCH, FLUSH_CONFIRM)),
        Step("unlink-pattern", "Delete the pattern's keys", "SCAN + UNLINK in batches: the "
             "culprit goes, the working set stays.", Risk.CHANGE, plan_unlink, run_unlink,
             verify=verify_unlink, applies=chosen("unlink-pattern"), timeout=600),
        Step("flushdb", "FLUSHDB (every key)", "The runbook's last resort: every key of the "
             "database, the live cache too; the environment's name must be typed.",
             Risk.DESTRUCTIVE, plan_flush, run_flush, applies=chosen("flushdb")),
        after_step(("cache",)),
    ),
)
