"""``alert-high-error-rate``: built in :mod:`.service_alerts` with the wizards it shares steps with."""

from .service_alerts import HIGH_ERROR_RATE as WIZARD

__all__ = ["WIZARD"]
