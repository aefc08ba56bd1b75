"""Text charts for the performance review: a request-rate chart over a day and the hours of
the week's peaks, each line at most 80 columns wide (an SSH terminal at 80x24).

Pure functions of (unix time, value) points, so the report file and the step's output are
the same lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from console.health.status import fmt_num

WIDTH = 80
BLOCKS = " ▁▂▃▄▅▆▇█"
Points = Sequence[tuple[float, float]]


def _label(value: float) -> str:
    if value >= 1000:
        return f"{fmt_num(value / 1000)}k"
    return fmt_num(value, 2 if value < 10 else 1)


def rate_chart(points: Points, *, start: float, end: float, columns: int = 60,
               rows: int = 6, unit: str = "req/s") -> list[str]:
    """A column chart of ``points`` between ``start`` and ``end``: one column per
    ``(end - start) / columns`` seconds (the highest value in it), ``rows`` text rows high
    with eighth-block resolution, a y axis and an hour axis (UTC). Columns without data
    stay empty, so a gap in the data shows as one."""
    if end <= start or columns < 2:
        raise ValueError("an empty time range")
    span = (end - start) / columns
    buckets: list[float | None] = [None] * columns
    for t, v in points:
        i = int((t - start) / span)
        if i == columns and t <= end:
            i = columns - 1
        if 0 <= i < columns:
            buckets[i] = v if buckets[i] is None else max(buckets[i] or 0.0, v)
    known = [b for b in buckets if b is not None]
    top = max(known, default=0.0) or 1.0
    lines = []
    for row in range(rows, 0, -1):
        cells = []
        for b in buckets:
            if b is None:
                cells.append(" ")
                continue
            eighths = round(b / top * rows * 8)
            filled = eighths - (row - 1) * 8
            cells.append(BLOCKS[max(0, min(8, filled))])
        axis = _label(top) if row == rows else (_label(0.0) if row == 1 else "")
        lines.append(f"{axis:>8} ┤{''.join(cells)}")
    # the hour axis: a tick label every quarter of the range
    ticks = [" "] * columns
    for quarter in range(0, 5):
        i = min(columns - 1, quarter * columns // 4)
        at_time = end if quarter == 4 else start + i * span
        text = datetime.fromtimestamp(at_time, UTC).strftime("%H:%M")
        at = min(i, columns - len(text))
        ticks[at:at + len(text)] = list(text)
    lines.append(f"{'':>8} └{'─' * columns}")
    lines.append(f"{'':>10}{''.join(ticks)}")
    lines.append(f"{'':>10}{unit}, UTC; highest {_label(top)} {unit}")
    return [line[:WIDTH] for line in lines]


def hourly_profile(points: Points) -> dict[int, float]:
    """The average of the points by UTC hour of day (0-23) of the hour each one closes."""
    sums: dict[int, list[float]] = {}
    for t, v in points:
        hour = datetime.fromtimestamp(t - 1, UTC).hour  # a point at 15:00 covers 14:00-15:00
        sums.setdefault(hour, []).append(v)
    return {h: sum(vs) / len(vs) for h, vs in sorted(sums.items())}


def peak_hours(profile: dict[int, float], count: int = 3) -> list[int]:
    """The ``count`` busiest hours of the day, busiest first."""
    return [h for h, _ in sorted(profile.items(), key=lambda hv: -hv[1])[:count]]


def peak_chart(profile: dict[int, float], *, unit: str = "req/s", width: int = 50) -> list[str]:
    """One bar per hour of the day (UTC), the peak hours marked."""
    if not profile:
        return []
    top = max(profile.values()) or 1.0
    peaks = set(peak_hours(profile))
    lines = []
    for hour in range(24):
        if hour not in profile:
            lines.append(f"{hour:02d}:00 {'':<{width}}  (no data)")
            continue
        value = profile[hour]
        eighths = round(value / top * width * 8)
        bar = "█" * (eighths // 8) + (BLOCKS[eighths % 8] if eighths % 8 else "")
        mark = "  ← peak" if hour in peaks else ""
        lines.append(f"{hour:02d}:00 {bar:<{width}} {_label(value):>6}{mark}")
    return [line[:WIDTH] for line in lines]
