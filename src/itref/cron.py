"""Cron schedules as cron reads them: when a schedule last fired before a moment, and when it fires next.

A schedule is five fields, ``minute hour day-of-month month day-of-week``, each ``*``, a number, a name (``jan``..
``dec``, ``sun``..``sat``), a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n`` (from ``a`` to the end), or a
comma list of these; day-of-week 0 and 7 are both Sunday. As in cron, when both the day of the month and the day
of the week are restricted (neither field starts with ``*``), a day matches if *either* does; otherwise both must.
``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and ``@hourly`` stand for their
five fields; ``@reboot`` never fires by the clock. Times are the machine's local wall-clock time, as cron's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

NAMED = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
         "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (("minute", 0, 59, ()), ("hour", 0, 23, ()), ("day of month", 1, 31, ()),
           ("month", 1, 12, MONTH_NAMES), ("day of week", 0, 7, DAY_NAMES))
_SEARCH_DAYS = 366 * 29
"""How far back or ahead a fire time is looked for (a 29 February that is a Monday comes back within 28 years)."""


def _value(text: str, low: int, names: tuple[str, ...], what: str) -> int:
    """Return the number a field value stands for (a number or a name). Raises ValueError."""
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + low
    if not text.isdigit():
        raise ValueError(f"'{text}' is not a valid {what}")
    return int(text)


def _field(text: str, what: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """Return the values one cron field allows. Raises ValueError naming what is wrong."""
    values: set[int] = set()
    for part in text.split(","):
        body, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"'{part}': the step of a {what} must be a number above 0")
            step = int(step_text)
        if body == "*":
            first, last = low, high
        elif "-" in body:
            a, _sep, b = body.partition("-")
            first, last = _value(a, low, names, what), _value(b, low, names, what)
        else:
            first = _value(body, low, names, what)
            last = high if slash else first
        if not (low <= first <= high and low <= last <= high):
            raise ValueError(f"'{part}': a {what} goes from {low} to {high}")
        if first > last:
            raise ValueError(f"'{part}': the range of a {what} goes backwards")
        values.update(range(first, last + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed schedule: the values each field allows (days of the week 0-6, Sunday 0)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    """The day-of-month field starts with ``*``."""
    any_weekday: bool
    """The day-of-week field starts with ``*``."""
    reboot: bool = False

    @classmethod
    def parse(cls, text: str) -> CronSchedule:
        """Return the schedule ``text`` describes. Raises ValueError saying what is wrong."""
        cleaned = " ".join(str(text).split())
        if cleaned == "@reboot":
            empty: frozenset[int] = frozenset()
            return cls(cleaned, empty, empty, empty, empty, empty, True, True, reboot=True)
        fields = NAMED.get(cleaned, cleaned).split()
        if len(fields) != 5:
            raise ValueError(f"'{cleaned}' is not a cron schedule: five fields are needed, or @daily and the like")
        parsed = [_field(f, what, low, high, names) for f, (what, low, high, names) in zip(fields, _FIELDS,
                                                                                          strict=True)]
        weekdays = frozenset(d % 7 for d in parsed[4])
        return cls(cleaned, parsed[0], parsed[1], parsed[2], parsed[3], weekdays, fields[2].startswith("*"),
                   fields[4].startswith("*"))

    def runs_on(self, day: date) -> bool:
        """Return True when the schedule fires on ``day`` (at some hour)."""
        if self.reboot or day.month not in self.months:
            return False
        by_date = day.day in self.days
        by_weekday = day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return by_date and by_weekday
        return by_date or by_weekday

    def previous(self, moment: datetime) -> datetime | None:
        """Return the last time the schedule fired at or before ``moment`` (aware, local time), or None when it
        never fires by the clock (``@reboot``) or not within the last 29 years."""
        if self.reboot:
            return None
        local = _local(moment)
        for back in range(_SEARCH_DAYS):
            day = local.date() - timedelta(days=back)
            if not self.runs_on(day):
                continue
            hours = [h for h in self.hours if back or h <= local.hour]
            for hour in sorted(hours, reverse=True):
                minutes = [m for m in self.minutes if back or hour < local.hour or m <= local.minute]
                if minutes:
                    return _aware(day, hour, max(minutes))
        return None

    def next(self, moment: datetime) -> datetime | None:
        """Return the first time the schedule fires after ``moment`` (aware, local time), or None when it never
        fires by the clock (``@reboot``) or not within the next 29 years."""
        if self.reboot:
            return None
        local = _local(moment)
        for ahead in range(_SEARCH_DAYS):
            day = local.date() + timedelta(days=ahead)
            if not self.runs_on(day):
                continue
            hours = [h for h in self.hours if ahead or h >= local.hour]
            for hour in sorted(hours):
                minutes = [m for m in self.minutes if ahead or hour > local.hour or m > local.minute]
                if minutes:
                    return _aware(day, hour, min(minutes))
        return None


def _local(moment: datetime) -> datetime:
    """Return ``moment`` as local wall-clock time, to the minute (a naive moment is taken as local already)."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return local.replace(second=0, microsecond=0, tzinfo=None)


def _aware(day: date, hour: int, minute: int) -> datetime:
    """Return the local wall-clock time ``day hour:minute`` as an aware datetime."""
    return datetime(day.year, day.month, day.day, hour, minute).astimezone()


def previous_fire(schedule: str, moment: datetime) -> datetime | None:
    """Return when ``schedule`` last fired at or before ``moment`` (see :meth:`CronSchedule.previous`).
    Raises ValueError for a text that is not a schedule."""
    return CronSchedule.parse(schedule).previous(moment)


def next_fire(schedule: str, moment: datetime) -> datetime | None:
    """Return when ``schedule`` next fires after ``moment`` (see :meth:`CronSchedule.next`).
    Raises ValueError for a text that is not a schedule."""
    return CronSchedule.parse(schedule).next(moment)
