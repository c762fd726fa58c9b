"""China's statutory working days with 调休 make-up days, and the deadlines counted on them.

Holidays come from the ``holidays`` package (class ``China``: the statutory holidays and, for the
years whose State Council schedule it carries, the ``weekend_workdays`` make-up days), plus the
schedules an admin adds when the State Council publishes a new year. A year known to neither has
only the statutory holidays of 《全国年节及纪念日放假办法》 and no make-up days: deadlines that
touch it are still computed, but marked provisional with a reason, never silently wrong.

Pure: nothing here reads a file at import or when counting days. The package's data is built per
year on first use (inside the deadline activities, never in workflow code) and cached.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.models import Deadline

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_OFFICE_CLOSE = time(18, 0)

_ONE_DAY = timedelta(days=1)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class YearSchedule:
    """An admin-supplied official schedule of one year, applied on top of the package's data.

    ``holidays`` are extra days off, ``workdays`` extra working days (调休 make-up days). The admin
    data is the published schedule, so it wins where it disagrees with the package.
    """

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)


@dataclass(frozen=True)
class _YearDays:
    """The effective days of one year: what ``is_working_day`` consults."""

    days_off: frozenset[date]
    workdays: frozenset[date]
    official: bool


def provisional_reason(years: Iterable[int]) -> str:
    """The human-readable reason a deadline touching these unofficial years is provisional."""
    named = "、".join(f"{year}年" for year in sorted(set(years)))
    return (
        f"{named}放假安排尚未公布：按《全国年节及纪念日放假办法》法定节假日计算，"
        "未计调休，截止时间为暂定"
    )


class WorkCalendar:
    """Working days, office close and deadlines in one time zone (default Asia/Shanghai).

    Args:
        schedules: admin-supplied official schedules by year (see ``parse_schedule_toml``).
        tz: IANA time zone of the offices; every returned datetime is aware in it.
        office_close: end of office hours; a working-day deadline falls at this time.
    """

    def __init__(
        self,
        schedules: Mapping[int, YearSchedule] | None = None,
        *,
        tz: str = DEFAULT_TIMEZONE,
        office_close: time = DEFAULT_OFFICE_CLOSE,
    ) -> None:
        if office_close.tzinfo is not None:
            raise ValueError("office_close is a local wall-clock time; give it without a tzinfo")
        self._schedules = dict(schedules or {})
        self._tz = ZoneInfo(tz)
        self._office_close = office_close
        # Filled lazily per year. Concurrent activity threads may build the same year twice; both
        # results are equal and a dict assignment is atomic, so no lock is needed.
        self._years: dict[int, _YearDays] = {}

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def office_close(self) -> time:
        return self._office_close

    # ---- days ---------------------------------------------------------------------------------

    def is_official(self, year: int) -> bool:
        """Whether the year's official schedule (with its make-up days) is known."""
        return self._year(year).official

    def is_working_day(self, day: date) -> bool:
        """Whether offices work on ``day`` (a weekday not off, or a 调休 make-up weekend day)."""
        days = self._year(day.year)
        if day in days.workdays:
            return True
        if day in days.days_off:
            return False
        return day.weekday() < 5

    # ---- deadlines ----------------------------------------------------------------------------

    def add_working_days(self, start: datetime, n: int) -> Deadline:
        """Office close of the ``n``-th working day after ``start`` (民法典 art. 201).

        The start day is not counted: the count begins on the day after the start's local date,
        whatever the hour of the start. ``n == 0`` means office close of the start day if it is a
        working day, else of the next working day.
        """
        if n < 0:
            raise ValueError(f"working days cannot be negative: {n}")
        first = self.to_local(start).date()
        if n == 0:
            last = first if self.is_working_day(first) else self._nth_working_day_after(first, 1)
        else:
            last = self._nth_working_day_after(first, n)
        return self._deadline_on(last, self._office_close, first)

    def add_duration(self, start: datetime, seconds: int) -> Deadline:
        """``start`` plus a natural duration, in elapsed time.

        Never provisional: a natural duration does not depend on any holiday schedule.
        """
        if seconds < 0:
            raise ValueError(f"a duration cannot be negative: {seconds}")
        # Add in UTC so the result is elapsed time even if the zone ever had a DST jump.
        at = (self.to_local(start).astimezone(UTC) + timedelta(seconds=seconds)).astimezone(
            self._tz
        )
        return Deadline(at=at)

    def next_working_day_at(self, after: datetime, at: time, n: int = 1) -> Deadline:
        """``at`` (local time) on the ``n``-th working day after ``after``'s local date.

        Used for daily 督办 reminders: one per working day, starting the working day after.
        """
        if n < 1:
            raise ValueError(f"a reminder needs at least one working day: {n}")
        if at.tzinfo is not None:
            raise ValueError("the reminder time is a local wall-clock time; give it without tzinfo")
        first = self.to_local(after).date()
        return self._deadline_on(self._nth_working_day_after(first, n), at, first)

    def to_local(self, instant: datetime) -> datetime:
        """The same instant in the calendar's zone.

        Raises:
            ValueError: for a naive datetime.
        """
        # A naive datetime would be read in the host's zone, which is how deadlines go wrong by
        # eight hours; callers must say which instant they mean.
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"datetime must be timezone-aware: {instant.isoformat()}")
        return instant.astimezone(self._tz)

    # ---- internals ----------------------------------------------------------------------------

    def _nth_working_day_after(self, day: date, n: int) -> date:
        counted = 0
        while counted < n:
            day += _ONE_DAY
            if self.is_working_day(day):
                counted += 1
        return day

    def _deadline_on(self, day: date, at: time, counted_from: date) -> Deadline:
        """``at`` on ``day``; provisional if a day counted lies in an unofficial year."""
        when = datetime.combine(day, at, tzinfo=self._tz)
        unofficial = [y for y in range(counted_from.year, day.year + 1) if not self.is_official(y)]
        if unofficial:
            return Deadline(at=when, provisional=True, reason=provisional_reason(unofficial))
        return Deadline(at=when)

    def _year(self, year: int) -> _YearDays:
        days = self._years.get(year)
        if days is None:
            days = self._build_year(year)
            self._years[year] = days
        return days

    def _build_year(self, year: int) -> _YearDays:
        statutory, makeup = _package_days(year)
        admin = self._schedules.get(year)
        if admin is None:
            # Without the published schedule the package's make-up days (if any) are all we know;
            # without those, the year is unofficial and gets no make-up days at all.
            return _YearDays(days_off=statutory, workdays=makeup, official=bool(makeup))
        # The admin's published schedule wins over the package where they disagree.
        return _YearDays(
            days_off=(statutory - admin.workdays) | admin.holidays,
            workdays=(makeup - admin.holidays) | admin.workdays,
            official=True,
        )


