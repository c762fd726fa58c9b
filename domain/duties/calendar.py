"""When duties fall due: each kind's cadence (what its Temporal Schedule's calendar says), the
period a run is about, and the due instant on the working-day calendar.

A duty whose nominal instant is not a working day moves to the same local time on the next working
day; a 调休 make-up Saturday is a working day, so a duty on one stays. ``plan`` runs in an activity
(the calendar's data is not workflow code); the cadences are what ``linkage schedules sync`` writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.calendar import WorkCalendar
from domain.duties.models import DutyKind, Plan

QUARTER_MONTHS = (1, 4, 7, 10)


@dataclass(frozen=True)
class Cadence:
    """A schedule's calendar: ``months`` (() for every month), ``day`` of month (None for every
    day) and the local time; read in the calendar's zone (Asia/Shanghai)."""

    months: tuple[int, ...]
    day: int | None
    at: time


CADENCES: dict[DutyKind, Cadence] = {
    # The council meets in the second week, on the month's matters gathered since the last one.
    DutyKind.VILLAGE_COUNCIL: Cadence((), 10, time(9, 0)),
    # 村委会组织法 art. 26: a representatives' meeting at least once a quarter.
    DutyKind.REPRESENTATIVES_MEETING: Cadence(QUARTER_MONTHS, 20, time(9, 0)),
    DutyKind.JOINT_MEETING: Cadence(QUARTER_MONTHS, 25, time(9, 0)),
    # Art. 30: finances monthly, ordinary matters quarterly; these are the publication deadlines.
    DutyKind.DISCLOSURE_MONTHLY: Cadence((), 10, time(18, 0)),
    DutyKind.DISCLOSURE_QUARTERLY: Cadence(QUARTER_MONTHS, 15, time(18, 0)),
    # Each morning looks at the day before: was the grid patrolled?
    DutyKind.PATROL: Cadence((), None, time(8, 30)),
}


def plan(cal: WorkCalendar, kind: DutyKind, nominal: datetime) -> Plan:
    """The period a run at ``nominal`` is about and its due instant on the working-day calendar."""
    local = cal.to_local(nominal)
    start, end, label = period_of(kind, local)
    if cal.is_working_day(local.date()):
        return Plan(label, start, end, due=local)
    moved = cal.next_working_day_at(local, local.time().replace(tzinfo=None))
    return Plan(label, start, end, due=moved.at, moved_from=local, provisional=moved.provisional)


def period_of(kind: DutyKind, local: datetime) -> tuple[datetime, datetime, str]:
    """(start, end, label) of what a run at local time ``local`` covers."""
    tz = local.tzinfo
    day = local.date()
    if kind is DutyKind.PATROL:
        before = day - timedelta(days=1)
        begin = datetime.combine(before, time(0), tzinfo=tz)
        return begin, begin + timedelta(days=1), before.isoformat()
    this_month = day.replace(day=1)
    last_month = _months_before(this_month, 1)
    this_quarter = this_month.replace(month=(this_month.month - 1) // 3 * 3 + 1)
    last_quarter = _months_before(this_quarter, 3)
    at = {d: datetime.combine(d, time(0), tzinfo=tz) for d in (this_month, last_month)}
    at.update({d: datetime.combine(d, time(0), tzinfo=tz) for d in (this_quarter, last_quarter)})
    if kind is DutyKind.VILLAGE_COUNCIL:
        return at[last_month], local, f"{day:%Y-%m}"
    if kind is DutyKind.DISCLOSURE_MONTHLY:
        return at[last_month], at[this_month], f"{last_month:%Y-%m}"
    if kind is DutyKind.DISCLOSURE_QUARTERLY:
        return at[last_quarter], at[this_quarter], quarter_label(last_quarter)
    return at[last_quarter], local, quarter_label(day)


def quarter_label(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def fires_between(kind: DutyKind, start: datetime, end: datetime) -> Iterator[datetime]:
    """The nominal instants of ``kind``'s schedule in [start, end), in ``start``'s zone: what the
    schedule would start, for a backfill or a test playing a month."""
    cadence = CADENCES[kind]
    tz = start.tzinfo
    day = start.date()
    while True:
        moment = datetime.combine(day, cadence.at, tzinfo=tz)
        if moment >= end:
            return
        month_ok = not cadence.months or day.month in cadence.months
        day_ok = cadence.day is None or day.day == cadence.day
        if moment >= start and month_ok and day_ok:
            yield moment
        day += timedelta(days=1)


def cycle_nominal(kind: DutyKind, local: datetime) -> datetime:
    """The nominal instant of ``kind``'s cycle that ``local`` falls in: this month's (or this
    quarter's) deadline, passed or not — what "the current month's 村务公开" is measured by.
    For a daily duty, today's."""
    cadence = CADENCES[kind]
    months = cadence.months or tuple(range(1, 13))
    month = max((m for m in months if m <= local.month), default=months[0])
    day = local.day if cadence.day is None else cadence.day
    return datetime.combine(date(local.year, month, day), cadence.at, tzinfo=local.tzinfo)


def _months_before(first: date, n: int) -> date:
    index = first.year * 12 + first.month - 1 - n
    year, month = divmod(index, 12)
    return date(year, month + 1, 1)
