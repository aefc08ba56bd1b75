"""``alert-slow-response``: built in :mod:`.service_alerts` with the wizards it shares steps with."""

from .service_alerts import SLOW_RESPONSE as WIZARD

__all__ = ["WIZARD"]
