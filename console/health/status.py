"""Statuses, findings and the comparisons every rule uses.

A :class:`Finding` is one figure judged against one threshold, with the sentence an operator
reads ("DB connections 84% of max_connections (168/200) ≥ 80%"). Statuses are ordered so
"worst" is ``max``; UNKNOWN (the source could not be asked) ranks above CRITICAL because
for automation an unanswered check is the most urgent thing to look at, and it is what
``mcp-ops check`` reports as UNREACHABLE with exit status 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from console.config.model import Band


class Status(IntEnum):
    HEALTHY = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3

    @property
    def label(self) -> str:
        """The word ``mcp-ops check`` prints (UNKNOWN is shown as UNREACHABLE)."""
        return "UNREACHABLE" if self is Status.UNKNOWN else self.name


def worst(statuses: Iterable[Status], default: Status = Status.HEALTHY) -> Status:
    return max(statuses, default=default)


@dataclass(frozen=True)
class Finding:
    """One judged figure. ``check`` is a stable identifier (used as a row key and in JSON);
    ``value`` is the raw figure when there is one."""

    component: str
    check: str
    status: Status
    reason: str
    value: float | None = None

    @property
    def key(self) -> str:
        return f"{self.component}.{self.check}"


def not_judged(component: str, check: str, reason: str) -> Finding:
    """A figure that exists but cannot be judged yet (no cache reads since Redis started,
    no requests in the window, one reading where a rate needs two). It stays in the list,
    so ``mcp-ops check --format json`` keeps one shape, with ``value`` null and the reason
    saying why; it is HEALTHY, because nothing is wrong — an UNKNOWN would read as
    "unreachable" (exit 3) to cron."""
    return Finding(component, check, Status.HEALTHY, reason, None)


def fmt_num(value: float, digits: int = 1) -> str:
    """84.0 -> '84', 84.25 -> '84.2': figures read like a person wrote them."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def high_is_bad(value: float, band: Band, *, inclusive_critical: bool = False) -> tuple[Status, str]:
    """Status and the comparison text for a figure where more is worse.

    DESIGN.md's bands read "< w healthy, w–c warning, > c critical" for percentages and
    "≥ c critical" for times; ``inclusive_critical`` selects the latter.
    """
    crit = value >= band.critical if inclusive_critical else value > band.critical
    if crit:
        return Status.CRITICAL, f"{'≥' if inclusive_critical else '>'} {fmt_num(band.critical)}"
    if value >= band.warning:
        return Status.WARNING, f"≥ {fmt_num(band.warning)}"
    return Status.HEALTHY, f"< {fmt_num(band.warning)}"


def low_is_bad(value: float, band: Band, *, inclusive_critical: bool = False) -> tuple[Status, str]:
    """Status and comparison for a figure where less is worse (hit rate, days left).

    DESIGN.md's Redis hit rate reads "> w healthy, c–w warning, < c critical"; the TLS
    certificate "> w healthy, ≤ w warning, ≤ c critical" (7 days left is already critical):
    ``inclusive_critical`` selects the latter.
    """
    crit = value <= band.critical if inclusive_critical else value < band.critical
    if crit:
        return Status.CRITICAL, f"{'≤' if inclusive_critical else '<'} {fmt_num(band.critical)}"
    if value <= band.warning:
        return Status.WARNING, f"≤ {fmt_num(band.warning)}"
    return Status.HEALTHY, f"> {fmt_num(band.warning)}"
