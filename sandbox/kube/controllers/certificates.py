"""cert-manager Certificates (cert-manager.io/v1): validity, renewal, expiry.

The certificate wizard checks ``status.notAfter`` against the 30/7-day thresholds and
renews the way ``cmctl renew`` does: an ``Issuing=True`` condition written to the status
triggers a re-issue: new ``notBefore``/``notAfter``/``renewalTime``, ``revision`` + 1,
Ready=True, the Issuing condition removed. The runbook's ``kubectl annotate certificate
production-tls cert-manager.io/issue-temporary-certificate="true"`` does nothing here, as
it does nothing on a real cert-manager (that annotation asks for a temporary self-signed
certificate while the first one is issued; it never renews). Certificates also renew by
themselves at ``renewalTime``, unless chaos has broken their issuer, in which case they run
towards ``notAfter`` and then turn Ready=False with reason Expired.
"""

from __future__ import annotations

from ..store import Obj
from .base import Controller, Key, parse_time, set_condition
from .chaos import state as chaos_state

TRIGGER = "cert-manager.io/issue-temporary-certificate"  # the runbook's; renews nothing
DAY = 86400.0
ISSUING = {"type": "Issuing", "status": "True", "reason": "ManuallyTriggered",
           "message": "Certificate re-issuance manually triggered"}  # as cmctl renew writes


def _duration(text: str | None, default: float) -> float:
    if not text:
        return default
    total, number = 0.0, ""
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        else:
            total += float(number or 0) * {"h": 3600, "m": 60, "s": 1}.get(ch, 0)
            number = ""
    return total or default


def _windows(cert: Obj) -> tuple[float, float]:
    spec = cert.get("spec") or {}
    return _duration(spec.get("duration"), 90 * DAY), _duration(spec.get("renewBefore"), 30 * DAY)


def issued_status(cert: Obj, issued_at: float, clock, *, revision: int) -> Obj:
    """Status of a certificate freshly issued at ``issued_at``."""
    duration, renew_before = _windows(cert)
    ts = clock.timestamp()
    conds = set_condition((cert.get("status") or {}).get("conditions") or [], "Ready", "True",
                          "Ready", "Certificate is up to date and has not expired", ts)
    conds = [c for c in conds if c.get("type") != "Issuing"]
    for c in conds:
        c["observedGeneration"] = cert["metadata"].get("generation", 1)
    return {
        "conditions": conds,
        "notBefore": clock.timestamp(issued_at),
        "notAfter": clock.timestamp(issued_at + duration),
        "renewalTime": clock.timestamp(issued_at + duration - renew_before),
        "revision": revision,
    }


def set_expiry(cluster, namespace: str, name: str, days: float) -> None:
    """Move a certificate's ``notAfter`` to ``days`` from now (chaos)."""
    clock = cluster.clock

    def move(cert: Obj) -> None:
        _, renew_before = _windows(cert)
        status = cert.setdefault("status", {})
        not_after = clock.now() + days * DAY
        status["notAfter"] = clock.timestamp(not_after)
        status["renewalTime"] = clock.timestamp(not_after - renew_before)

    cluster.store.mutate("certificates.cert-manager.io", namespace, name, move)


class CertificateController(Controller):
    primary = "certificates.cert-manager.io"
    component = "cert-manager-certificates-trigger"

    def sync(self, key: Key) -> None:
        cert = self.store.peek(self.primary, *key)
        if cert is None:
            return
        status = cert.get("status") or {}
        issuing = any(c.get("type") == "Issuing" and c.get("status") == "True"
                      for c in status.get("conditions") or [])
        now = self.clock.now()
        not_after = parse_time(status.get("notAfter"))
        renewal = parse_time(status.get("renewalTime"))
        broken = key in chaos_state(self.cluster).broken_certificates
        manual = issuing
        due = not_after is None or (renewal is not None and now >= renewal and not broken)
        if manual or due:
            self._issue(key, cert, manual=manual)
            return
        if not_after is not None and now >= not_after:
            conds = set_condition(status.get("conditions") or [], "Ready", "False", "Expired",
                                  f"Certificate expired on {status.get('notAfter')}", self.now())
            self.write_status(self.primary, key, {**status, "conditions": conds})
            return
        wake = min(t for t in (not_after, renewal if not broken else None, now + 3600)
                   if t is not None)
        self.requeue(key, max(1.0, wake - now))

    def _issue(self, key: Key, cert: Obj, *, manual: bool) -> None:
        chaos_state(self.cluster).broken_certificates.discard(key)
        revision = int((cert.get("status") or {}).get("revision") or 0) + 1
        status = issued_status(cert, self.clock.now(), self.clock, revision=revision)

        def reissue(obj: Obj) -> None:
            obj["status"] = status

        self.mutate(self.primary, key, reissue)
        self.event(cert, "Normal", "Issuing",
                   "Renewing certificate as renewal was manually triggered" if manual else
                   "Renewing certificate as renewal time has passed")
        self.event(cert, "Normal", "Issuing", "The certificate has been successfully issued")
