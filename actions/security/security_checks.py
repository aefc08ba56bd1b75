"""The ``security-checks`` wizard — the guide's "Daily Security Checks", read only.

1. *Failed authentication* — the last 24 h of **every** application pod's log (the
   runbook's ``kubectl logs deployment/...`` reads one pod of the Deployment only), the
   failed authentications counted (``authentication failed``, HTTP 401, ``unauthorized``),
   and the client addresses they came from: the runbook's ``grep -E <IPv4> | sort | uniq
   -c`` counts whole lines — every line is unique by its timestamp, so every count is 1 —
   here the address is extracted and counted. The total and each top address are judged by
   ``thresholds.failed_auth_24h`` / ``failed_auth_per_address_24h``.
2. *Falco* — Falco is a DaemonSet (one pod per node), so the runbook's ``kubectl logs
   deployment/falco`` fails with "not found"; its pods are found through the DaemonSet's
   selector and each one's 24 h read. Alerts are counted by priority: ``Warning`` judged by
   ``falco_warnings_24h``, ``Error`` and above by ``falco_severe_24h``, with their rules;
   any ``Critical`` (or ``Alert``, ``Emergency``) alert is CRITICAL whatever the count.
3. *Verdict* — the worst finding decides; CRITICAL fails the run (exit status 1 for cron).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import AsyncIterator

from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status, worst

from ..library import diagnosis_step, findings, judge

DAY = 86400
FAILED_AUTH = re.compile(r"authentication failed|\b401\b|unauthori[sz]ed", re.IGNORECASE)
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
FALCO = re.compile(r"^\S+: (Emergency|Alert|Critical|Error|Warning|Notice|Informational|"
                   r"Debug) (.+?)(?: \(|$)")
SEVERE = ("Emergency", "Alert", "Critical", "Error")  # the first three: always CRITICAL
TOP = 10


def address(line: str) -> str | None:
    """The first IP address in a log line (IPv4; a version string or a port is not one)."""
    for match in IPV4.finditer(line):
        try:
            return str(ipaddress.ip_address(match.group(0)))
        except ValueError:
            continue
    return None


# ---- 1. failed authentication -------------------------------------------------------
async def auth_findings(ctx: StepContext) -> list[Finding]:
    k = ctx.env.kubernetes
    reader = await ctx.kube()
    pods = await reader.pods()
    total, per_pod = 0, Counter[str]()
    by_address = Counter[str]()
    for pod in pods:
        async for line in reader.stream_log(pod.name, k.container, since_seconds=DAY):
            if FAILED_AUTH.search(line):
                total += 1
                per_pod[pod.name] += 1
                if (ip := address(line)) is not None:
                    by_address[ip] += 1
    ctx.cache["security.auth"] = {"total": total, "by_address": dict(by_address),
                                  "pods": len(pods)}
    t = ctx.env.thresholds
    out = [judge("security", "failed_auth", f"failed authentications in 24 h over "
                                            f"{len(pods)} pods", total, t.failed_auth_24h)]
    for ip, count in by_address.most_common(TOP):
        out.append(judge("security", f"address.{ip}", f"failed authentications from {ip}",
                         count, t.failed_auth_per_address_24h))
    ctx.note("failed authentication, last 24 h", total=total,
             top=[[ip, n] for ip, n in by_address.most_common(TOP)],
             per_pod=dict(per_pod))
    return out


def auth_commands(ctx: StepContext) -> list[str]:
    k = ctx.env.kubernetes
    return [Plan.command("kubectl", "logs", "-n", k.namespace, "-l", k.app_selector,
                         "-c", k.container, "--since=24h", "--prefix", "--tail=-1",
                         "--max-log-requests=50")
            + " | grep -iE 'authentication failed|\\b401\\b|unauthorized'"
              " | grep -oE '([0-9]{1,3}\\.){3}[0-9]{1,3}' | sort | uniq -c | sort -nr"
              f" | head -{TOP}"]


# ---- 2. Falco ---------------------------------------------------------------------------
async def falco_pods(ctx: StepContext) -> list[str]:
    k = ctx.env.kubernetes
    reader = await ctx.kube()
    ds = await reader.raw("DaemonSet", k.falco_workload, namespace=k.security_namespace)
    if ds is None:
        return []
    labels = ((ds.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{key}={value}" for key, value in labels.items())
    items = await reader.raw_list("Pod", selector=selector, namespace=k.security_namespace)
    return sorted(p["metadata"]["name"] for p in items)


async def falco_findings(ctx: StepContext) -> list[Finding]:
    k = ctx.env.kubernetes
    reader = await ctx.kube()
    names = await falco_pods(ctx)
    if not names:
        return [Finding("security", "falco", Status.WARNING,
                        f"no Falco DaemonSet {k.security_namespace}/{k.falco_workload} "
                        "or no pods: nothing watches the containers")]
    priorities = Counter[str]()
    severe_rules = Counter[str]()
    warning_rules = Counter[str]()
    for name in names:
        async for line in reader.stream_log(name, since_seconds=DAY,
                                            namespace=k.security_namespace):
            match = FALCO.match(line)
            if not match:
                continue
            priority, rule = match.groups()
            priorities[priority] += 1
            if priority in SEVERE:
                severe_rules[f"{priority} {rule}"] += 1
            elif priority == "Warning":
                warning_rules[rule] += 1
    t = ctx.env.thresholds
    severe = sum(priorities[p] for p in SEVERE)
    ctx.note("Falco alerts, last 24 h", pods=names, priorities=dict(priorities),
             severe=dict(severe_rules.most_common(TOP)))
    out = [judge("security", "falco.severe",
                 f"Falco alerts of priority Error or above in 24 h on {len(names)} nodes",
                 severe, t.falco_severe_24h),
           judge("security", "falco.warnings", "Falco Warning alerts in 24 h",
                 priorities["Warning"], t.falco_warnings_24h)]
    gravest = sum(priorities[p] for p in SEVERE[:3])
    if gravest:  # a Critical (Alert, Emergency) alert is an incident, whatever the count
        out[0] = Finding("security", "falco.severe", Status.CRITICAL,
                         f"{out[0].reason}; {gravest} of priority Critical or above", severe)
    for rule, count in severe_rules.most_common(TOP):
        status = Status.CRITICAL if rule.split(" ", 1)[0] in SEVERE[:3] else out[0].status
        out.append(Finding("security", f"falco.rule.{rule}", status,
                           f"Falco: {count} x {rule}", count))
    for rule, count in warning_rules.most_common(3):
        out.append(Finding("security", f"falco.rule.{rule}", Status.HEALTHY,
                           f"Falco: {count} x Warning {rule}", count))
    return out


def falco_commands(ctx: StepContext) -> list[str]:
    k = ctx.env.kubernetes
    return [Plan.command("kubectl", "logs", "-n", k.security_namespace,
                         f"daemonset/{k.falco_workload}", "--since=24h", "--all-pods=true",
                         "--prefix")
            + " | grep -E ': (Emergency|Alert|Critical|Error|Warning) '"]


# ---- 3. verdict -----------------------------------------------------------------------
def plan_verdict(ctx: StepContext) -> Plan:
    return Plan("The worst finding decides; CRITICAL fails the check (exit status 1)")


async def run_verdict(ctx: StepContext) -> AsyncIterator[StepOutput]:
    found = findings(ctx, "auth-failures") + findings(ctx, "falco")
    overall = worst(f.status for f in found) if found else Status.UNKNOWN
    bad = [f for f in found if f.status >= Status.WARNING]
    for f in bad:
        yield f"{f.status.label:<11} {f.reason}"
    yield f"security checks: {overall.label} ({len(bad)} findings need attention)"
    if overall >= Status.CRITICAL:
        raise StepFailed("; ".join(f.reason for f in found if f.status >= Status.CRITICAL))


WIZARD = Wizard(
    id="security-checks",
    title="Daily security checks",
    section="Security Operations › Daily Security Checks",
    when="Daily: failed logins, unusual source addresses, Falco alerts.",
    steps=(
        diagnosis_step(
            "auth-failures", "Failed authentication and where it comes from",
            "Every application pod's last 24 h (kubectl logs deployment/... reads one pod): "
            "failed authentications counted, and the client address of each extracted and "
            "counted — the runbook's `grep -E <IPv4> | sort | uniq -c` counts whole lines, "
            "which are all different, so it ranks nothing. Judged by "
            "thresholds.failed_auth_24h and failed_auth_per_address_24h.",
            diagnose=auth_findings, commands=auth_commands, timeout=300,
            summary="Read 24 h of every application pod's log; count failed "
                    "authentications and their client addresses"),
        diagnosis_step(
            "falco", "Falco alerts",
            "Falco runs as a DaemonSet, one pod per node: `kubectl logs deployment/falco` "
            "fails (there is no such Deployment), and `kubectl logs daemonset/falco` reads "
            "one pod. Every Falco pod's 24 h is read and its alerts counted by priority; "
            "Error and above are judged by thresholds.falco_severe_24h, Warning by "
            "falco_warnings_24h.",
            diagnose=falco_findings, commands=falco_commands, timeout=300,
            summary="Read 24 h of every Falco pod's log; count alerts by priority and rule"),
        Step("verdict", "Verdict",
             "The worst finding decides; a CRITICAL one fails the run, so a daily cron job "
             "exits 1 and someone looks.", Risk.READ, plan_verdict, run_verdict),
    ))
