"""The Backups panel: latest Velero backups and S3 dumps."""

from __future__ import annotations

from .base import Panel


class BackupsPanel(Panel):
    TITLE = "Backups"
    HINT = "latest Velero backups and S3 dumps"
