"""One module per dashboard panel."""

from .alerts import AlertsPanel
from .backups import BackupsPanel
from .base import Panel
from .cache import CachePanel
from .database import DatabasePanel
from .pods import PodsPanel
from .service import ServicePanel

__all__ = ["AlertsPanel", "BackupsPanel", "CachePanel", "DatabasePanel", "Panel", "PodsPanel",
           "ServicePanel"]
