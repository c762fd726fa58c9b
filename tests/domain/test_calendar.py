"""The statutory work calendar: real 2025/2026 schedules, 民法典 art. 201, provisional years.

Every expected date below was worked out by hand from the State Council's published schedules
(国务院办公厅关于2025年、2026年部分节假日安排的通知), not computed by the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest

from domain.calendar import WorkCalendar, YearSchedule, parse_schedule_toml

SHANGHAI = ZoneInfo("Asia/Shanghai")
REASON_2027 = (
    "2027年放假安排尚未公布：按《全国年节及纪念日放假办法》法定节假日计算，未计调休，截止时间为暂定"
)

# The 调休 make-up working days (weekend days worked), from the State Council's notices.
MAKEUP_2025 = [
    date(2025, 1, 26),
    date(2025, 2, 8),
    date(2025, 4, 27),
    date(2025, 9, 28),
    date(2025, 10, 11),
]
MAKEUP_2026 = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar()


# ---- the package's data is what we think it is --------------------------------------------------


@pytest.mark.parametrize(("year", "expected"), [(2025, MAKEUP_2025), (2026, MAKEUP_2026)])
def test_package_lists_the_published_makeup_workdays(year: int, expected: list[date]) -> None:
    china = holidays.China(years=year)
    assert sorted(d for d in china.weekend_workdays if d.year == year) == expected


@pytest.mark.parametrize("day", MAKEUP_2025 + MAKEUP_2026)
def test_makeup_weekend_days_are_working_days(cal: WorkCalendar, day: date) -> None:
    assert day.weekday() >= 5  # each is a Saturday or Sunday
    assert cal.is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2025, 1, 28),  # 除夕 (statutory from 2025)
        date(2025, 2, 3),  # 春节 调休 Monday
        date(2025, 2, 4),
        date(2025, 5, 5),  # 五一 调休 Monday
        date(2025, 10, 8),  # 国庆 + 中秋, last day off
        date(2026, 1, 2),  # 元旦 调休 Friday
        date(2026, 2, 16),  # 除夕
        date(2026, 2, 23),  # 春节 last day off, a Monday
        date(2026, 5, 5),  # 五一 调休 Tuesday
        date(2026, 10, 7),  # 国庆 last day off
    ],
)
def test_days_off_on_weekdays_are_not_working_days(cal: WorkCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert not cal.is_working_day(day)


def test_ordinary_weekend_is_not_a_working_day(cal: WorkCalendar) -> None:
    assert not cal.is_working_day(date(2026, 3, 7))  # Saturday
    assert not cal.is_working_day(date(2026, 3, 8))  # Sunday
    assert cal.is_working_day(date(2026, 3, 9))  # Monday


def test_years_with_published_schedules_are_official(cal: WorkCalendar) -> None:
    assert cal.is_official(2025)
    assert cal.is_official(2026)
    assert not cal.is_official(2027)


# ---- 民法典 art. 201: the start day is not counted; close of office on the last day -------------


def test_start_day_is_not_counted_even_before_office_hours(cal: WorkCalendar) -> None:
    deadline = cal.add_working_days(sh(2026, 3, 9, 8), 1)  # Monday 08:00
    assert deadline.at == sh(2026, 3, 10, 18)  # Tuesday close, not Monday's
    assert not deadline.provisional
    assert deadline.reason is None


def test_start_just_before_midnight_counts_from_the_next_day(cal: WorkCalendar) -> None:
    assert cal.add_working_days(sh(2026, 3, 9, 23, 59), 1).at == sh(2026, 3, 10, 18)
    assert cal.add_working_days(sh(2026, 3, 10, 0, 0), 1).at == sh(2026, 3, 11, 18)


def test_start_given_in_utc_counts_from_its_shanghai_date(cal: WorkCalendar) -> None:
    # 16:30 UTC on Monday is 00:30 on Tuesday in Shanghai, so Tuesday is the uncounted day.
    start = datetime(2026, 3, 9, 16, 30, tzinfo=ZoneInfo("UTC"))
    deadline = cal.add_working_days(start, 1)
    assert deadline.at == sh(2026, 3, 11, 18)
    assert deadline.at.isoformat() == "2026-03-11T18:00:00+08:00"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, sh(2026, 3, 9, 18)),  # Monday
        (3, sh(2026, 3, 11, 18)),  # Wednesday
        (5, sh(2026, 3, 13, 18)),  # Friday
        (7, sh(2026, 3, 17, 18)),  # Tuesday of the week after
    ],
)
def test_friday_start_skips_the_weekend(cal: WorkCalendar, n: int, expected: datetime) -> None:
    assert cal.add_working_days(sh(2026, 3, 6, 10), n).at == expected  # Friday 2026-03-06


def test_deadline_is_at_18_00_shanghai(cal: WorkCalendar) -> None:
    at = cal.add_working_days(sh(2026, 3, 6, 10), 1).at
    assert (at.hour, at.minute, at.second) == (18, 0, 0)
    assert at.utcoffset() == timedelta(hours=8)


def test_custom_office_close() -> None:
    cal = WorkCalendar(office_close=time(17, 30))
    assert cal.add_working_days(sh(2026, 3, 6, 10), 1).at == sh(2026, 3, 9, 17, 30)


def test_zero_working_days_is_close_of_the_start_day_when_working(cal: WorkCalendar) -> None:
    assert cal.add_working_days(sh(2026, 3, 9, 10), 0).at == sh(2026, 3, 9, 18)
    assert cal.add_working_days(sh(2026, 2, 14, 10), 0).at == sh(2026, 2, 14, 18)  # make-up Sat


def test_zero_working_days_on_a_day_off_is_close_of_the_next_working_day(
    cal: WorkCalendar,
) -> None:
    assert cal.add_working_days(sh(2026, 3, 7, 10), 0).at == sh(2026, 3, 9, 18)  # Sat -> Mon
    assert cal.add_working_days(sh(2026, 2, 18, 10), 0).at == sh(2026, 2, 24, 18)  # 春节


def test_negative_working_days_and_naive_starts_are_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_days(sh(2026, 3, 9, 10), -1)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_days(datetime(2026, 3, 9, 10), 1)


# ---- 2026 around the holidays -------------------------------------------------------------------


def test_2025_new_year_eve_into_2026_makeup_sunday(cal: WorkCalendar) -> None:
    # 01-01 holiday, 01-02 off (调休), 01-03 Saturday, 01-04 Sunday make-up day.
    assert cal.add_working_days(sh(2025, 12, 31, 10), 1).at == sh(2026, 1, 4, 18)


def test_2026_spring_festival_friday_start_lands_on_makeup_saturday(cal: WorkCalendar) -> None:
    start = sh(2026, 2, 13, 10)  # Friday before 春节
    assert cal.add_working_days(start, 1).at == sh(2026, 2, 14, 18)  # make-up Saturday
    assert cal.add_working_days(start, 2).at == sh(2026, 2, 24, 18)  # after 02-15..02-23 off
    assert cal.add_working_days(start, 3).at == sh(2026, 2, 25, 18)


def test_2026_spring_festival_start_during_the_holiday(cal: WorkCalendar) -> None:
    start = sh(2026, 2, 18, 10)  # 正月初二
    assert cal.add_working_days(start, 1).at == sh(2026, 2, 24, 18)
    # 02-24 Tue, 25, 26, 27 Fri, then the make-up Saturday 02-28.
    assert cal.add_working_days(start, 5).at == sh(2026, 2, 28, 18)


def test_2026_labour_day(cal: WorkCalendar) -> None:
    start = sh(2026, 4, 30, 15)  # Thursday; 05-01..05-05 off
    assert cal.add_working_days(start, 1).at == sh(2026, 5, 6, 18)
    assert cal.add_working_days(start, 3).at == sh(2026, 5, 8, 18)
    assert cal.add_working_days(start, 4).at == sh(2026, 5, 9, 18)  # make-up Saturday


def test_2026_national_day(cal: WorkCalendar) -> None:
    assert cal.add_working_days(sh(2026, 9, 18, 10), 1).at == sh(2026, 9, 20, 18)  # make-up Sun
    start = sh(2026, 9, 30, 10)  # Wednesday; 10-01..10-07 off
    assert cal.add_working_days(start, 1).at == sh(2026, 10, 8, 18)
    assert cal.add_working_days(start, 3).at == sh(2026, 10, 10, 18)  # make-up Saturday


# ---- 2025 around the holidays -------------------------------------------------------------------


def test_2025_spring_festival(cal: WorkCalendar) -> None:
    start = sh(2025, 1, 24, 16)  # Friday
    assert cal.add_working_days(start, 1).at == sh(2025, 1, 26, 18)  # make-up Sunday
    assert cal.add_working_days(start, 2).at == sh(2025, 1, 27, 18)
    assert cal.add_working_days(start, 3).at == sh(2025, 2, 5, 18)  # after 01-28..02-04 off
    # From Monday 01-27: 02-05, 06, 07, then the make-up Saturday 02-08.
    assert cal.add_working_days(sh(2025, 1, 27, 10), 4).at == sh(2025, 2, 8, 18)


def test_2025_labour_day(cal: WorkCalendar) -> None:
    assert cal.add_working_days(sh(2025, 4, 25, 10), 1).at == sh(2025, 4, 27, 18)  # make-up Sun
    assert cal.add_working_days(sh(2025, 4, 30, 10), 1).at == sh(2025, 5, 6, 18)  # 05-01..05 off


def test_2025_national_day_and_mid_autumn(cal: WorkCalendar) -> None:
    assert cal.add_working_days(sh(2025, 9, 26, 10), 1).at == sh(2025, 9, 28, 18)  # make-up Sun
    start = sh(2025, 9, 30, 10)  # Tuesday; 10-01..10-08 off
    assert cal.add_working_days(start, 1).at == sh(2025, 10, 9, 18)
    assert cal.add_working_days(start, 3).at == sh(2025, 10, 11, 18)  # make-up Saturday


# ---- natural durations and reminders -------------------------------------------------------------


def test_duration_runs_through_holidays_and_nights(cal: WorkCalendar) -> None:
    deadline = cal.add_duration(sh(2026, 2, 16, 22), 4 * 3600)  # 除夕 22:00 + 4 h
    assert deadline.at == sh(2026, 2, 17, 2)
    assert deadline.at.utcoffset() == timedelta(hours=8)
    assert not deadline.provisional


def test_duration_of_seconds_is_converted_to_shanghai(cal: WorkCalendar) -> None:
    start = datetime(2026, 3, 9, 2, 0, 0, tzinfo=ZoneInfo("UTC"))
    assert cal.add_duration(start, 10).at.isoformat() == "2026-03-09T10:00:10+08:00"


def test_duration_into_an_unofficial_year_is_not_provisional(cal: WorkCalendar) -> None:
    # Elapsed time does not depend on any holiday schedule.
    deadline = cal.add_duration(sh(2026, 12, 31, 10), 24 * 3600)
    assert deadline.at == sh(2027, 1, 1, 10)
    assert not deadline.provisional


def test_next_working_day_reminder(cal: WorkCalendar) -> None:
    nine = time(9, 0)
    assert cal.next_working_day_at(sh(2026, 3, 9, 8), nine).at == sh(2026, 3, 10, 9)
    assert cal.next_working_day_at(sh(2026, 2, 13, 18), nine).at == sh(2026, 2, 14, 9)
    assert cal.next_working_day_at(sh(2026, 2, 14, 18), nine).at == sh(2026, 2, 24, 9)
    assert cal.next_working_day_at(sh(2026, 3, 6, 18), nine, n=2).at == sh(2026, 3, 10, 9)


# ---- provisional years and admin schedules -------------------------------------------------------


def test_deadline_in_2027_is_provisional_with_reason(cal: WorkCalendar) -> None:
    # 2027-01-01 Friday is 元旦, then the weekend; no published 调休 yet.
    deadline = cal.add_working_days(sh(2026, 12, 31, 10), 1)
    assert deadline.at == sh(2027, 1, 4, 18)
    assert deadline.provisional
    assert deadline.reason == REASON_2027


def test_deadline_within_2026_near_year_end_is_not_provisional(cal: WorkCalendar) -> None:
    deadline = cal.add_working_days(sh(2026, 12, 28, 10), 2)
    assert deadline.at == sh(2026, 12, 30, 18)
    assert not deadline.provisional


def test_2027_spring_festival_falls_back_to_statutory_holidays(cal: WorkCalendar) -> None:
    # Statutory: 除夕 02-05 Fri .. 初三 02-08; 初一/初二 fall on the weekend, so the
    # 放假办法 gives 02-09 and 02-10 in lieu. No make-up days are assumed.
    deadline = cal.add_working_days(sh(2027, 2, 4, 10), 1)
    assert deadline.at == sh(2027, 2, 11, 18)
    assert deadline.provisional
    assert deadline.reason == REASON_2027


def test_reminder_in_2027_is_provisional(cal: WorkCalendar) -> None:
    deadline = cal.next_working_day_at(sh(2027, 3, 1, 10), time(9, 0))
    assert deadline.at == sh(2027, 3, 2, 9)
    assert deadline.provisional


# A hypothetical 2027 schedule: not the State Council's (unpublished at the time of writing).
SCHEDULE_2027 = """
[years.2027]
holidays = ["2027-02-11", "2027-02-12"]
workdays = ["2027-02-20"]
"""


def test_admin_schedule_makes_2027_official_and_adds_days() -> None:
    cal = WorkCalendar(parse_schedule_toml(SCHEDULE_2027))
    assert cal.is_official(2027)
    # 02-11 and 02-12 are now off too; 02-13/14 the weekend.
    deadline = cal.add_working_days(sh(2027, 2, 4, 10), 1)
    assert deadline.at == sh(2027, 2, 15, 18)
    assert not deadline.provisional
    assert deadline.reason is None
    # Saturday 02-20 is now a make-up working day.
    assert cal.is_working_day(date(2027, 2, 20))
    assert cal.add_working_days(sh(2027, 2, 19, 10), 1).at == sh(2027, 2, 20, 18)
    # The package's statutory holidays still apply.
    assert not cal.is_working_day(date(2027, 1, 1))


def test_admin_schedule_is_added_on_top_of_a_published_year() -> None:
    cal = WorkCalendar({2026: YearSchedule(holidays=frozenset({date(2026, 3, 10)}))})
    assert cal.add_working_days(sh(2026, 3, 9, 10), 1).at == sh(2026, 3, 11, 18)
    assert cal.is_working_day(date(2026, 2, 14))  # the package's make-up days remain


def test_admin_workday_overrides_a_package_day_off() -> None:
    cal = WorkCalendar({2027: YearSchedule(workdays=frozenset({date(2027, 2, 10)}))})
    assert cal.is_working_day(date(2027, 2, 10))
    assert cal.add_working_days(sh(2027, 2, 4, 10), 1).at == sh(2027, 2, 10, 18)


def test_span_touching_2027_and_2028_names_both_years() -> None:
    cal = WorkCalendar()
    deadline = cal.add_working_days(sh(2027, 12, 30, 10), 3)
    assert deadline.provisional
    assert deadline.reason is not None
    assert deadline.reason.startswith("2027年、2028年放假安排尚未公布")


# ---- the schedule file ---------------------------------------------------------------------------


def test_parse_schedule_accepts_strings_and_toml_dates() -> None:
    schedules = parse_schedule_toml(
        '[years.2027]\nholidays = ["2027-01-01", 2027-02-11]\nworkdays = ["2027-02-20"]\n'
        "[years.2028]\nholidays = []\n"
    )
    assert schedules[2027] == YearSchedule(
        holidays=frozenset({date(2027, 1, 1), date(2027, 2, 11)}),
        workdays=frozenset({date(2027, 2, 20)}),
    )
    assert schedules[2028] == YearSchedule()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[years.2027]\nholidays = ["2027-02-30"]', r"years\.2027\.holidays\[0\]: '2027-02-30'"),
        ('[years.2027]\nholidays = ["20270101"]', r"years\.2027\.holidays\[0\]: '20270101'"),
        ('[years.2027]\nworkdays = ["2027-1-4"]', r"years\.2027\.workdays\[0\]"),
        ("[years.2027]\nworkdays = [20270104]", r"years\.2027\.workdays\[0\]"),
        ('[years.2027]\nholidays = ["2028-01-01"]', r"2028-01-01 is not in 2027"),
        ('[years.2027]\nholidays = "2027-01-01"', r"years\.2027\.holidays must be a list"),
        ('[years.2027]\nholiday = ["2027-01-01"]', r"years\.2027: unknown key"),
        ('[years.27]\nholidays = ["2027-01-01"]', r"years\.27: the key must be a four-digit"),
        ("[year.2027]\n", r"unknown key"),
        ('[years.2027]\nholidays = ["2027-02-20"]\nworkdays = ["2027-02-20"]', r"both"),
        ("[years.2027\n", r"not valid TOML"),
    ],
)
def test_parse_schedule_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_schedule_toml(text)
