"""``alert-db-connections`` — the runbook's "Database Connection Issues" alert response.

Look: the PostgreSQL pods, the connections by state and by application against
``max_connections`` (judged by ``db_connections_pct``), and the blocking chains
(``pg_blocking_pids``): who waits behind whom, and the session at the head of each chain
— the blocker, named by pid, application, state and how long its transaction is open.

Remedies, by default the one the state points at:

- ``end-blocker``: ``pg_cancel_backend`` of the chosen backend (the head of the longest
  chain by default) — enough when it runs a statement — then, confirmed separately and only
  if it still blocks, ``pg_terminate_backend`` (an idle-in-transaction session has no
  statement to cancel: only ending it releases its locks);
- ``terminate-idle``: end the idle sessions of one application (the one holding most, by
  default) that a leaking pool left open — what frees connections at once;
- ``restart``: ``kubectl rollout restart`` of the MCP server, to reset its pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from console.execution.context import StepContext
from console.execution.inputs import Input, IntInput
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.execution.writers.sql import SqlWriter
from console.health.status import Finding, Status, fmt_num

from ..library.diagnosis import diagnosis_step, judge
from .common import after_step, chosen, remedy_input, restart_step

SESSIONS_SQL = """
SELECT a.pid, coalesce(nullif(a.application_name, ''), '(none)') AS application,
       coalesce(a.state, '') AS state, coalesce(a.usename::text, '') AS usename,
       coalesce(a.datname::text, '') AS datname,
       extract(epoch FROM now() - a.xact_start)::float8 AS xact_seconds,
       extract(epoch FROM now() - a.state_change)::float8 AS state_seconds,
       left(coalesce(a.query, ''), 200) AS query, coalesce(a.wait_event_type, '') AS wait,
       pg_blocking_pids(a.pid) AS blocked_by, a.datname = current_database() AS here
