"""Health evaluation: snapshots + thresholds -> statuses with reasons in words and figures.

Shared by the dashboard (header, panels, Alerts) and ``mcp-ops check``; no Textual here.
"""

from .status import Finding, Status, worst

__all__ = ["Finding", "Status", "worst"]
