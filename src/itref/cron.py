"""Cron schedules as cron reads them: when a schedule last fired before a moment, and when it fires next.

A schedule is five fields, ``minute hour day-of-month month day-of-week``, each ``*``, a number, a name (``jan``..
``dec``, ``sun``..``sat``), a range ``a-b``, a step ``*/n`` or ``a-b/n``, or a comma list of these; day-of-week 0
and 7 are both Sunday. As in cron, when both the day of the month and the day of the week are restricted (neither
field starts with ``*``), a day matches if *either* does; otherwise both must.
``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily`` (``@midnight``) and ``@hourly`` stand for their
five fields; ``@reboot`` never fires by the clock. Times are the machine's local wall-clock time, as cron's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from itref.i18n import N_, _

NAMED = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
         "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
SPECIALS = ("@reboot", *NAMED)
"""The ``@`` schedules cron knows."""
MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (  # what cron reads in each of the five fields: name for people, lowest, highest, names
    (N_("minute"), 0, 59, ()),
    (N_("hour"), 0, 23, ()),
    (N_("day of the month"), 1, 31, ()),
    (N_("month"), 1, 12, MONTH_NAMES),
    (N_("day of the week"), 0, 7, DAY_NAMES),
)
_SEARCH_DAYS = 366 * 29
"""How far back or ahead a fire time is looked for (a 29 February that is a Monday comes back within 28 years)."""


class CronError(ValueError):
    """A text is not a schedule cron would run; the message says why, for a person."""


def _value(word: str, low: int, high: int, names: tuple[str, ...]) -> int:
    """Return the number a field value stands for (a number or a name). Raises CronError (the reason only)."""
    if word.isdigit():
        if low <= int(word) <= high:
            return int(word)
        raise CronError(_("{value} is not between {low} and {high}").format(value=word, low=low, high=high))
    if word.lower() in names:
        return names.index(word.lower()) + low
    if names:
        raise CronError(_("'{word}' is neither a number from {low} to {high} nor a name ({names})").format(
            word=word, low=low, high=high, names=", ".join(names)))
    raise CronError(_("'{word}' is not a number from {low} to {high}").format(word=word, low=low, high=high))


def _item(item: str, low: int, high: int, names: tuple[str, ...]) -> range:
    """Return the values one comma-separated item of a field allows. Raises CronError (the reason only)."""
    span, slash, step_text = item.partition("/")
    if slash and not (step_text.isdigit() and int(step_text) >= 1):
        raise CronError(_("the step after '/' must be a whole number of at least 1, not '{step}'").format(
            step=step_text))
    step = int(step_text) if slash else 1
    if span == "*":
        return range(low, high + 1, step)
    first_text, dash, last_text = span.partition("-")
    first = _value(first_text, low, high, names)
    if not dash:
        if slash:  # cron takes a step only after '*' or a range
            raise CronError(_("a step needs '*' or a range before '/' (e.g. */{step} or 0-30/{step})").format(
                step=step_text))
        return range(first, first + 1)
    last = _value(last_text, low, high, names)
    if first > last:
        raise CronError(_("the range {span} goes backwards").format(span=span))
    return range(first, last + 1, step)


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
        """Return the schedule ``text`` describes.

        Raises CronError (a ValueError) saying, for a person, what cron would not take: five fields (minute
        0-59, hour 0-23, day of the month 1-31, month 1-12 or jan-dec, day of the week 0-7 or sun-sat), each a
        list of ``*``, a value or a range ``A-B`` (A at most B), ``*`` or a range optionally followed by
        ``/STEP`` (STEP at least 1); or one of :data:`SPECIALS`.
        """
        cleaned = " ".join(str(text).split())
        if cleaned == "@reboot":
            empty: frozenset[int] = frozenset()
            return cls(cleaned, empty, empty, empty, empty, empty, True, True, reboot=True)
        if cleaned.startswith("@") and cleaned not in NAMED:
            raise CronError(_("'{text}' is not a cron schedule: the @ schedules are {known}").format(
                text=cleaned, known=", ".join(SPECIALS)))
        fields = NAMED.get(cleaned, cleaned).split()
        if len(fields) != 5:
            raise CronError(_("'{text}' is not a cron schedule: write five fields (minute hour day month weekday) "
                              "such as '0 7 * * 1', or @daily").format(text=cleaned))
        parsed: list[frozenset[int]] = []
        for field, (what, low, high, names) in zip(fields, _FIELDS, strict=True):
            values: set[int] = set()
            for item in field.split(","):
                try:
                    values.update(_item(item, low, high, names))
                except CronError as exc:
                    raise CronError(_("'{text}' is not a cron schedule: in the {field} field ('{part}'), "
                                      "{problem}").format(text=cleaned, field=_(what), part=field,
                                                          problem=exc)) from None
            parsed.append(frozenset(values))
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