FROM pg_stat_activity a
WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
"""
MAX_SQL = "SELECT current_setting('max_connections')::int"
CACHE = "alert-db-connections.sessions"


@dataclass(frozen=True)
class Session:
    pid: int
    application: str
    state: str
    user: str
    database: str
    xact_seconds: float | None
    state_seconds: float | None
    query: str
    wait: str
    blocked_by: tuple[int, ...]
    here: bool = True  # in the platform's database (chains elsewhere are not ours)

    def describe(self) -> str:
        open_for = (f", transaction open {self.xact_seconds:.0f} s"
                    if self.xact_seconds is not None else "")
        return (f"pid {self.pid} ({self.application}, {self.state or 'no state'}{open_for}): "
                f"{' '.join(self.query.split())[:120]}")


@dataclass(frozen=True)
class Chain:
    head: Session
    waiters: tuple[Session, ...]  # every session waiting on it, directly or through others


@dataclass(frozen=True)
class Activity:
    sessions: tuple[Session, ...]
    max_connections: int
    # an idle session this old is a pool's, not a request's (thresholds.idle_session_seconds)
    idle_after: float

    def by_pid(self) -> dict[int, Session]:
        return {s.pid: s for s in self.sessions}

    def chains(self) -> list[Chain]:
        """Each head of a blocking chain (blocks others, waits for no one) with all the
        sessions behind it; the longest chain first."""
        by_pid = self.by_pid()
        blocked = [s for s in self.sessions if s.blocked_by and s.here]
        heads: dict[int, set[int]] = {}
        for waiter in blocked:
            seen: set[int] = set()
            todo = list(waiter.blocked_by)
            while todo:
                pid = todo.pop()
                if pid in seen:
                    continue
                seen.add(pid)
                above = by_pid.get(pid)
                if above is None or not above.blocked_by:
                    heads.setdefault(pid, set()).add(waiter.pid)
                else:
                    todo.extend(above.blocked_by)
        out = [Chain(by_pid.get(pid) or Session(pid, "(unknown)", "", "", "", None, None, "",
                                                "", ()),
                     tuple(by_pid[w] for w in sorted(waiters) if w in by_pid))
               for pid, waiters in heads.items()]
        return sorted(out, key=lambda c: (-len(c.waiters), c.head.pid))

    def idle_by_application(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.sessions:
            if s.state == "idle" and (s.state_seconds or 0) >= self.idle_after:
                counts[s.application] = counts.get(s.application, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    @property
    def pct(self) -> float:
        # our own connection counts too: it is one of max_connections
        return 100.0 * (len(self.sessions) + 1) / self.max_connections


async def activity(ctx: StepContext, *, fresh: bool = False) -> Activity:
    if fresh or CACHE not in ctx.cache:
        pg = await ctx.postgres()
        rows = await pg.fetch(SESSIONS_SQL)
        sessions = tuple(Session(int(r["pid"]), r["application"], r["state"], r["usename"],
                                 r["datname"], r["xact_seconds"], r["state_seconds"],
                                 r["query"], r["wait"], tuple(r["blocked_by"] or ()),
                                 bool(r["here"]))
                         for r in rows)
        ctx.cache[CACHE] = Activity(sessions, int(await pg.fetchval(MAX_SQL)),
                                    ctx.env.thresholds.idle_session_seconds)
    found: Activity = ctx.cache[CACHE]
    return found


async def _activity_or_none(ctx: StepContext) -> Activity | None:
    try:
        return await activity(ctx)
    except Exception:  # noqa: BLE001 - unreachable: the diagnosis says why, nothing guessed
        return None


async def default_remedy(ctx: StepContext) -> str:
    found = await _activity_or_none(ctx)
    if found is None:
        return "none"
    if found.chains():
        return "end-blocker"
    if found.pct >= ctx.env.thresholds.db_connections_pct.warning:
        return "terminate-idle" if found.idle_by_application() else "restart"
    return "none"


async def default_pid(ctx: StepContext) -> int | None:
    found = await _activity_or_none(ctx)
    chains = found.chains() if found else []
    return chains[0].head.pid if chains else None


async def default_application(ctx: StepContext) -> str | None:
    found = await _activity_or_none(ctx)
    idle = found.idle_by_application() if found else {}
    return next(iter(idle), None)


# ---- diagnosis ------------------------------------------------------------------------
def plan_pods(ctx: StepContext) -> Plan:
    k = ctx.env.kubernetes
    return Plan("The PostgreSQL pods: Ready, restarts",
                (Plan.command("kubectl", "get", "pods", "-n", k.namespace, "-l",
                              k.database_selector),))


async def run_pods(ctx: StepContext) -> AsyncIterator[StepOutput]:
    try:
        pods = await (await ctx.kube()).pods(ctx.env.kubernetes.database_selector)
    except Exception as exc:  # noqa: BLE001 - an RDS database has no pods to show
        yield f"PostgreSQL pods not readable ({exc}); the database may not run on the cluster"
        return
    for pod in pods:
        yield (f"pod {pod.name}: {pod.waiting_reason or pod.phase}, {pod.ready}/"
               f"{pod.containers} ready, {pod.restarts} restarts")
    yield f"{len(pods)} PostgreSQL pods ({ctx.env.kubernetes.database_selector})"


async def connection_findings(ctx: StepContext) -> list[Finding]:
    found = await activity(ctx, fresh=True)
    used = len(found.sessions) + 1
    out = [judge("database", "connections", f"DB connections {used}/{found.max_connections} "
                 "=", found.pct, ctx.env.thresholds.db_connections_pct, unit="%")]
    by_state: dict[str, int] = {}
    by_app: dict[tuple[str, str], int] = {}
    for s in found.sessions:
        by_state[s.state or "(none)"] = by_state.get(s.state or "(none)", 0) + 1
        by_app[(s.application, s.state)] = by_app.get((s.application, s.state), 0) + 1
    out.append(Finding("database", "by_state", Status.HEALTHY, "by state: " + ", ".join(
        f"{n} {state}" for state, n in sorted(by_state.items(), key=lambda kv: -kv[1]))))
    for (app, state), n in sorted(by_app.items(), key=lambda kv: -kv[1])[:10]:
        share = 100.0 * n / found.max_connections
        status = Status.WARNING if share >= 25 else Status.HEALTHY
        out.append(Finding("database", f"app.{app}.{state}", status,
                           f"{n:>4} {state or '(none)'}  {app} ({share:.0f}% of "
                           "max_connections)", float(n)))
    for app, n in found.idle_by_application().items():
        out.append(Finding("database", f"idle.{app}", Status.WARNING if n >= 10 else
                           Status.HEALTHY, f"{app}: {n} sessions idle ≥ "
                           f"{fmt_num(found.idle_after)} s (a pool holding connections it "
                           "does not use)", float(n)))
    return out


async def blocking_findings(ctx: StepContext) -> list[Finding]:
    found = await activity(ctx, fresh=True)
    chains = found.chains()
    if not chains:
        return [Finding("database", "blocking", Status.HEALTHY, "no blocking chain")]
    out = []
    for chain in chains:
        out.append(Finding("database", f"blocker.{chain.head.pid}", Status.CRITICAL,
                           f"blocking pid {chain.head.pid} blocks {len(chain.waiters)} "
                           f"session(s): {chain.head.describe()}", float(len(chain.waiters))))
        for waiter in chain.waiters:
            out.append(Finding("database", f"waiter.{waiter.pid}", Status.WARNING,
                               f"  waiting behind {chain.head.pid}: {waiter.describe()}"))
    return out


# ---- remedies: one backend ------------------------------------------------------------
PID = IntInput("pid", "Backend to cancel, then terminate", minimum=1, required=False,
               default=default_pid,
               help="Default: the head of the longest blocking chain (the blocker).")


def _pid(ctx: StepContext) -> int:
    pid = ctx.values.get("pid")
    if not pid:
        raise StepFailed("no backend chosen and no blocking chain found: give --set pid=N")
    return int(pid)


async def _still_blocking(ctx: StepContext, pid: int) -> tuple[bool, int]:
    """(the backend still exists, sessions still waiting behind it)."""
    found = await activity(ctx, fresh=True)
    alive = pid in found.by_pid()
    waiting = next((len(c.waiters) for c in found.chains() if c.head.pid == pid), 0)
    return alive, waiting


def plan_cancel(ctx: StepContext) -> Plan:
    pid = ctx.values.get("pid")
    return Plan(f"Cancel the current statement of backend {pid} (its session stays); "
                "then look again whether it still blocks",
                (Plan.command("psql", "-c", SqlWriter.cancel_backend_sql(int(pid or 1))),))


async def run_cancel(ctx: StepContext) -> AsyncIterator[StepOutput]:
    pid = _pid(ctx)
    session = (await activity(ctx, fresh=True)).by_pid().get(pid)
    if session is None:
        yield f"backend {pid} is gone already: nothing to cancel"
        return
    ctx.note(f"cancelling backend {pid}: {session.describe()}", pid=pid,
             application=session.application, query=session.query)
    yield f"cancel {session.describe()}"
    sent = await (await ctx.mutations.sql()).cancel_backend(pid)
    yield f"pg_cancel_backend({pid}) -> {sent}"
    await asyncio.sleep(1.0)
    alive, waiting = await _still_blocking(ctx, pid)
    if not alive:
        yield f"backend {pid} has ended"
    elif waiting:
        yield (f"backend {pid} still blocks {waiting} session(s)"
               + (" — it is idle in transaction: no statement to cancel; terminating it "
                  "(next step) ends its transaction" if session.state.startswith("idle")
                  else ""))
    else:
        yield f"backend {pid} no longer blocks anyone: the chain has ended"


def plan_terminate(ctx: StepContext) -> Plan:
    pid = ctx.values.get("pid")
    return Plan(f"If backend {pid} still blocks: end its session (its open transaction is "
                "rolled back, its locks released)",
                (Plan.command("psql", "-c", SqlWriter.terminate_backend_sql(int(pid or 1))),))


async def run_terminate(ctx: StepContext) -> AsyncIterator[StepOutput]:
    pid = _pid(ctx)
    alive, waiting = await _still_blocking(ctx, pid)
    if not alive:
        yield f"backend {pid} is gone: nothing to terminate"
        return
    if not waiting and ctx.values.get("remedy") == "end-blocker":
        yield f"backend {pid} no longer blocks anyone: not terminated"
        return
    session = (await activity(ctx)).by_pid()[pid]
    ctx.note(f"terminating backend {pid}: {session.describe()}", pid=pid,
             application=session.application, query=session.query)
    ended = await (await ctx.mutations.sql()).terminate_backend(pid)
    yield f"pg_terminate_backend({pid}) -> {ended}"
    for _ in range(20):
        alive, waiting = await _still_blocking(ctx, pid)
        if not alive:
            break
        await asyncio.sleep(0.25)
    yield f"backend {pid} {'ended' if not alive else 'still there'}"


async def verify_chain(ctx: StepContext) -> str:
    pid = _pid(ctx)
    alive, waiting = await _still_blocking(ctx, pid)
    if waiting:
        raise StepFailed(f"backend {pid} still blocks {waiting} session(s)")
    chains = (await activity(ctx)).chains()
    for _ in range(10):  # the waiters take the lock in turn: a chain of theirs passes
        if not chains:
            break
        await asyncio.sleep(0.2)
        chains = (await activity(ctx, fresh=True)).chains()
    return (f"backend {pid} blocks no one" + (f"; other chains remain: "
            f"{', '.join(str(c.head.pid) for c in chains)}" if chains else
            "; no blocking chain left"))


# ---- remedies: a leaking pool ----------------------------------------------------------
APPLICATION = Input("application", "Application whose idle sessions to end", required=False,
                    default=default_application, max_length=64,
                    help="Default: the one holding the most sessions idle for "
                         "≥ thresholds.idle_session_seconds (default 30 s).")


def _idle_of(found: Activity, app: str) -> list[Session]:
    return [s for s in found.sessions if s.application == app and s.state == "idle"
            and (s.state_seconds or 0) >= found.idle_after]


def plan_idle(ctx: StepContext) -> Plan:
    app = ctx.values.get("application")
    idle = fmt_num(ctx.env.thresholds.idle_session_seconds)
    return Plan(f"End the sessions of application {app!r} idle for ≥ {idle} s, one "
                "pg_terminate_backend each (its pool reconnects as it needs)",
                (Plan.command("psql", "-c", "SELECT pg_terminate_backend(pid) FROM "
                              "pg_stat_activity WHERE application_name = '<app>' AND state = "
                              f"'idle' AND state_change < now() - interval '{idle} s'"),))


async def run_idle(ctx: StepContext) -> AsyncIterator[Any]:
    app = ctx.values.get("application")
    if not app:
        raise StepFailed("no application chosen and none holds idle sessions: give "
                         "--set application=NAME")
    idle = _idle_of(await activity(ctx, fresh=True), str(app))
    ctx.note(f"terminating {len(idle)} idle sessions of {app}", application=app,
             pids=[s.pid for s in idle])
    writer = await ctx.mutations.sql()
    ended = 0
    for session in idle:
        ended += bool(await writer.terminate_backend(session.pid))
    yield f"{ended} of {len(idle)} idle sessions of {app} ended"
    await asyncio.sleep(0.5)
    found = await activity(ctx, fresh=True)
    yield (f"connections now {len(found.sessions) + 1}/{found.max_connections} "
           f"({found.pct:.0f}%)")


REMEDY = remedy_input(("end-blocker", "terminate-idle", "restart"), default_remedy,
                      "Default: end-blocker when a blocking chain exists, terminate-idle when "
                      "connections are high and an application holds idle ones, else none.")

WIZARD = Wizard(
    id="alert-db-connections", title="Alert: database connection issues",
    section="Monitoring and Alerting › Alert Response › Database Connection Issues",
    when="Connection errors: PostgreSQL pods, connections by application, blocking chains; "
         "end the blocker or the leaked sessions.",
    steps=(
        Step("postgres-pods", "PostgreSQL pods", "kubectl get pods -l app=postgresql: is the "
             "database running?", Risk.READ, plan_pods, run_pods),
        diagnosis_step("connections", "Connections by state and application",
                       "pg_stat_activity against max_connections: who holds them, idle or "
                       "active.", diagnose=connection_findings,
                       commands=lambda ctx: [Plan.command(
                           "psql", "-c", "SELECT application_name, state, count(*) FROM "
                           "pg_stat_activity GROUP BY 1, 2 ORDER BY 3 DESC;")]),
        replace(diagnosis_step(
            "blocking", "Blocking chains", "pg_blocking_pids: who waits behind whom, and the "
            "session at the head of each chain.", diagnose=blocking_findings,
            commands=lambda ctx: [Plan.command(
                "psql", "-c", "SELECT pid, pg_blocking_pids(pid), state, query FROM "
                "pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0;")]),
            inputs=(REMEDY, PID, APPLICATION)),
        Step("cancel-backend", "Cancel the blocker's statement", "pg_cancel_backend: the "
             "gentle way; the session stays.", Risk.CHANGE, plan_cancel, run_cancel,
             applies=chosen("end-blocker")),
        Step("terminate-backend", "Terminate the blocker", "pg_terminate_backend, if it still "
             "blocks: its transaction is rolled back and its locks released.", Risk.CHANGE,
             plan_terminate, run_terminate, verify=verify_chain,
             applies=chosen("end-blocker")),
        Step("terminate-idle", "End a pool's idle sessions", "Sessions a leaking pool holds "
             "idle: ending them frees connections at once.", Risk.CHANGE, plan_idle, run_idle,
             applies=chosen("terminate-idle")),
        restart_step("kubectl rollout restart of the MCP server: its pool starts afresh."),
        after_step(("database",)),
    ),
)