def _package_days(year: int) -> tuple[frozenset[date], frozenset[date]]:
    """The package's days off and make-up workdays of one year."""
    # Imported here: the package takes about half a second to import, and this module is also
    # imported (without being used) where start-up time matters, such as the workflow sandbox.
    import holidays

    china = holidays.China(years=year)
    # weekend_workdays also carries a few stray dates of other years (e.g. 2001-12-29) whatever
    # years are asked for, so keep only this year's.
    days_off = frozenset(d for d in china if d.year == year)
    makeup = frozenset(d for d in china.weekend_workdays if d.year == year)
    return days_off, makeup


# ---- admin schedule file ------------------------------------------------------------------------


def parse_schedule_toml(text: str) -> dict[int, YearSchedule]:
    """Parse admin schedule data: ``[years.2027]`` tables with ``holidays`` and ``workdays``.

    Example::

        [years.2027]
        holidays = ["2027-01-01", "2027-02-11"]
        workdays = ["2027-02-20"]

    Raises:
        ValueError: naming the offending key for bad TOML, keys, years or dates.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"calendar schedule is not valid TOML: {error}") from error
    unknown = set(data) - {"years"}
    if unknown:
        raise ValueError(
            f"calendar schedule: unknown key(s) {sorted(unknown)}; expected [years.YYYY]"
        )
    years = data.get("years", {})
    if not isinstance(years, dict):
        raise ValueError("calendar schedule: 'years' must be a table of [years.YYYY] tables")
    return {_parse_year_key(key): _parse_year(key, table) for key, table in years.items()}


def _parse_year_key(key: str) -> int:
    if not (len(key) == 4 and key.isdigit()):
        raise ValueError(f"calendar schedule: years.{key}: the key must be a four-digit year")
    return int(key)


def _parse_year(key: str, table: Any) -> YearSchedule:
    where = f"years.{key}"
    if not isinstance(table, dict):
        raise ValueError(f"calendar schedule: {where} must be a table")
    unknown = set(table) - {"holidays", "workdays"}
    if unknown:
        raise ValueError(
            f"calendar schedule: {where}: unknown key(s) {sorted(unknown)}; "
            "expected 'holidays' and 'workdays'"
        )
    year = int(key)
    days_off = _parse_dates(f"{where}.holidays", table.get("holidays", []), year)
    workdays = _parse_dates(f"{where}.workdays", table.get("workdays", []), year)
    both = days_off & workdays
    if both:
        listed = ", ".join(d.isoformat() for d in sorted(both))
        raise ValueError(f"calendar schedule: {where}: {listed} listed as both holiday and workday")
    return YearSchedule(holidays=days_off, workdays=workdays)


def _parse_dates(where: str, values: Any, year: int) -> frozenset[date]:
    if not isinstance(values, list):
        raise ValueError(f"calendar schedule: {where} must be a list of dates")
    days: set[date] = set()
    for index, value in enumerate(values):
        days.add(_parse_date(f"{where}[{index}]", value, year))
    return frozenset(days)


def _parse_date(where: str, value: Any, year: int) -> date:
    bad = ValueError(f"calendar schedule: {where}: {value!r} is not a date (YYYY-MM-DD)")
    # TOML has native date literals; accept them as well as quoted "YYYY-MM-DD" strings.
    if isinstance(value, datetime):
        raise bad
    if isinstance(value, date):
        day = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
        # The pattern first: fromisoformat alone would also take "20270101" and week dates.
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise bad from None
    else:
        raise bad
    if day.year != year:
        raise ValueError(f"calendar schedule: {where}: {day.isoformat()} is not in {year}")
    return day
