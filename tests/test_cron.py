"""Cron schedules: the last and the next fire time of five-field expressions (ranges, lists, steps, names) and of
the @ shortcuts, read as cron reads them, in the machine's local time (DST included)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from itref.cron import CronSchedule, next_fire, previous_fire


@pytest.fixture(autouse=True)
def brussels(monkeypatch: pytest.MonkeyPatch):
    """Local time is Brussels (CET/CEST), as on the commune's machines."""
    monkeypatch.setenv("TZ", "Europe/Brussels")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def local(text: str) -> datetime:
    """Return the Brussels wall-clock time ``text`` as an aware datetime."""
    return datetime.fromisoformat(text).astimezone()


def wall(moment: datetime | None) -> str:
    assert moment is not None
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %a")


@pytest.mark.parametrize(("schedule", "now", "previous", "following"), [
    # the first of the month at 07:00 (the lab's monthly audit)
    ("0 7 1 * *", "2026-12-15 10:00", "2026-12-01 07:00 Tue", "2027-01-01 07:00 Fri"),
    ("0 7 1 * *", "2026-12-01 06:59", "2026-11-01 07:00 Sun", "2026-12-01 07:00 Tue"),
    ("0 7 1 * *", "2026-12-01 07:00", "2026-12-01 07:00 Tue", "2027-01-01 07:00 Fri"),
    # weekdays by number and by name, a range
    ("0 8 * * 1-5", "2026-12-06 12:00", "2026-12-04 08:00 Fri", "2026-12-07 08:00 Mon"),
    ("0 8 * * mon-fri", "2026-12-06 12:00", "2026-12-04 08:00 Fri", "2026-12-07 08:00 Mon"),
    ("30 18 * * FRI", "2026-12-04 18:29", "2026-11-27 18:30 Fri", "2026-12-04 18:30 Fri"),
    # lists and steps
    ("0 9 1 1,4,7,10 *", "2026-12-03 09:00", "2026-10-01 09:00 Thu", "2027-01-01 09:00 Fri"),
    ("*/15 * * * *", "2026-12-03 10:07", "2026-12-03 10:00 Thu", "2026-12-03 10:15 Thu"),
    ("5-50/20 3 * * *", "2026-12-03 03:44", "2026-12-03 03:25 Thu", "2026-12-03 03:45 Thu"),
    ("10-59/20 * * * *", "2026-12-03 10:09", "2026-12-03 09:50 Thu", "2026-12-03 10:10 Thu"),
    ("0 0,12 * jan,jul *", "2026-12-03 10:00", "2026-07-31 12:00 Fri", "2027-01-01 00:00 Fri"),
    # Sunday is 0 and 7
    ("0 6 * * 7", "2026-12-03 10:00", "2026-11-29 06:00 Sun", "2026-12-06 06:00 Sun"),
    ("0 6 * * 0", "2026-12-03 10:00", "2026-11-29 06:00 Sun", "2026-12-06 06:00 Sun"),
    # both day fields restricted: either matches (the 13th, or any Friday)
    ("0 12 13 * 5", "2026-12-10 00:00", "2026-12-04 12:00 Fri", "2026-12-11 12:00 Fri"),
    ("0 12 13 * 5", "2026-12-13 13:00", "2026-12-13 12:00 Sun", "2026-12-18 12:00 Fri"),
    # day of month starting with '*' (a step): both must match
    ("0 12 */2 * 5", "2026-12-10 00:00", "2026-11-27 12:00 Fri", "2026-12-11 12:00 Fri"),
    # the @ shortcuts
    ("@daily", "2026-12-03 10:00", "2026-12-03 00:00 Thu", "2026-12-04 00:00 Fri"),
    ("@midnight", "2026-12-03 00:00", "2026-12-03 00:00 Thu", "2026-12-04 00:00 Fri"),
    ("@hourly", "2026-12-03 10:30", "2026-12-03 10:00 Thu", "2026-12-03 11:00 Thu"),
    ("@weekly", "2026-12-03 10:00", "2026-11-29 00:00 Sun", "2026-12-06 00:00 Sun"),
    ("@monthly", "2026-12-03 10:00", "2026-12-01 00:00 Tue", "2027-01-01 00:00 Fri"),
    ("@yearly", "2026-12-03 10:00", "2026-01-01 00:00 Thu", "2027-01-01 00:00 Fri"),
    ("@annually", "2026-12-03 10:00", "2026-01-01 00:00 Thu", "2027-01-01 00:00 Fri"),
    # a 29 February comes back every four years
    ("0 0 29 feb *", "2026-12-03 10:00", "2024-02-29 00:00 Thu", "2028-02-29 00:00 Tue"),
])
def test_previous_and_next_fire_times(schedule: str, now: str, previous: str, following: str) -> None:
    assert wall(previous_fire(schedule, local(now))) == previous
    assert wall(next_fire(schedule, local(now))) == following


def test_fire_times_are_local_wall_clock_times_across_a_dst_change() -> None:
    # 29 March 2026: Brussels moves from CET (UTC+1) to CEST (UTC+2) at 02:00.
    before, after = previous_fire("0 7 * * *", local("2026-03-30 08:00")), previous_fire("0 7 * * *",
                                                                                          local("2026-03-28 08:00"))
    assert before is not None and after is not None
    assert before.astimezone(UTC).hour == 5 and after.astimezone(UTC).hour == 6  # 07:00 local both days
    assert wall(previous_fire("0 7 * * *", datetime(2026, 3, 30, 4, 0, tzinfo=UTC))) == "2026-03-29 07:00 Sun"


def test_a_moment_in_another_time_zone_is_read_in_local_time() -> None:
    # 06:30 UTC on 1 December is 07:30 in Brussels: the 07:00 job already fired that day.
    assert wall(previous_fire("0 7 1 * *", datetime(2026, 12, 1, 6, 30, tzinfo=UTC))) == "2026-12-01 07:00 Tue"


def test_reboot_never_fires_by_the_clock_and_an_impossible_date_never_fires() -> None:
    assert previous_fire("@reboot", local("2026-12-03 10:00")) is None
    assert next_fire("@reboot", local("2026-12-03 10:00")) is None
    assert previous_fire("0 0 31 2 *", local("2026-12-03 10:00")) is None


@pytest.mark.parametrize(("text", "reason"), [
    ("every monday", "five fields"),
    ("0 7 * *", "five fields"),
    ("60 * * * *", "60 is not between 0 and 59"),
    ("0 24 * * *", "24 is not between 0 and 23"),
    ("0 0 0 * *", "0 is not between 1 and 31"),
    ("0 0 * 13 *", "13 is not between 1 and 12"),
    ("0 0 * * 8", "8 is not between 0 and 7"),
    ("0 0 * * funday", "neither a number from 0 to 7 nor a name"),
    ("*/0 * * * *", "at least 1"),
    ("0 5-2 * * *", "backwards"),
    ("0 x * * *", "in the hour field"),
    ("10/20 * * * *", "a step needs '\\*' or a range"),  # cron takes a step only after '*' or a range
    ("@fortnightly", "the @ schedules are"),
])
def test_a_wrong_schedule_says_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        CronSchedule.parse(text)

