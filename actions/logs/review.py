"""Counting log lines by the runbook's filters, streamed: memory stays bounded.

:class:`Review` takes one line at a time and keeps, per filter, counters only: per hour,
per pod, per normalised message (numbers, addresses and ids replaced, at most
:data:`MAX_MESSAGES` distinct; later new ones count under "(other messages)"), and the
first :data:`SAMPLES` lines as samples. Nothing else of a line is kept, so 24 hours of
every pod cost the same few hundred kilobytes as one hour of one.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# the runbook's greps (grep -i): error; auth|unauthorized|forbidden; slow|timeout
FILTERS: dict[str, re.Pattern[str]] = {
    "errors": re.compile(r"error", re.IGNORECASE),
    "auth": re.compile(r"auth|unauthorized|forbidden", re.IGNORECASE),
    "slow": re.compile(r"slow|timeout", re.IGNORECASE),
}
TITLES = {"errors": "Errors", "auth": "Authentication failures", "slow": "Slow / timeout"}
MAX_MESSAGES = 2000
SAMPLES = 5
OTHER = "(other messages)"
STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}):\d{2}:\d{2}")
NOISE = [
    (re.compile(r"^\d{4}-\d{2}-\d{2}[ T][\d:.,]+(Z|[+-]\d{2}:?\d{2})?\s*"), ""),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b"), "<ip>"),
    (re.compile(r"\b[0-9a-f]{8,}\b"), "<id>"),
    (re.compile(r"\d+"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise(line: str) -> str:
    text = line.strip()
    for pattern, replacement in NOISE:
        text = pattern.sub(replacement, text)
    return text[:200]


def hour_of(line: str) -> str | None:
    m = STAMP.match(line)
    return f"{m.group(1)} {m.group(2)}:00" if m else None


@dataclass
class FilterCounts:
    total: int = 0
    per_hour: Counter[str] = field(default_factory=Counter)
    per_pod: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)

    def add(self, pod: str, hour: str, line: str) -> None:
        self.total += 1
        self.per_hour[hour] += 1
        self.per_pod[pod] += 1
        message = normalise(line)
        if message in self.messages or len(self.messages) < MAX_MESSAGES:
            self.messages[message] += 1
        else:
            self.messages[OTHER] += 1
        if len(self.samples) < SAMPLES:
            self.samples.append(f"{pod}: {line.strip()[:300]}")


@dataclass
class Review:
    lines: int = 0
    per_pod_lines: Counter[str] = field(default_factory=Counter)
    counts: dict[str, FilterCounts] = field(
        default_factory=lambda: {name: FilterCounts() for name in FILTERS})
    _hour: dict[str, str] = field(default_factory=dict)  # pod -> hour of its last stamp

    def add(self, pod: str, line: str) -> None:
        self.lines += 1
        self.per_pod_lines[pod] += 1
        hour = hour_of(line)
        if hour is None:  # a traceback's continuation: the hour of the line before it
            hour = self._hour.get(pod, "(no time)")
        else:
            self._hour[pod] = hour
        for name, pattern in FILTERS.items():
            if pattern.search(line):
                self.counts[name].add(pod, hour, line)
