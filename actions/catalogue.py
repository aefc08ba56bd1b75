"""The wizard catalogue: every procedure of the operations guide, by a fixed id.

The ids are fixed so that each wizard family (a separate issue) fills its own entries of the
same list. An entry not built yet is still listed — as "planned", with its guide section
and the risk it will have — and refuses to run with a message pointing at the guide.
To add a built wizard: write ``actions/<family>.py`` exposing a ``WIZARD`` (or several),
and put it in ``BUILT`` below in place of its planned entry.
"""

from __future__ import annotations

from console.execution.model import Risk, Wizard

# (id, title, guide section, when to use it, highest risk once built)
PLANNED: tuple[tuple[str, str, str, str, Risk], ...] = (
    ("morning-health-check", "Morning health check", "Daily Operations › Morning Health Checks",
     "Every morning, and after any change: is everything HEALTHY?", Risk.READ),
    ("log-review", "Daily log review", "Daily Operations › Log Review",
     "Daily: errors, authentication failures and slow queries of the last 24 h.", Risk.READ),
    ("backup-verification", "Backup verification",
     "Backup and Recovery › Daily Backup Verification",
     "Daily: are the Velero backups and database dumps there, recent and complete?", Risk.READ),
    ("db-pitr", "Database point-in-time recovery",
     "Backup and Recovery › Database Point-in-Time Recovery",
     "Data was lost or corrupted: restore the database from a backup.", Risk.DESTRUCTIVE),
    ("velero-restore", "Application recovery from a Velero backup",
     "Backup and Recovery › Application Recovery from Backup",
     "Kubernetes objects were lost or broken: restore them from a Velero backup.",
     Risk.DESTRUCTIVE),
    ("dr-failover", "Disaster recovery failover", "Backup and Recovery › Disaster Recovery Scenarios",
     "The region is down: activate the DR environment, promote the replica, move DNS.",
     Risk.DESTRUCTIVE),
    ("scaling", "Scale the MCP server", "Scaling Operations",
     "Traffic rises or falls: change replicas, HPA bounds and target, read replicas.",
     Risk.CHANGE),
    ("maintenance-window", "Monthly maintenance window", "Maintenance Windows",
     "2nd Sunday 02:00-06:00: backup, scale up, node updates, app update, DB maintenance.",
     Risk.DESTRUCTIVE),
    ("performance-review", "Weekly performance review",
     "Performance Optimization › Regular Performance Reviews",
     "Weekly: traffic, slow queries, cache efficiency; tune indexes, limits and HPA.",
     Risk.CHANGE),
    ("service-outage", "Complete service outage", "Emergency Procedures › Service Outage Response",
     "The service is down for everyone: assess, divert traffic, find the cause, recover.",
     Risk.DESTRUCTIVE),
    ("security-incident", "Suspected security breach",
     "Emergency Procedures › Security Incident Response",
     "A breach is suspected: contain, collect evidence, notify the security team.",
     Risk.DESTRUCTIVE),
    ("alert-service-down", "Alert: service down",
     "Monitoring and Alerting › Alert Response › Service Down",
     "The service-down alert fired: pods, recent rollouts, logs, restart.", Risk.CHANGE),
    ("alert-high-error-rate", "Alert: high error rate (> 5 %)",
     "Monitoring and Alerting › Alert Response › High Error Rate",
     "The error-rate alert fired: error distribution, database and dependencies.", Risk.READ),
    ("alert-db-connections", "Alert: database connection issues",
     "Monitoring and Alerting › Alert Response › Database Connection Issues",
     "Connection errors: PostgreSQL pods, pool usage, blocking queries.", Risk.READ),
    ("alert-high-cpu-memory", "Alert: high CPU / memory",
     "Monitoring and Alerting › Alert Response › High CPU/Memory Usage",
     "Resource alert: usage per pod, auto-scaling, limits.", Risk.READ),
    ("alert-slow-response", "Alert: slow response times",
     "Monitoring and Alerting › Alert Response › Slow Response Times",
     "Latency alert: application timing and the slowest queries.", Risk.READ),
    ("troubleshoot-memory", "Troubleshoot high memory usage",
     "Troubleshooting › High Memory Usage",
     "Pods OOMKilled or slow: find the leak, raise limits or restart.", Risk.CHANGE),
    ("troubleshoot-connection-pool", "Troubleshoot connection-pool exhaustion",
     "Troubleshooting › Database Connection Pool Exhaustion",
     "\"too many connections\": see who holds them, raise the limit or restart.", Risk.CHANGE),
    ("troubleshoot-redis", "Troubleshoot Redis performance", "Troubleshooting › Redis Performance Issues",
     "Slow cache: stats and slow log; clear keys or raise limits.", Risk.DESTRUCTIVE),
    ("security-checks", "Daily security checks", "Security Operations › Daily Security Checks",
     "Daily: failed logins, unusual source addresses, Falco alerts.", Risk.READ),
    ("certificate-check", "TLS certificate check and renewal",
     "Security Operations › Certificate Management",
     "Certificate close to expiry: check dates, ask cert-manager to renew, verify.",
     Risk.CHANGE),
    ("access-review", "Monthly access review", "Security Operations › Access Control Review",
     "Monthly: service accounts, RBAC permissions, unused secrets.", Risk.READ),
)

CATALOGUE_IDS: tuple[str, ...] = tuple(entry[0] for entry in PLANNED)


def _built() -> dict[str, Wizard]:
    from . import morning_health_check, scaling
    from .backups import backup_verification, db_pitr, velero_restore

    wizards = [morning_health_check.WIZARD, scaling.WIZARD, backup_verification.WIZARD,
               db_pitr.WIZARD, velero_restore.WIZARD]
    return {w.id: w for w in wizards}


def catalogue() -> list[Wizard]:
    """Every wizard in the guide's order: built ones, and planned placeholders."""
    built = _built()
    unknown = set(built) - set(CATALOGUE_IDS)
    if unknown:
        raise RuntimeError(f"built wizards not in the catalogue: {sorted(unknown)}")
    result = []
    for wid, title, section, when, risk in PLANNED:
        result.append(built.get(wid) or Wizard(
            id=wid, title=title, section=section, when=when, planned_risk=risk,
            issue="planned in its wizard-family issue"))
    return result


def get(wizard_id: str) -> Wizard:
    for wizard in catalogue():
        if wizard.id == wizard_id:
            return wizard
    raise KeyError(f"no wizard {wizard_id!r}; known: {', '.join(CATALOGUE_IDS)}")
