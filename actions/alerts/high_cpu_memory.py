"""``alert-high-cpu-memory``: built in :mod:`.resources` with the wizards it shares steps with."""

from .resources import HIGH_CPU_MEMORY as WIZARD

__all__ = ["WIZARD"]
