"""Level clocks: resolve and accept deadlines, warnings at fractions of the span, provisional."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.calendar import WorkCalendar
from domain.deadlines import deadline_for, level_clock
from domain.models import ClockRequest, Term

SHANGHAI = ZoneInfo("Asia/Shanghai")
REASON_2027 = (
    "2027年放假安排尚未公布：按《全国年节及纪念日放假办法》法定节假日计算，未计调休，截止时间为暂定"
)


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


def test_deadline_for_working_days_and_seconds(cal: WorkCalendar) -> None:
    start = sh(2026, 2, 13, 10)  # Friday before 春节 2026
    assert deadline_for(cal, start, Term(working_days=2)).at == sh(2026, 2, 24, 18)
    assert deadline_for(cal, start, Term(seconds=1800)).at == sh(2026, 2, 13, 10, 30)


def test_normal_village_clock_with_warnings_at_half_and_three_quarters(cal: WorkCalendar) -> None:
    req = ClockRequest(
        start=sh(2026, 3, 9, 10),  # Monday
        resolve=Term(working_days=3),
        accept=Term(working_days=1),
        transfer_window=Term(working_days=2),
        warnings=(0.5, 0.75),
    )
    clock = level_clock(cal, req)
    assert clock.deadline.at == sh(2026, 3, 12, 18)  # Thursday close
    assert clock.accept_deadline.at == sh(2026, 3, 10, 18)
    assert clock.transfer_until.at == sh(2026, 3, 11, 18)
    # Span Monday 10:00 -> Thursday 18:00 is 80 h: 50% = +40 h, 75% = +60 h.
    assert clock.warnings == (sh(2026, 3, 11, 2), sh(2026, 3, 11, 22))
    assert not clock.deadline.provisional
    assert clock.deadline.reason is None


def test_urgent_clock_in_seconds(cal: WorkCalendar) -> None:
    req = ClockRequest(
        start=sh(2026, 2, 17, 23, 0),  # 春节 night: natural time ignores holidays
        resolve=Term(seconds=4 * 3600),
        accept=Term(seconds=30 * 60),
        transfer_window=Term(working_days=2),
        warnings=(0.5, 0.75),
    )
    clock = level_clock(cal, req)
    assert clock.deadline.at == sh(2026, 2, 18, 3)
    assert clock.accept_deadline.at == sh(2026, 2, 17, 23, 30)
    assert clock.warnings == (sh(2026, 2, 18, 1), sh(2026, 2, 18, 2))
    # 02-18 is off (春节 until 02-23): 02-24 is the first working day, 02-25 the second.
    assert clock.transfer_until.at == sh(2026, 2, 25, 18)


def test_drill_clock_warns_after_five_seconds(cal: WorkCalendar) -> None:
    req = ClockRequest(
        start=datetime(2026, 3, 9, 2, 0, 0, tzinfo=ZoneInfo("UTC")),
        resolve=Term(seconds=10),
        accept=Term(seconds=5),
        transfer_window=Term(seconds=10),
        warnings=(0.5,),
    )
    clock = level_clock(cal, req)
    assert clock.deadline.at == sh(2026, 3, 9, 10, 0, 10)
    assert clock.accept_deadline.at == sh(2026, 3, 9, 10, 0, 5)
    assert clock.warnings == (sh(2026, 3, 9, 10, 0, 5),)
    assert all(w.utcoffset() == timedelta(hours=8) for w in clock.warnings)
    assert clock.deadline.at.utcoffset() == timedelta(hours=8)


def test_clock_reaching_2027_is_provisional(cal: WorkCalendar) -> None:
    req = ClockRequest(
        start=sh(2026, 12, 30, 10),  # Wednesday
        resolve=Term(working_days=3),
        accept=Term(working_days=1),
        transfer_window=Term(working_days=2),
        warnings=(0.5,),
    )
    clock = level_clock(cal, req)
    # 12-31 Thu (1), 2027-01-01 元旦, weekend, 01-04 Mon (2), 01-05 Tue (3).
    assert clock.deadline.at == sh(2027, 1, 5, 18)
    assert clock.deadline.provisional
    assert clock.deadline.reason == REASON_2027  # once, though two parts reach 2027
    assert clock.accept_deadline.at == sh(2026, 12, 31, 18)
    assert not clock.accept_deadline.provisional
    assert clock.transfer_until.at == sh(2027, 1, 4, 18)
    assert clock.transfer_until.provisional


def test_level_deadline_is_provisional_if_only_another_part_is(cal: WorkCalendar) -> None:
    req = ClockRequest(
        start=sh(2026, 12, 31, 10),
        resolve=Term(seconds=24 * 3600),  # elapsed time: not provisional on its own
        accept=Term(working_days=1),  # 2027-01-04: provisional
        transfer_window=Term(seconds=3600),
        warnings=(),
    )
    clock = level_clock(cal, req)
    assert clock.deadline.at == sh(2027, 1, 1, 10)
    assert clock.deadline.provisional
    assert clock.deadline.reason == REASON_2027
    assert clock.accept_deadline.provisional
    assert clock.warnings == ()


def test_warning_fractions_outside_zero_one_are_refused(cal: WorkCalendar) -> None:
    req = ClockRequest(
        start=sh(2026, 3, 9, 10),
        resolve=Term(seconds=10),
        accept=Term(seconds=5),
        transfer_window=Term(seconds=10),
        warnings=(1.5,),
    )
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        level_clock(cal, req)
