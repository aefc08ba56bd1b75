"""The runbook's "Alert Response Procedures" and "Troubleshooting" as wizards.

Diagnosis first — read steps whose findings name the culprit (pod, backend, key pattern)
— then remedies, as change steps chosen by one ``remedy`` input whose default is what the
diagnosis points at (read from the live state before anything runs), so ``--read-only``
shows the diagnosis and stops at the remedy it would apply (exit 2), and a real run
applies it and checks the platform after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.execution.model import Wizard


def wizards() -> list[Wizard]:
    """Every wizard of the family, for the catalogue's ``_built()``."""
    from . import (
        db_connections,
        high_cpu_memory,
        high_error_rate,
        service_down,
        slow_response,
        troubleshoot_connection_pool,
        troubleshoot_memory,
        troubleshoot_redis,
    )

    return [m.WIZARD for m in (service_down, high_error_rate, db_connections, high_cpu_memory,
                               slow_response, troubleshoot_memory,
                               troubleshoot_connection_pool, troubleshoot_redis)]
