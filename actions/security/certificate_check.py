"""The ``certificate-check`` wizard — the guide's "Certificate Management", done right.

1. *Look* (read): a real TLS handshake with ``service.tls_host`` — the certificate clients
   are given, verified as a browser would — and the cert-manager Certificate's status and
   conditions. Findings: days left (``thresholds.certificate_days``: 30 warning, 7
   critical), a verification failure, ``Ready=False``, an overdue automatic renewal, and a
   host serving something other than what cert-manager last issued.
2. *Renew* (change): the way ``cmctl renew`` does — an ``Issuing=True`` condition
   (reason ``ManuallyTriggered``) written to the Certificate's status — then followed until
   cert-manager has issued a new ``notAfter`` and the certificate is Ready again. The
   runbook's ``kubectl annotate certificate ... cert-manager.io/issue-temporary-certificate``
   does not renew anything: that annotation only asks for a temporary self-signed
   certificate while a *first* certificate is being issued.
3. *Verify* (read): a new handshake must show the new ``notAfter`` — the renewal is done
   when clients see it, not when the status says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from console.collectors.kube_parse import parse_time
from console.execution.context import StepContext
from console.execution.inputs import BoolInput
from console.execution.kube.ops import PatchObject
from console.execution.model import Plan, Progress, Risk, Step, StepFailed, StepOutput, Wizard
from console.health.status import Finding, Status

from ..library import diagnosis_step, judge, kube_plan
from .tls import Served, handshake

C = "certificate"
SERVED = "certificate.served"  # ctx.cache: the Served of the first look
ISSUING = {"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
           "message": "Certificate re-issuance manually triggered"}


def _name(ctx: StepContext) -> str:
    return ctx.env.kubernetes.certificate


def _ns(ctx: StepContext) -> str:
    return ctx.env.kubernetes.namespace


async def look(ctx: StepContext) -> Served | None:
    """One handshake with the configured host (None when ``tls_host`` is not set)."""
    svc = ctx.env.service
    if not svc.tls_host:
        return None
    return await handshake(svc.tls_host, server_name=svc.tls_server_name,
                           ca_file=svc.tls_ca_file, timeout=max(svc.timeout, 5.0))


def served_findings(ctx: StepContext, served: Served) -> list[Finding]:
    days = round(served.days_left(), 1)
    out = [judge(C, "served.days", f"certificate served by {served.server_name} expires in",
                 days, ctx.env.thresholds.certificate_days, unit=" days", low_is_worse=True,
                 inclusive_critical=True)]
    if days <= 0:
        out[0] = Finding(C, "served.days", Status.CRITICAL,
                         f"certificate served by {served.server_name} expired "
                         f"{served.not_after:%Y-%m-%d %H:%M}Z", days)
    if not served.verified:
        out.append(Finding(C, "served.verify", Status.CRITICAL,
                           f"clients refuse the certificate of {served.server_name}: "
                           f"{served.verify_error}"))
    return out


def status_findings(ctx: StepContext, cert: dict[str, Any] | None,
                    served: Served | None) -> list[Finding]:
    name = _name(ctx)
    if cert is None:
        return [Finding(C, "resource", Status.UNKNOWN,
                        f"no cert-manager Certificate {name} in {_ns(ctx)}")]
    status = cert.get("status") or {}
    out: list[Finding] = []
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready") or {}
    if ready.get("status") != "True":
        out.append(Finding(C, "ready", Status.CRITICAL,
                           f"Certificate {name} Ready={ready.get('status', 'Unknown')} "
                           f"({ready.get('reason', '')}: {ready.get('message', '')})"))
    else:
        out.append(Finding(C, "ready", Status.HEALTHY, f"Certificate {name} Ready=True"))
    if (issuing := conditions.get("Issuing")) and issuing.get("status") == "True":
        out.append(Finding(C, "issuing", Status.WARNING,
                           f"Certificate {name} is being issued: {issuing.get('message', '')}"))
    renewal = parse_time(status.get("renewalTime"))
    now = datetime.now(UTC)
    if renewal is not None and renewal < now:
        hours = (now - renewal).total_seconds() / 3600
        out.append(Finding(C, "renewal", Status.WARNING,
                           f"automatic renewal of {name} overdue by {hours / 24:.0f} days "
                           f"(renewalTime {status.get('renewalTime')}): the issuer is failing"))
    not_after = parse_time(status.get("notAfter"))
    if served is not None and not_after is not None and \
            abs((served.not_after - not_after).total_seconds()) > 1:
        out.append(Finding(C, "served.matches", Status.WARNING,
                           f"the host serves a certificate ending {served.not_after:%Y-%m-%d}, "
                           f"cert-manager's revision {status.get('revision')} ends "
                           f"{not_after:%Y-%m-%d}: the ingress has not loaded the secret"))
    return out


async def diagnose(ctx: StepContext) -> list[Finding]:
    found: list[Finding] = []
    served: Served | None = None
    try:
        served = await look(ctx)
    except (OSError, TimeoutError) as exc:
        found.append(Finding(C, "served", Status.CRITICAL,
                             f"no TLS handshake with {ctx.env.service.tls_host}: {exc}"))
    if served is None and not ctx.env.service.tls_host:
        found.append(Finding(C, "served", Status.WARNING,
                             "service.tls_host is not set: the certificate clients are "
                             "given is not checked"))
    if served is not None:
        ctx.cache[SERVED] = served
        ctx.note("served certificate", address=served.address, subject=served.subject,
                 issuer=served.issuer, serial=f"{served.serial:x}",
                 not_after=served.not_after.isoformat(), verified=served.verified)
        found += served_findings(ctx, served)
    reader = await ctx.kube()
    cert = await reader.raw("Certificate", _name(ctx))
    found += status_findings(ctx, cert, served)
    return found


def look_commands(ctx: StepContext) -> list[str]:
    svc = ctx.env.service
    host = svc.tls_host or "<service.tls_host>"
    s_client = ["openssl", "s_client", "-connect", host,
                "-servername", svc.tls_server_name or host.rsplit(":", 1)[0]]
    if svc.tls_ca_file:
        s_client += ["-CAfile", svc.tls_ca_file]
    return [f"echo | {Plan.command(*s_client)} 2>/dev/null | openssl x509 -noout -dates "
            "-subject -issuer",
            Plan.command("kubectl", "describe", "certificate", _name(ctx), "-n", _ns(ctx))]


# ---- 2. renew ---------------------------------------------------------------------------
def renew_op(cert: dict[str, Any] | None, ctx: StepContext) -> PatchObject:
    conditions = [c for c in ((cert or {}).get("status") or {}).get("conditions") or []
                  if c.get("type") != "Issuing"]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return PatchObject("Certificate", _name(ctx), _ns(ctx),
                       {"status": {"conditions": [*conditions,
                                                  {**ISSUING, "lastTransitionTime": stamp}]}},
                       patch_type="merge", subresource="status")


def plan_renew(ctx: StepContext) -> Plan:
    return kube_plan(
        ctx, f"Ask cert-manager to re-issue {_name(ctx)} as `cmctl renew` does: an "
             "Issuing=True condition on its status; then follow it until a new notAfter is "
             "issued and it is Ready",
        [renew_op(None, ctx)],
        Plan.command("cmctl", "renew", _name(ctx), "-n", _ns(ctx)),
        Plan.command("kubectl", "wait", f"certificate/{_name(ctx)}", "-n", _ns(ctx),
                     "--for=condition=Ready", "--timeout=120s"))


async def run_renew(ctx: StepContext) -> AsyncIterator[StepOutput]:
    reader = await ctx.kube()
    cert = await reader.raw("Certificate", _name(ctx))
    if cert is None:
        raise StepFailed(f"no Certificate {_name(ctx)} in {_ns(ctx)}")
    before = cert.get("status") or {}
    ctx.cache["certificate.before"] = before
    ctx.note("certificate before renewal", not_after=before.get("notAfter"),
             revision=before.get("revision"))
    writer = await ctx.mutations.kube()
    yield await writer.apply(renew_op(cert, ctx))
    yield Progress(0, None, "waiting for cert-manager to issue")
    async for obj in reader.watch_object("Certificate", _name(ctx), timeout=120):
        status = obj.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        issuing = (conditions.get("Issuing") or {}).get("status") == "True"
        ready = (conditions.get("Ready") or {}).get("status") == "True"
        if status.get("notAfter") != before.get("notAfter") and ready and not issuing:
            yield (f"issued: revision {before.get('revision')} -> {status.get('revision')}, "
                   f"notAfter {before.get('notAfter')} -> {status.get('notAfter')}")
            ctx.cache["certificate.after"] = status
            ctx.note("certificate renewed", not_after=status.get("notAfter"),
                     revision=status.get("revision"))
            return
        failed = conditions.get("Issuing") or {}
        if failed.get("status") == "False":
            raise StepFailed(f"cert-manager could not issue: {failed.get('reason')}: "
                             f"{failed.get('message')}")
    raise StepFailed("cert-manager issued nothing within 120 s (kubectl describe certificate "
                     f"{_name(ctx)}: look at its events and the CertificateRequest)")


# ---- 3. verify over TLS ---------------------------------------------------------------
def plan_verify(ctx: StepContext) -> Plan:
    return Plan("A new TLS handshake must present the new certificate (the ingress reloads "
                "the secret; up to 60 s allowed)", tuple(look_commands(ctx)[:1]))


async def run_verify(ctx: StepContext) -> AsyncIterator[StepOutput]:
    import asyncio

    if not ctx.env.service.tls_host:
        raise StepFailed("service.tls_host is not set: nothing to verify over TLS")
    before: Served | None = ctx.cache.get(SERVED)
    after_status = ctx.cache.get("certificate.after") or {}
    expected = parse_time(after_status.get("notAfter"))
    served: Served | None = None
    for attempt in range(30):
        served = await look(ctx)
        assert served is not None
        renewed = (expected is not None
                   and abs((served.not_after - expected).total_seconds()) <= 1) or \
                  (expected is None and before is not None and served.not_after > before.not_after)
        if renewed:
            break
        yield Progress(attempt + 1, 30, "waiting for the host to present the new certificate")
        await asyncio.sleep(2)
    assert served is not None
    yield f"served now: {served.describe()}"
    for finding in served_findings(ctx, served):
        yield f"{finding.status.label:<11} {finding.reason}"
    ctx.note("served certificate after renewal", not_after=served.not_after.isoformat(),
             serial=f"{served.serial:x}", verified=served.verified)
    if before is not None:
        yield (f"expiry seen over TLS: {before.not_after:%Y-%m-%d %H:%M}Z "
               f"({before.days_left():.0f} days) -> {served.not_after:%Y-%m-%d %H:%M}Z "
               f"({served.days_left():.0f} days)")
    if expected is not None and abs((served.not_after - expected).total_seconds()) > 1:
        raise StepFailed(f"the host still serves a certificate ending "
                         f"{served.not_after:%Y-%m-%d %H:%M}Z, not the renewed one "
                         f"({after_status.get('notAfter')})")
    if not served.verified:
        raise StepFailed(f"clients refuse the new certificate: {served.verify_error}")


RENEW = BoolInput("renew", "Renew the certificate now", default="yes",
                  help="no: look only (the renewal steps are skipped)")

WIZARD = Wizard(
    id="certificate-check",
    title="TLS certificate check and renewal",
    section="Security Operations › Certificate Management",
    when="Certificate close to expiry: check dates, ask cert-manager to renew, verify.",
    steps=(
        diagnosis_step(
            "look", "The certificate clients see, and cert-manager's",
            "A real TLS handshake with the service host (service.tls_host), verified as a "
            "client would, gives the dates clients actually see; the cert-manager "
            "Certificate's status says what was issued and whether renewal works. Ready=False, "
            "an overdue renewal, or a host serving another certificate than the issued one "
            "are findings; days left are judged by thresholds.certificate_days.",
            diagnose=diagnose, commands=look_commands,
            summary="TLS handshake with the service host, then the Certificate's status"),
        Step("renew", "Renew as cmctl renew does",
             "cert-manager re-issues when the Certificate's status carries an Issuing=True "
             "condition — what `cmctl renew` writes. The runbook's annotation "
             "cert-manager.io/issue-temporary-certificate does not renew: it only asks for a "
             "temporary certificate while a first one is issued, so the old certificate would "
             "stay. The step follows the Certificate until a new notAfter is issued.",
             Risk.CHANGE, plan_renew, run_renew, inputs=(RENEW,),
             applies=lambda values: bool(values.get("renew", True)), timeout=150),
        Step("verify-tls", "Verify over TLS",
             "The renewal is done when clients see it: a new handshake must present the "
             "certificate with the new notAfter, and verify.",
             Risk.READ, plan_verify, run_verify,
             applies=lambda values: bool(values.get("renew", True)), timeout=90),
    ))
