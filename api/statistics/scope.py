"""Which issues a statistic counts (``StatsScope``): registered in a unit's subtree, in a period,
of a category when given; read from a request or the command line, and as SQL conditions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col

from api.issue_list import aware
from api.problems import invalid
from api.statistics.periods import between
from domain.models import Status
from store.tables import Category, Issue, Unit

FIRST_YEAR, LAST_YEAR = 1900, 9998  # far from datetime's limits, whatever the zone
CALENDAR_START = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
CALENDAR_END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StatsScope:
    """Which issues a statistic counts: registered in ``unit``'s subtree, in [since, until), of
    ``category`` when given."""

    unit: Unit
    since: datetime | None = None
    until: datetime | None = None
    category: str | None = None


def resolve_scope(
    session: Session,
    code: str | None,
    since: datetime | None,
    until: datetime | None,
    category: str | None,
    timezone: str,
) -> StatsScope:
    """The scope of a request, naive times read in the county's zone.

    Raises:
        ProblemError: 422 naming ``unit`` or ``category`` when unknown, ``since`` or ``until``
            when out of the calendar's range, ``until`` when the period is empty.
    """
    target = session.get(Unit, code) if code else None
    if target is None:
        raise invalid("unit", "未知的单位代码")
    if category is not None and session.get(Category, category) is None:
        raise invalid("category", "未知的事项类别")
    since, until = aware(since, timezone), aware(until, timezone)
    for name, value in (("since", since), ("until", until)):
        if value is not None and not _within_calendar(value):
            raise invalid(name, f"时间须在 {FIRST_YEAR}—{LAST_YEAR} 年之间")
    if since is not None and until is not None and until <= since:
        raise invalid("until", "结束时间须晚于开始时间")
    return StatsScope(target, since, until, category)


def _within_calendar(value: datetime) -> bool:
    """Whether a time converts to UTC and to local days without leaving the calendar."""
    try:
        return FIRST_YEAR <= value.astimezone(UTC).year <= LAST_YEAR
    except OverflowError:
        return False


def within_period(column: Any, scope: StatsScope) -> list[ColumnElement[bool]]:
    """``column`` (an instant) within the scope's period."""
    return between(column, scope.since, scope.until)


def in_subtree(path: Any, unit: Unit) -> ColumnElement[bool]:
    """A unit path column ("/611025/611025001/") at ``unit`` or below it."""
    return col(path).startswith(unit.path, autoescape=True)


def issues_of(scope: StatsScope) -> list[ColumnElement[bool]]:
    """The issues a scope counts, in any period."""
    # Issues count for the subtree where they were registered: "小事不出村" asks where an issue
    # that arose here was finally resolved.
    conditions = [in_subtree(Issue.registered_unit_path, scope.unit)]
    # An issue marked invalid (无效) counts in no unit's figures: not as a registration, not in
    # the times to resolve, not in any status (the tallies leave it out the same way).
    conditions.append(col(Issue.status) != Status.INVALID.value)
    if scope.category is not None:
        conditions.append(col(Issue.category) == scope.category)
    return conditions
