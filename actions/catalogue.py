"""The wizard catalogue: every procedure of the operations guide, by a fixed id.

Each wizard is described in one place only. A built wizard carries its own id, title,
section and "when" in its module's ``WIZARD``, and its risk is the highest of its steps';
:data:`PLANNED` describes only the ids not built yet, with the risk they will have. The
guide's order is :data:`CATALOGUE_IDS`, ids only. A planned entry is still listed and
refuses to run with a message pointing at the guide.

To add a built wizard: write ``actions/<family>.py`` exposing a ``WIZARD`` (or several),
add it to :func:`_built` and delete its entry from :data:`PLANNED`; :func:`catalogue`
refuses an id that is both, or neither.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.errors import McpOpsError
from console.execution.model import Risk, Wizard

# the guide's order
CATALOGUE_IDS: tuple[str, ...] = (
    "morning-health-check", "log-review", "backup-verification", "db-pitr", "velero-restore",
    "dr-failover", "scaling", "maintenance-window", "performance-review", "service-outage",
    "security-incident", "alert-service-down", "alert-high-error-rate", "alert-db-connections",
    "alert-high-cpu-memory", "alert-slow-response", "troubleshoot-memory",
    "troubleshoot-connection-pool", "troubleshoot-redis", "security-checks",
    "certificate-check", "access-review",
)


@dataclass(frozen=True)
class Planned:
    """A wizard not built yet: what the catalogue shows for it until it is."""

    title: str
    section: str
    when: str
    risk: Risk  # the highest risk it will have once built

    def wizard(self, wizard_id: str) -> Wizard:
        return Wizard(id=wizard_id, title=self.title, section=self.section, when=self.when,
                      planned_risk=self.risk, issue="planned in its wizard-family issue")


PLANNED: dict[str, Planned] = {
}


class UnknownWizard(McpOpsError, KeyError):
    """No wizard has this id (a KeyError too, for callers that catch that)."""

    title = "Unknown wizard"


class WizardNotBuilt(McpOpsError):
    """The id is in the catalogue but its wizard is planned, not built."""

    title = "Wizard not built yet"


def _built() -> dict[str, Wizard]:
    from . import (
        dr_failover,
        maintenance,
        morning_health_check,
        outage,
        performance_review,
        scaling,
    )
    from .backups import backup_verification, db_pitr, velero_restore
    from .security import access_review, certificate_check, incident, security_checks

    wizards = [morning_health_check.WIZARD, scaling.WIZARD, backup_verification.WIZARD,
               db_pitr.WIZARD, velero_restore.WIZARD, performance_review.WIZARD,
               dr_failover.WIZARD, certificate_check.WIZARD, security_checks.WIZARD,
               incident.WIZARD, outage.WIZARD, access_review.WIZARD, maintenance.WIZARD]
    from . import log_review
    from .alerts import wizards as alert_wizards

    wizards += [log_review.WIZARD, *alert_wizards()]
    return {w.id: w for w in wizards}


def problems(built: dict[str, Wizard]) -> list[str]:
    """Why the catalogue's sources disagree (empty when they do not)."""
    found = []
    order = set(CATALOGUE_IDS)
    if len(order) != len(CATALOGUE_IDS):
        found.append("an id is listed twice in CATALOGUE_IDS")
    if both := sorted(set(built) & set(PLANNED)):
        found.append(f"both built and planned (delete the planned entry): {both}")
    if stray := sorted((set(built) | set(PLANNED)) - order):
        found.append(f"not in CATALOGUE_IDS: {stray}")
    if missing := sorted(order - set(built) - set(PLANNED)):
        found.append(f"neither built nor planned: {missing}")
    for wizard_id, wizard in built.items():
        if not wizard.built:
            found.append(f"{wizard_id}: listed as built but has no steps")
    return found


def catalogue() -> list[Wizard]:
    """Every wizard in the guide's order: built ones, and planned placeholders."""
    built = _built()
    if found := problems(built):
        raise RuntimeError("the wizard catalogue disagrees with itself: " + "; ".join(found))
    return [built[wid] if wid in built else PLANNED[wid].wizard(wid) for wid in CATALOGUE_IDS]


def get(wizard_id: str) -> Wizard:
    for wizard in catalogue():
        if wizard.id == wizard_id:
            return wizard
    raise UnknownWizard(f"no wizard {wizard_id!r}; known: {', '.join(CATALOGUE_IDS)}")


def runnable(wizard_id: str) -> Wizard:
    """The built wizard with this id; :class:`UnknownWizard` or :class:`WizardNotBuilt`."""
    wizard = get(wizard_id)
    if not wizard.built:
        raise WizardNotBuilt(wizard.not_built_message())
    return wizard
