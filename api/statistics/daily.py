"""Events of a scope per local day in the county's zone, counted in SQL: registrations,
resolutions and issues going overdue, for the trend.

The database knows no zones: a day is the UTC day of an instant shifted by the zone's offset in
force then (``trend.offset_runs``), computed in SQL, or read off whole UTC hours (the hour columns
and the hour tallies) and turned into days in Python. What crosses into Python grows with the
days (or hours), not with the issues."""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    Select,
    and_,
    case,
    func,
    literal,
    literal_column,
    null,
    or_,
    type_coerce,
)
from sqlalchemy import select as select_columns
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col

from api.statistics import trend
from api.statistics.scope import CALENDAR_END, CALENDAR_START, StatsScope, issues_of, within_period
from domain.models import EventType
from store.tables import (
    EPOCH,
    HOUR,
    MICROSECOND,
    Issue,
    IssueEvent,
    RegisteredHourTally,
    ResolvedHourTally,
    table_of,
)

EPOCH_ORDINAL = EPOCH.date().toordinal()


class _LocalDate(FunctionElement[date]):
    """The UTC day of a timestamp shifted by a whole number of seconds: its local day under that
    offset (``trend.offset_runs``)."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(_LocalDate, "sqlite")
def _local_date_sqlite(element: _LocalDate, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = (compiler.process(clause, **kw) for clause in element.clauses)
    # SQLite keeps UTC text and rounds fractions of a second to milliseconds: cut them off first,
    # or 23:59:59.9996 would fall on the next day.
    return f"date(substr({moment}, 1, 19), {seconds} || ' seconds')"


@compiles(_LocalDate, "postgresql")
def _local_date_postgresql(element: _LocalDate, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(({moment} AT TIME ZONE 'UTC') + {seconds} * INTERVAL '1 second' AS DATE)"


def _local_day(moment: Any, runs: list[trend.OffsetRun]) -> tuple[Any, Any]:
    """Two columns to group by that tell the local day of ``moment``: the day, computed in SQL
    over the span ``runs`` cover, or else (unexpected data) the instant, for Python to convert."""
    if not runs:
        return null(), col(moment)
    start, end = runs[0].start, runs[-1].end
    day = case(
        *(
            (
                and_(col(moment) >= run.start, col(moment) < run.end),
                _LocalDate(col(moment), literal(run.offset, Integer())),
            )
            for run in runs
        )
    )
    return type_coerce(day, Date()), case(
        (or_(col(moment) < start, col(moment) >= end), col(moment))
    )


@dataclass(frozen=True)
class Events:
    """What happened in a scope on each local day."""

    registered: dict[date, int]
    resolved: dict[date, int]
    overdue: dict[date, int]


def _days_of_hours(
    hours: list[int | None], runs: list[trend.OffsetRun], zone: ZoneInfo
) -> dict[int, date] | None:
    """The local day of each whole UTC hour (``Issue.registered_hour``), or None when one of them
    does not lie within a single local day (an offset in half hours, a change within the hour, a
    row without the derived column). In integers: thousands of hours per request."""
    # The whole hours inside each run of a whole-hour offset: [first, end) and the offset.
    inside = [
        (-(-(r.start - EPOCH) // HOUR), (r.end - EPOCH) // HOUR, r.offset)
        for r in runs
        if r.offset % 3600 == 0
    ]
    firsts = [first for first, _, _ in inside]

    def offset_of(hour: int) -> int | None:
        index = bisect_right(firsts, hour) - 1
        if index >= 0 and hour < inside[index][1]:
            return inside[index][2]
        # Astride a run's bound or outside the span the data was expected in: ask the zone.
        begin = EPOCH + hour * HOUR
        offsets = {trend.utc_offset(zone, moment) for moment in (begin, begin + HOUR - MICROSECOND)}
        offset = offsets.pop()
        return None if offsets or offset % 3600 else offset

    days: dict[int, date] = {}
    for hour in hours:
        if hour is None or (offset := offset_of(hour)) is None:
            return None
        days[hour] = date.fromordinal(EPOCH_ORDINAL + (hour * 3600 + offset) // 86400)
    return days


@dataclass(frozen=True)
class DayCounter:
    """Counts rows per local day in one zone (``runs``: its offsets over the data's span)."""

    zone: ZoneInfo
    runs: list[trend.OffsetRun]

    def per_day(
        self,
        session: Session,
        scope: StatsScope,
        moment: Any,
        hour: Any,
        query: Select[Any],
        also: Any = None,
    ) -> tuple[dict[date, int], int]:
        """``query``'s rows counted per local day of ``moment`` (``hour``: its whole UTC hours,
        None if not kept), and ``also`` (a count) over them all; ``query`` holds the rows of
        ``scope``'s period by ``moment``."""
        counts: dict[date, int] = defaultdict(int)
        extra = also if also is not None else literal(0)
        if hour is not None:
            # Whole hours from an index, turned into days here: no per-row date arithmetic. The
            # period's hours bound the index range; ``moment`` then cuts the hours at either end.
            hours: list[ColumnElement[bool]] = [col(hour).is_not(None)]
            if scope.since is not None:
                hours.append(col(hour) >= (scope.since - EPOCH) // HOUR)
            if scope.until is not None:
                hours.append(col(hour) <= (scope.until - MICROSECOND - EPOCH) // HOUR)
            rows = (
                session.connection()
                .execute(
                    query.where(*hours)
                    .add_columns(col(hour), func.count(), extra)
                    .group_by(col(hour))
                )
                .all()
            )
            days = _days_of_hours([row[0] for row in rows], self.runs, self.zone)
            if days is not None:
                for row in rows:
                    counts[days[row[0]]] += row[1]
                return counts, sum(row[2] for row in rows)
        day, instant = _local_day(moment, self.runs)
        rows = (
            session.connection()
            .execute(
                query.add_columns(
                    day.label("trend_day"), instant.label("trend_instant"), func.count(), extra
                ).group_by(literal_column("trend_day"), literal_column("trend_instant"))
            )
            .all()
        )
        for local, at, n, _ in rows:
            counts[local if local is not None else trend.local_day(at, self.zone)] += n
        return counts, sum(row[3] for row in rows)

    def tallied(
        self,
        session: Session,
        scope: StatsScope,
        count: Any,
        also: Any,
        from_rows: Callable[[StatsScope], tuple[dict[date, int], int]],
    ) -> tuple[dict[date, int], int]:
        """What ``from_rows`` counts for ``scope``, read from an hour tally (``count``, ``also``:
        its columns) where the tally holds it: a whole tree, no category. The hours at either end
        of the period that it only partly covers come from the rows."""
        path = scope.unit.path
        if scope.category is not None or path.count("/") != 2:  # not "/<root>/"
            return from_rows(scope)
        first = None if scope.since is None else -(-(scope.since - EPOCH) // HOUR)
        end = None if scope.until is None else (scope.until - EPOCH) // HOUR
        if first is not None and end is not None and first >= end:
            return from_rows(scope)
        hour = count.table.c.hour
        rows = (
            session.connection()
            .execute(
                select_columns(hour, count, also if also is not None else literal(0)).where(
                    count.table.c.root == path,
                    *([hour >= first] if first is not None else []),
                    *([hour < end] if end is not None else []),
                )
            )
            .all()
        )
        days = _days_of_hours([row[0] for row in rows], self.runs, self.zone)
        if days is None:
            return from_rows(scope)
        counts: dict[date, int] = defaultdict(int)
        total = 0
        for at, n, extra in rows:
            if n:  # a cell emptied by a later change counts no day
                counts[days[at]] += n
                total += extra
        edges: list[tuple[datetime, datetime]] = []
        if scope.since is not None and first is not None:
            edges.append((scope.since, EPOCH + first * HOUR))
        if scope.until is not None and end is not None:
            edges.append((EPOCH + end * HOUR, scope.until))
        for since, until in edges:
            if since < until:
                part, extra = from_rows(replace(scope, since=since, until=until))
                for day, n in part.items():
                    counts[day] += n
                total += extra
        return counts, total


def registrations(
    session: Session, scope: StatsScope, days: DayCounter
) -> tuple[dict[date, int], int]:
    """Registrations per local day, and how many of them are resolved (``tallies.time_to_resolve``
    reads their times)."""

    def from_rows(part: StatsScope) -> tuple[dict[date, int], int]:
        return days.per_day(
            session,
            part,
            Issue.registered_at,
            Issue.registered_hour,
            select_columns().where(*issues_of(part), *within_period(Issue.registered_at, part)),
            func.count(col(Issue.resolve_us)),
        )

    tally = table_of(RegisteredHourTally)
    return days.tallied(session, scope, tally.c.registered, tally.c.registered_resolved, from_rows)


def resolutions(session: Session, scope: StatsScope, days: DayCounter) -> dict[date, int]:
    """Resolutions per local day, of the issues a scope counts, resolved in its period."""

    def from_rows(part: StatsScope) -> tuple[dict[date, int], int]:
        return days.per_day(
            session,
            part,
            Issue.resolved_at,
            Issue.resolved_hour,
            select_columns().where(
                *issues_of(part),
                col(Issue.resolved_at).is_not(None),
                *within_period(Issue.resolved_at, part),
            ),
        )

    tally = table_of(ResolvedHourTally)
    return days.tallied(session, scope, tally.c.resolved, None, from_rows)[0]


def overdue_events(session: Session, scope: StatsScope, days: DayCounter) -> dict[date, int]:
    """Issues going overdue per local day, in the scope's period."""
    return days.per_day(
        session,
        scope,
        IssueEvent.at,
        None,
        select_columns()
        .select_from(IssueEvent)
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .where(
            col(IssueEvent.type) == EventType.OVERDUE.value,
            *issues_of(scope),
            *within_period(IssueEvent.at, scope),
        ),
    )[0]


def day_counter(session: Session, scope: StatsScope, zone: ZoneInfo, now: datetime) -> DayCounter:
    """A counter of ``scope``'s events per local day in ``zone``, up to ``now`` when unbounded."""
    return DayCounter(zone, _offset_runs(session, scope, zone, now))


def _offset_runs(
    session: Session, scope: StatsScope, zone: ZoneInfo, now: datetime
) -> list[trend.OffsetRun]:
    """The zone's offsets over the time the trend's events are expected in: from the first
    registration on record to a day past today (or past the last one), within the period.

    Bounded by the data, not only by the period ("until 9998" costs nothing); an event outside
    (unexpected data) is still counted, converted in Python.
    """
    registered = col(Issue.registered_at)
    # Two index lookups, the whole table's bounds: a wider span only costs offsets looked up.
    first, last = session.execute(
        select_columns(
            select_columns(func.min(registered)).scalar_subquery(),
            select_columns(func.max(registered)).scalar_subquery(),
        )
    ).one()
    if first is None or last is None:
        return []
    start, end = first, max(now, last) + timedelta(days=1)
    if scope.since is not None:
        start = max(start, scope.since)
    if scope.until is not None:
        end = min(end, scope.until)
    start, end = max(start, CALENDAR_START), min(end, CALENDAR_END)
    return trend.offset_runs(zone, start, end) if start < end else []
