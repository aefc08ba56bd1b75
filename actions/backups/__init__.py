"""The runbook's "Backup and Recovery" section as wizards.

``backup-verification`` (read only), ``db-pitr`` (database point-in-time recovery through a
``postgres-recovery`` pod) and ``velero-restore`` (application recovery from a Velero
backup), plus :func:`velero_backup.pre_maintenance_backup_step`, the reusable "create a
pre-maintenance backup and wait for it" step of the maintenance window.

The helpers here (cluster reads and writes, pod exec with stdin, S3 dumps, Velero objects)
follow the engine's rule: reading needs only ``await ctx.kube()``, and anything that
changes the platform is built from the writer that ``ctx.mutations`` hands a granted step.
"""
