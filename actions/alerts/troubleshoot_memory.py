"""``troubleshoot-memory``: built in :mod:`.resources` with the wizards it shares steps with."""

from .resources import TROUBLESHOOT_MEMORY as WIZARD

__all__ = ["WIZARD"]
