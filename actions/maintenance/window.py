"""The maintenance window: ``maintenance.window`` parsed, shown, and enforced.

The guide's window is "2nd Sunday, 2-6 AM EST". "EST" is careless: from March to November
New York is on EDT (UTC-4), and a window written as EST would start an hour late all
summer. The config names a time zone instead (``2nd Sunday 02:00-06:00
America/New_York``), and the window is computed in it, daylight saving included.

Format: ``<1st|2nd|3rd|4th|last> <weekday> HH:MM-HH:MM <IANA time zone>``; an end at or
before the start means the next day. Starting the wizard outside the window is allowed —
an emergency does not wait for a Sunday — but needs the environment's name typed (the
kernel's typed confirmation), with the next window named in the prompt.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from console.execution.context import StepContext
from console.execution.model import Plan, Risk, Step, StepFailed, StepOutput

ORDINALS = {"1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3, "4th": 4,
            "fourth": 4, "last": -1}
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}
PATTERN = re.compile(r"^\s*(?P<ord>\w+)\s+(?P<day>[A-Za-z]+)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*"
                     r"(?P<end>\d{1,2}:\d{2})\s+(?P<tz>[A-Za-z_+\-/0-9]+)\s*$")


class WindowError(ValueError):
    """``maintenance.window`` cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Window:
    ordinal: int  # 1..4, or -1 for the last
    weekday: int  # Monday = 0
    start: time
    end: time
    zone: ZoneInfo
    text: str

    def day_in(self, year: int, month: int) -> date:
        days = [d for d in calendar.Calendar().itermonthdates(year, month)
                if d.month == month and d.weekday() == self.weekday]
        return days[-1] if self.ordinal == -1 else days[self.ordinal - 1]

    def occurrence(self, year: int, month: int) -> tuple[datetime, datetime]:
        day = self.day_in(year, month)
        begin = datetime.combine(day, self.start, self.zone)
        finish = datetime.combine(day + timedelta(days=1) if self.end <= self.start else day,
                                  self.end, self.zone)
        return begin, finish

    def current_or_next(self, now: datetime) -> tuple[datetime, datetime, bool]:
        """The window ``now`` is in (True), or the next one (False)."""
        local = now.astimezone(self.zone)
        year, month = local.year, local.month
        for _ in range(3):
            # last month's window may run past midnight into this month
            for y, m in ((year, month - 1) if month > 1 else (year - 1, 12), (year, month)):
                begin, finish = self.occurrence(y, m)
                if begin <= now < finish:
                    return begin, finish, True
                if begin > now:
                    return begin, finish, False
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        raise AssertionError("no window in three months")  # pragma: no cover

    def describe(self, now: datetime) -> str:
        begin, finish, inside = self.current_or_next(now)
        span = (f"{begin:%a %Y-%m-%d %H:%M}-{finish:%H:%M} {begin:%Z} "
                f"({begin.astimezone(UTC):%Y-%m-%d %H:%M}-{finish.astimezone(UTC):%H:%M} UTC)")
        if inside:
            left = finish - now
            return f"inside the maintenance window {span}, {_duration(left)} left"
        return f"outside the maintenance window; the next one is {span}, in {_duration(begin - now)}"


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{days}d " if days else "") + f"{hours}h{minutes:02d}m"


def _clock(text: str) -> time:
    hours, minutes = (int(p) for p in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise WindowError(f"{text!r} is not a time of day")
    return time(0, 0) if hours == 24 else time(hours, minutes)


def parse_window(text: str) -> Window:
    match = PATTERN.match(text)
    if not match:
        raise WindowError(f"maintenance.window {text!r}: expected e.g. '2nd Sunday "
                          "02:00-06:00 America/New_York' (ordinal, weekday, HH:MM-HH:MM, "
                          "IANA time zone)")
    ordinal = ORDINALS.get(match["ord"].lower())
    weekday = WEEKDAYS.get(match["day"].lower())
    if ordinal is None:
        raise WindowError(f"maintenance.window {text!r}: {match['ord']!r} is not one of "
                          "1st, 2nd, 3rd, 4th, last")
    if weekday is None:
        raise WindowError(f"maintenance.window {text!r}: {match['day']!r} is not a weekday")
    if "/" not in match["tz"] and match["tz"].upper() not in ("UTC", "GMT"):
        # EST, EDT, PST...: fixed offsets that ignore daylight saving (the runbook's "EST"
        # is New York time, which is EDT half the year)
        raise WindowError(f"maintenance.window {text!r}: {match['tz']!r} is an abbreviation "
                          "with a fixed offset; name the place's zone (America/New_York)")
    try:
        zone = ZoneInfo(match["tz"])
    except (ZoneInfoNotFoundError, ValueError):
        raise WindowError(f"maintenance.window {text!r}: {match['tz']!r} is not an IANA time "
                          "zone (America/New_York, not EST: EST has no daylight saving)") from None
    start, end = _clock(match["start"]), _clock(match["end"])
    if start == end:
        raise WindowError(f"maintenance.window {text!r}: the window is empty")
    return Window(ordinal, weekday, start, end, zone, text.strip())


def now(ctx: StepContext) -> datetime:
    return datetime.now(UTC)


def window(ctx: StepContext) -> Window:
    return parse_window(ctx.env.maintenance.window)


def outside_reason(ctx: StepContext) -> str | None:
    """The typed confirmation's reason when now is outside the window (a window that
    cannot be read needs it too: nobody can say the time is right). Read-only: none, as
    nothing can change."""
    if ctx.read_only:
        return None
    try:
        w = window(ctx)
    except WindowError as err:
        return f"the maintenance window cannot be read ({err})"
    at = now(ctx)
    _, _, inside = w.current_or_next(at)
    return None if inside else f"starting {w.describe(at)}"


def plan_window(ctx: StepContext) -> Plan:
    try:
        described = window(ctx).describe(now(ctx))
    except WindowError as err:
        described = str(err)
    return Plan(f"Maintenance window {ctx.env.maintenance.window!r}: now {described}. "
                "Outside it, the environment's name must be typed to start.",
                (Plan.command("date", "-u"),
                 Plan.command("env", f"TZ={ctx.env.maintenance.window.split()[-1]}", "date")))


async def run_window(ctx: StepContext) -> AsyncIterator[StepOutput]:
    try:
        w = window(ctx)
    except WindowError as err:
        raise StepFailed(str(err)) from None
    at = now(ctx)
    begin, finish, inside = w.current_or_next(at)
    yield f"window: {w.text}"
    yield f"now: {at.astimezone(w.zone):%a %Y-%m-%d %H:%M %Z} ({at.astimezone(UTC):%H:%M} UTC)"
    yield w.describe(at)
    if not inside and ctx.read_only:
        yield "read-only: nothing will be changed, so no confirmation is asked"
    elif not inside:
        ctx.note(f"maintenance started outside its window (next {begin.isoformat()}), "
                 f"confirmed by {ctx.operator.user}", outside_window=True,
                 next_window=begin.isoformat())
        yield f"started outside the window, confirmed by {ctx.operator.user} (name typed)"
    ctx.cache["maintenance.window"] = (begin, finish, inside)


def window_step() -> Step:
    return Step(
        "window", "Maintenance window",
        "Monthly maintenance window (2nd Sunday, 2-6 AM in New York). The runbook says "
        "'EST', which is wrong half the year (EDT from March to November); the window is "
        "computed in its IANA time zone. Starting outside it needs the environment's name "
        "typed.",
        Risk.READ, plan_window, run_window, typed_confirmation=outside_reason, timeout=30)
