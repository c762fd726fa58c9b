"""The deadline activities (activities/deadlines.py) run in Temporal's activity environment."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.deadlines import Clocks, build_calendar, build_clocks, describe_deadline
from domain.calendar import WorkCalendar
from domain.models import ClockRequest, DeadlineRequest, Term, TermsRequest, Urgency
from domain.policy import load_policy
from settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def settings(**overrides: object) -> Settings:
    # Explicit values, so a developer's LINKAGE_* environment or .env cannot change the result.
    values: dict[str, object] = {
        "policy": "default",
        "calendar_file": None,
        "timezone": "Asia/Shanghai",
        "office_close": time(18, 0),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def clocks() -> Clocks:
    return Clocks(WorkCalendar(), load_policy("default"))


@pytest.fixture
def env() -> ActivityEnvironment:
    return ActivityEnvironment()


def test_terms_for_activity(env: ActivityEnvironment, clocks: Clocks) -> None:
    terms = env.run(clocks.terms_for, TermsRequest(category="环境卫生", urgency=Urgency.URGENT))
    assert terms.policy == "default"
    assert terms.resolve["village"] == Term(seconds=4 * 3600)
    assert terms.extension_allowed is False


def test_terms_for_unknown_urgency_is_non_retryable(
    env: ActivityEnvironment, clocks: Clocks
) -> None:
    req = TermsRequest(category="环境卫生", urgency="critical")  # type: ignore[arg-type]
    with pytest.raises(ApplicationError, match="critical") as raised:
        env.run(clocks.terms_for, req)
    assert raised.value.non_retryable


def test_level_clock_activity(env: ActivityEnvironment, clocks: Clocks) -> None:
    req = ClockRequest(
        start=sh(2026, 4, 30, 15),  # Thursday before 五一 (05-01..05-05 off)
        resolve=Term(working_days=3),
        accept=Term(working_days=1),
        transfer_window=Term(working_days=2),
        warnings=(0.5, 0.75),
    )
    clock = env.run(clocks.level_clock, req)
    assert clock.deadline.at == sh(2026, 5, 8, 18)
    assert clock.accept_deadline.at == sh(2026, 5, 6, 18)
    assert clock.transfer_until.at == sh(2026, 5, 7, 18)
    # Span 04-30 15:00 -> 05-08 18:00 is 8 days 3 h = 195 h: 50% = +97.5 h, 75% = +146.25 h.
    assert clock.warnings == (sh(2026, 5, 4, 16, 30), sh(2026, 5, 6, 17, 15))


def test_deadline_activity(env: ActivityEnvironment, clocks: Clocks) -> None:
    req = DeadlineRequest(start=sh(2026, 9, 30, 10), term=Term(working_days=5))
    # 10-01..10-07 off; 10-08 Thu, 09 Fri, 10 make-up Sat, 12 Mon, 13 Tue.
    assert env.run(clocks.deadline, req).at == sh(2026, 10, 13, 18)


def test_naive_start_is_a_non_retryable_failure(env: ActivityEnvironment, clocks: Clocks) -> None:
    req = DeadlineRequest(start=datetime(2026, 9, 30, 10), term=Term(working_days=1))
    with pytest.raises(ApplicationError, match="timezone-aware") as raised:
        env.run(clocks.deadline, req)
    assert raised.value.non_retryable


def test_next_reminder_on_the_next_working_day_at_nine(
    env: ActivityEnvironment, clocks: Clocks
) -> None:
    # Overdue on Friday 2026-02-13 at 18:00: the next working day is the make-up Saturday.
    req = DeadlineRequest(start=sh(2026, 2, 13, 18), term=Term(working_days=1))
    assert env.run(clocks.next_reminder, req).at == sh(2026, 2, 14, 9)
    req = DeadlineRequest(start=sh(2026, 2, 14, 9), term=Term(working_days=1))
    assert env.run(clocks.next_reminder, req).at == sh(2026, 2, 24, 9)


def test_next_reminder_in_seconds_for_the_drill(env: ActivityEnvironment, clocks: Clocks) -> None:
    req = DeadlineRequest(start=sh(2026, 2, 16, 23, 59, 55), term=Term(seconds=10))
    assert env.run(clocks.next_reminder, req).at == sh(2026, 2, 17, 0, 0, 5)


def test_zero_reminder_cadence_is_refused(env: ActivityEnvironment, clocks: Clocks) -> None:
    req = DeadlineRequest(start=sh(2026, 3, 9, 10), term=Term(seconds=0))
    with pytest.raises(ApplicationError, match="longer than zero") as raised:
        env.run(clocks.next_reminder, req)
    assert raised.value.non_retryable


# ---- building from settings, and the CLI's text -------------------------------------------------


def test_build_clocks_uses_the_settings_policy() -> None:
    clocks = build_clocks(settings(policy="drill"))
    assert clocks.policy.name == "drill"
    assert clocks.calendar.office_close == time(18, 0)


def test_build_calendar_reads_the_admin_schedule(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text('[years.2027]\nholidays = ["2027-02-11"]\n', encoding="utf-8")
    calendar = build_calendar(settings(calendar_file=path, office_close=time(17, 30)))
    deadline = calendar.add_working_days(sh(2027, 2, 4, 10), 1)
    assert deadline.at == sh(2027, 2, 12, 17, 30)  # 02-05..02-11 off now
    assert not deadline.provisional


def test_build_calendar_names_the_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "calendar.toml"
    path.write_text('[years.2027]\nholidays = ["2027-13-01"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"calendar\.toml: .*years\.2027\.holidays\[0\]"):
        build_calendar(settings(calendar_file=path))


def test_describe_deadline_working_days() -> None:
    text = describe_deadline(settings(), sh(2026, 2, 13, 10), 2, None)
    assert text == "2026-02-24T18:00:00+08:00"


def test_describe_deadline_reads_a_naive_start_as_shanghai_time() -> None:
    text = describe_deadline(settings(), datetime(2026, 2, 13, 10), None, "PT4H")
    assert text == "2026-02-13T14:00:00+08:00"


def test_describe_deadline_provisional_adds_the_reason() -> None:
    text = describe_deadline(settings(), sh(2026, 12, 31, 10), 1, None)
    assert text == (
        "2027-01-04T18:00:00+08:00\n"
        "暂定 (provisional): 2027年放假安排尚未公布：按《全国年节及纪念日放假办法》法定节假日计算，"
        "未计调休，截止时间为暂定"
    )


@pytest.mark.parametrize(("days", "duration"), [(None, None), (1, "PT1H")])
def test_describe_deadline_needs_exactly_one_term(days: int | None, duration: str | None) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        describe_deadline(settings(), sh(2026, 3, 9, 10), days, duration)


def test_describe_deadline_bad_duration() -> None:
    with pytest.raises(ValueError, match="ISO-8601"):
        describe_deadline(settings(), sh(2026, 3, 9, 10), None, "4 hours")
