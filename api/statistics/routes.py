"""Statistics of a unit's subtree over a period (read model only): the database counts, per unit
and per day (GROUP BY), and figures.py turns the counts into figures.

``build_stats`` and ``build_alerts`` are plain functions over a session, so the ``linkage stats``
command prints exactly what ``GET /stats`` answers.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
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
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import Session, col, select

from api.deps import API_PREFIX, STAFF_ROLES, CurrentPrincipal, SessionDep, SettingsDep
from api.inputs import Instant
from api.issues import aware
from api.problems import forbidden, invalid, responses
from api.schemas import (
    AlertListOut,
    AlertOut,
    AlertsOut,
    CategoryCountOut,
    DurationsOut,
    RankingOut,
    RatesOut,
    StatsOut,
    TrendOut,
    TrendPointOut,
    UnitOut,
)
from api.statistics import figures as stats
from domain import labels
from domain.models import EventType, Level, Outcome, Satisfaction, Status, UnitKind
from store.db import concurrently
from store.tables import (
    EPOCH,
    HOUR,
    MICROSECOND,
    Category,
    Issue,
    IssueEvent,
    IssueLevel,
    IssueTally,
    RegisteredHourTally,
    ResolvedHourTally,
    StayTally,
    Unit,
    UnitTally,
    table_of,
)

router = APIRouter(prefix=f"{API_PREFIX}/stats", tags=["stats"])

MAX_TREND_POINTS = 1000
FIRST_YEAR, LAST_YEAR = 1900, 9998  # far from datetime's limits, whatever the zone
CALENDAR_START = datetime(FIRST_YEAR, 1, 1, tzinfo=UTC)
CALENDAR_END = datetime(LAST_YEAR + 1, 1, 1, tzinfo=UTC)
EPOCH_ORDINAL = EPOCH.date().toordinal()

IssueRow = tuple[str, stats.IssueCounts]
StayRow = tuple[str, stats.StayCounts]  # (unit path, counts)


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


def request_scope(
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    unit: Annotated[str | None, Query(description="单位代码，默认为本单位", max_length=64)] = None,
    since: Annotated[Instant | None, Query(description="登记时间下限（含）")] = None,
    until: Annotated[Instant | None, Query(description="登记时间上限（不含）")] = None,
    category: Annotated[str | None, Query(description="事项类别代码", max_length=64)] = None,
) -> StatsScope:
    """The caller's scope: staff only, and only within their own subtree."""
    if principal.role not in STAFF_ROLES:
        raise forbidden("统计只对工作人员开放")
    scope = resolve_scope(
        session, unit or principal.unit_code, since, until, category, settings.timezone
    )
    if not principal.within(scope.unit.path):
        raise forbidden(f"{scope.unit.name}不在您的辖区内", field="unit")
    return scope


ScopeDep = Annotated[StatsScope, Depends(request_scope)]


# ---- counting in SQL ----------------------------------------------------------------------------
# What crosses into Python grows with the units and the days, not with the issues (resolution
# times aside: a median needs them all).


class _LocalDate(FunctionElement[date]):
    """The UTC day of a timestamp shifted by a whole number of seconds: its local day under that
    offset (``stats.offset_runs``)."""

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


def _period(column: Any, scope: StatsScope) -> list[ColumnElement[bool]]:
    return _between(column, scope.since, scope.until)


def _between(column: Any, since: Any, until: Any) -> list[ColumnElement[bool]]:
    """``column`` in [since, until), a None bound unbounded (instants, or "YYYY-MM" months)."""
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(col(column) >= since)
    if until is not None:
        conditions.append(col(column) < until)
    return conditions


Bounds = tuple[datetime | None, datetime | None]  # [since, until), None unbounded


@dataclass(frozen=True)
class Split:
    """A period as the whole UTC months the tallies count (``months``: [first, end) as "YYYY-MM",
    None unbounded; None if there are none) and the rest, counted from the rows (``edges``)."""

    months: tuple[str | None, str | None] | None
    edges: list[Bounds]


def split_period(since: datetime | None, until: datetime | None) -> Split:
    first = since if since is None or since == _month_of(since) else _next_month(since)
    end = None if until is None else _month_of(until)
    if first is not None and end is not None and first >= end:
        return Split(None, [(since, until)])
    edges: list[Bounds] = []
    if since is not None and first is not None and since < first:
        edges.append((since, first))
    if until is not None and end is not None and end < until:
        edges.append((end, until))
    return Split((_month_text(first), _month_text(end)), edges)


def _month_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _next_month(moment: datetime) -> datetime:
    start = _month_of(moment)
    return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)


def _month_text(moment: datetime | None) -> str | None:
    return None if moment is None else f"{moment.year:04d}-{moment.month:02d}"


def _issues_of(scope: StatsScope) -> list[ColumnElement[bool]]:
    # Issues count for the subtree where they were registered: "小事不出村" asks where an issue
    # that arose here was finally resolved.
    conditions = [col(Issue.registered_unit_path).startswith(scope.unit.path, autoescape=True)]
    if scope.category is not None:
        conditions.append(col(Issue.category) == scope.category)
    return conditions


def _counting(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


@dataclass(frozen=True)
class IssueCounting:
    """The issues registered in a scope's period, counted."""

    by_path: list[IssueRow]  # (registered unit path, counts of one status)
    by_category: list[IssueRow]  # (category, counts of one status)


def _issue_counts(session: Session, scope: StatsScope) -> IssueCounting:
    """The issues registered in the scope's period, counted per (registered unit path, status)
    and per (category, status)."""
    overdue, satisfaction = col(Issue.overdue), col(Issue.feedback_satisfaction)
    resolution, level = col(Issue.resolution_level), col(Issue.level)
    resolved_at = {name: f"resolved_{name}" for name in stats.COUNTED_LEVELS}
    at_level = {rung.value: f"at_{rung.value}" for rung in Level}
    counted = {
        "overdue": overdue.is_(True),
        "warned": and_(col(Issue.warnings_sent) != 0, overdue.is_not(True)),
        "resolved": resolution.is_not(None),
        **{label: resolution == name for name, label in resolved_at.items()},
        **{label: level == name for name, label in at_level.items()},
        "feedback": satisfaction.is_not(None),
        "solved": and_(satisfaction.is_not(None), col(Issue.feedback_solved).is_(True)),
        "satisfied": satisfaction == Satisfaction.SATISFIED.value,
        "basically_satisfied": satisfaction == Satisfaction.BASICALLY_SATISFIED.value,
    }
    columns = ["total", *counted]
    by_path: dict[tuple[str, str], list[int]] = {}
    by_category: dict[tuple[str, str], list[int]] = {}

    def add(sums: dict[tuple[str, str], list[int]], key: tuple[str, str], values: Any) -> None:
        if (known := sums.get(key)) is None:
            sums[key] = list(values)
        else:
            for index, value in enumerate(values):
                known[index] += value

    split = split_period(scope.since, scope.until)
    # What is not whole months, from the issues themselves: one pass, added up two ways (per
    # unit, for the rankings rolled up the tree later, and per category).
    for since, until in split.edges:
        for path, category, status, *values in session.connection().execute(
            select_columns(
                col(Issue.registered_unit_path),
                col(Issue.category),
                col(Issue.status),
                func.count(),
                *(_counting(condition) for condition in counted.values()),
            )
            .where(*_issues_of(scope), *_between(Issue.registered_at, since, until))
            .group_by(col(Issue.registered_unit_path), col(Issue.category), col(Issue.status))
        ):
            add(by_path, (path, status), values)
            add(by_category, (category, status), values)
    # Whole months from the tallies: a few rows per unit, category and month.
    if split.months is not None:
        tally = table_of(IssueTally)
        # One category: all of it from the category tally. Otherwise the unit tally for the
        # rankings, and the category tally for the category list (totals and overdue only).
        source = tally if scope.category is not None else table_of(UnitTally)
        for path, status, *values in session.connection().execute(
            select_columns(
                source.c.registered_unit_path,
                source.c.status,
                *(func.sum(source.c[name]) for name in columns),
            )
            .where(
                source.c.registered_unit_path.startswith(scope.unit.path, autoescape=True),
                *_between(source.c.month, *split.months),
                *([tally.c.category == scope.category] if scope.category is not None else []),
            )
            .group_by(source.c.registered_unit_path, source.c.status)
        ):
            add(by_path, (path, status), values)
            if scope.category is not None:
                add(by_category, (scope.category, status), values)
        if scope.category is None:
            for category, status, total, overdue in session.connection().execute(
                select_columns(
                    tally.c.category,
                    tally.c.status,
                    func.sum(tally.c.total),
                    func.sum(tally.c.overdue),
                )
                .where(
                    tally.c.registered_unit_path.startswith(scope.unit.path, autoescape=True),
                    *_between(tally.c.month, *split.months),
                )
                .group_by(tally.c.category, tally.c.status)
            ):
                values = [0] * len(columns)
                values[0], values[columns.index("overdue")] = total, overdue
                add(by_category, (category, status), values)

    def counts(status: str, values: list[int]) -> stats.IssueCounts:
        n = dict(zip(columns, values, strict=True))
        return stats.IssueCounts(
            status=status,
            total=n["total"],
            overdue=n["overdue"],
            warned=n["warned"],
            resolved=n["resolved"],
            resolved_by_level={name: n[label] for name, label in resolved_at.items()},
            at_level={name: n[label] for name, label in at_level.items()},
            feedback=n["feedback"],
            solved=n["solved"],
            satisfied=n["satisfied"],
            basically_satisfied=n["basically_satisfied"],
        )

    return IssueCounting(
        [(path, counts(status, values)) for (path, status), values in by_path.items()],
        [(category, counts(status, values)) for (category, status), values in by_category.items()],
    )


def _stay_rows(session: Session, scope: StatsScope) -> list[StayRow]:
    # A stay counts for the unit that had the issue during it: response and on-time are that
    # unit's record, wherever the issue came from.
    units = select_columns(col(Unit.code), col(Unit.path)).where(
        col(Unit.path).startswith(scope.unit.path, autoescape=True)
    )
    paths = {code: path for code, path in session.connection().execute(units)}
    outcome = col(IssueLevel.outcome)
    left = and_(outcome.is_not(None), outcome != Outcome.WITHDRAWN.value)

    def counted(since: datetime | None, until: datetime | None) -> Executable:
        query = (
            select_columns(
                col(IssueLevel.unit_code),
                col(IssueLevel.level),
                _counting(col(IssueLevel.accepted_on_time).is_not(None)),
                _counting(col(IssueLevel.accepted_on_time).is_(True)),
                _counting(left),
                _counting(and_(left, col(IssueLevel.on_time).is_(True))),
            )
            .where(*_between(IssueLevel.entered_at, since, until))
            .group_by(col(IssueLevel.unit_code), col(IssueLevel.level))
        )
        if scope.category is None:
            return query
        return query.join(Issue, col(Issue.id) == col(IssueLevel.issue_id)).where(
            col(Issue.category) == scope.category
        )

    # The tally knows no categories: a category's stays are counted from the rows.
    split = (
        split_period(scope.since, scope.until)
        if scope.category is None
        else Split(None, [(scope.since, scope.until)])
    )
    queries: list[Executable] = [counted(since, until) for since, until in split.edges]
    if split.months is not None:
        tally = table_of(StayTally)
        queries.append(
            select_columns(
                tally.c.unit_code,
                tally.c.level,
                *(
                    func.sum(tally.c[name])
                    for name in ("settled", "accepted_on_time", "left_level", "left_on_time")
                ),
            )
            .where(*_between(tally.c.month, *split.months))
            .group_by(tally.c.unit_code, tally.c.level)
        )
    # Every unit's stays are counted (one pass either way), those outside the subtree left here.
    return [
        (paths[code], stats.StayCounts(level, settled, accepted, left_count, on_time))
        for query in queries
        for code, level, settled, accepted, left_count, on_time in session.connection().execute(
            query
        )
        if code in paths
    ]


def _local_day(moment: Any, runs: list[stats.OffsetRun]) -> tuple[Any, Any]:
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
    hours: list[int | None], runs: list[stats.OffsetRun], zone: ZoneInfo
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
        offsets = {_offset(moment, zone) for moment in (begin, begin + HOUR - MICROSECOND)}
        offset = offsets.pop()
        return None if offsets or offset % 3600 else offset

    days: dict[int, date] = {}
    for hour in hours:
        if hour is None or (offset := offset_of(hour)) is None:
            return None
        days[hour] = date.fromordinal(EPOCH_ORDINAL + (hour * 3600 + offset) // 86400)
    return days


def _offset(moment: datetime, zone: ZoneInfo) -> int:
    offset = moment.astimezone(zone).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


@dataclass(frozen=True)
class DayCounter:
    """Counts rows per local day in one zone (``runs``: its offsets over the data's span)."""

    zone: ZoneInfo
    runs: list[stats.OffsetRun]

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
            counts[local if local is not None else stats.local_day(at, self.zone)] += n
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


def _registrations(
    session: Session, scope: StatsScope, days: DayCounter
) -> tuple[dict[date, int], stats.Durations]:
    """Registrations per local day, and the time to resolve those of them that are resolved."""

    def from_rows(part: StatsScope) -> tuple[dict[date, int], int]:
        return days.per_day(
            session,
            part,
            Issue.registered_at,
            Issue.registered_hour,
            select_columns().where(*_issues_of(part), *_period(Issue.registered_at, part)),
            func.count(col(Issue.resolve_us)),
        )

    tally = table_of(RegisteredHourTally)
    registered, resolved = days.tallied(
        session, scope, tally.c.registered, tally.c.registered_resolved, from_rows
    )
    return registered, _time_to_resolve(session, scope, resolved)


def _resolutions(session: Session, scope: StatsScope, days: DayCounter) -> dict[date, int]:
    def from_rows(part: StatsScope) -> tuple[dict[date, int], int]:
        return days.per_day(
            session,
            part,
            Issue.resolved_at,
            Issue.resolved_hour,
            select_columns().where(
                *_issues_of(part),
                col(Issue.resolved_at).is_not(None),
                *_period(Issue.resolved_at, part),
            ),
        )

    tally = table_of(ResolvedHourTally)
    return days.tallied(session, scope, tally.c.resolved, None, from_rows)[0]


def _overdue_events(session: Session, scope: StatsScope, days: DayCounter) -> dict[date, int]:
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
            *_issues_of(scope),
            *_period(IssueEvent.at, scope),
        ),
    )[0]


def _time_to_resolve(session: Session, scope: StatsScope, count: int) -> stats.Durations:
    """The quantiles from the few ranks they need, each read off an index in time-to-resolve
    order: no resolution time crosses into Python but those."""
    ordered = (
        select_columns(col(Issue.resolve_us))
        .where(
            *_issues_of(scope),
            *_period(Issue.registered_at, scope),
            col(Issue.resolve_us).is_not(None),
        )
        .order_by(col(Issue.resolve_us))
    )
    known: dict[int, int] = {}

    def nth(rank: int) -> int:
        if rank not in known:
            # Two at once: a quantile between two ranks asks for both.
            found = [
                micros
                for micros in session.connection().execute(ordered.offset(rank).limit(2)).scalars()
                if micros is not None  # none are: the query says so, the type does not
            ]
            known.update(zip(range(rank, rank + len(found)), found, strict=True))
        return known[rank]

    return stats.time_to_resolve(count, nth)


# ---- assembling ---------------------------------------------------------------------------------


def _rates(rates: stats.Rates) -> RatesOut:
    return RatesOut(**vars(rates))  # flat: asdict's deep copy costs more than the rest


def _rankings(
    units: list[Unit],
    issues: dict[str, list[stats.IssueCounts]],
    stays: dict[str, list[stats.StayCounts]],
    weights: stats.Weights,
) -> list[RankingOut]:
    """Red list order (best composite first), each entry with its black-list (overdue) rank."""
    entries = [
        stats.Ranked(
            u.code, stats.summarize(issues.get(u.code, []), stays.get(u.code, []), weights)
        )
        for u in units
    ]
    return ranking_out(units, entries)


def ranking_out(units: list[Unit], entries: list[stats.Ranked]) -> list[RankingOut]:
    """The red list of units' summaries as answered, each with its black-list rank."""
    overdue_rank = {r.key: r.rank for r in stats.rank_by_overdue(entries)}
    by_code = {u.code: u for u in units}
    return [
        RankingOut(
            rank=r.rank,
            overdue_rank=overdue_rank[r.key],
            unit=UnitOut(code=r.key, name=by_code[r.key].name),
            kind=by_code[r.key].kind,
            total=r.summary.total,
            open=r.summary.open,
            warning=r.summary.warning,
            overdue=r.summary.overdue,
            overdue_total=r.summary.overdue_total,
            resolved=r.summary.resolved,
            rates=_rates(r.summary.rates),
        )
        for r in stats.rank(entries)
    ]


def _trend_days(
    scope: StatsScope, days: set[date], zone: ZoneInfo, now: datetime
) -> tuple[date, date] | None:
    """The local days a trend covers: the period, or what the data spans up to today."""
    if scope.since is not None:
        first = stats.local_day(scope.since, zone)
    elif days:
        first = min(days)
    else:
        return None
    if scope.until is not None:
        last = stats.local_day(scope.until - MICROSECOND, zone)
    else:
        last = max([stats.local_day(now, zone), *days])
    return first, last


def _offset_runs(
    session: Session, scope: StatsScope, zone: ZoneInfo, now: datetime
) -> list[stats.OffsetRun]:
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
    return stats.offset_runs(zone, start, end) if start < end else []


def _trend(
    scope: StatsScope, events: Events, zone: ZoneInfo, bucket: stats.Bucket | None, now: datetime
) -> TrendOut:
    days = _trend_days(scope, {*events.registered, *events.resolved, *events.overdue}, zone, now)
    if days is None:
        return TrendOut(bucket=(bucket or stats.Bucket.DAY).value, points=[])
    first, last = days
    chosen = bucket or stats.choose_bucket(first, last)
    if stats.bucket_count(first, last, chosen) > MAX_TREND_POINTS:
        field = "bucket" if bucket is not None else "since"
        raise invalid(field, f"时段过长：趋势最多 {MAX_TREND_POINTS} 个时间点")
    points = stats.trend(events.registered, events.resolved, events.overdue, first, last, chosen)
    return TrendOut(bucket=chosen.value, points=[TrendPointOut(**vars(p)) for p in points])


def _units_of_kind(session: Session, root: Unit, kind: UnitKind) -> list[Unit]:
    return list(
        session.exec(
            select(Unit)
            .where(
                col(Unit.path).startswith(root.path, autoescape=True),
                col(Unit.kind) == kind.value,
                col(Unit.active).is_(True),
            )
            .order_by(col(Unit.code))
        )
    )


def build_stats(
    session: Session,
    scope: StatsScope,
    timezone: str,
    bucket: stats.Bucket | None = None,
    now: datetime | None = None,
    weights: stats.Weights = stats.Weights(),
) -> StatsOut:
    """Every statistic of a scope (DESIGN.md "Statistics"), as ``GET /stats`` answers it."""
    zone = ZoneInfo(timezone)
    now = now or datetime.now(zone)
    target = scope.unit
    days = DayCounter(zone, _offset_runs(session, scope, zone, now))
    # The passes over the read model are independent: each on its own connection, at once.
    tally, stay_rows, (registered, durations), (resolved, overdue) = concurrently(
        session,
        lambda s: _issue_counts(s, scope),
        lambda s: _stay_rows(s, scope),
        lambda s: _registrations(s, scope, days),
        lambda s: (_resolutions(s, scope, days), _overdue_events(s, scope, days)),
    )
    events = Events(registered, resolved, overdue)
    summary = stats.summarize([c for _, c in tally.by_path], [s for _, s in stay_rows], weights)

    issues_by_unit = stats.by_unit(tally.by_path)
    stays_by_unit = stats.by_unit(stay_rows)
    children = list(
        session.exec(
            select(Unit)
            .where(col(Unit.parent_code) == target.code, col(Unit.active).is_(True))
            .order_by(col(Unit.code))
        )
    )
    of_category: dict[str, list[stats.IssueCounts]] = defaultdict(list)
    for code, c in tally.by_category:
        of_category[code].append(c)
    by_category = []
    for category in session.exec(select(Category)):
        counted = stats.summarize(of_category.get(category.code, []), [])
        by_category.append(
            CategoryCountOut(
                code=category.code,
                name=category.name,
                total=counted.total,
                open=counted.open,
                overdue=counted.overdue,
            )
        )
    by_category.sort(key=lambda c: (-c.total, c.code))

    return StatsOut(
        unit=UnitOut(code=target.code, name=target.name),
        since=scope.since,
        until=scope.until,
        category=scope.category,
        total=summary.total,
        by_status=summary.by_status,
        open=summary.open,
        warning=summary.warning,
        overdue=summary.overdue,
        resolved=summary.resolved,
        resolution_share=summary.resolution_share,
        on_time=summary.on_time,
        time_to_resolve=DurationsOut(**asdict(durations)),
        rates=_rates(summary.rates),
        open_by_level=summary.open_by_level,
        funnel=summary.funnel,
        overdue_total=summary.overdue_total,
        rankings=_rankings(children, issues_by_unit, stays_by_unit, weights),
        township_rankings=_rankings(
            _units_of_kind(session, target, UnitKind.TOWNSHIP),
            issues_by_unit,
            stays_by_unit,
            weights,
        ),
        village_rankings=_rankings(
            _units_of_kind(session, target, UnitKind.VILLAGE),
            issues_by_unit,
            stays_by_unit,
            weights,
        ),
        by_category=by_category,
        trend=_trend(scope, events, zone, bucket, now),
    )


def _alert_list(
    session: Session, conditions: list[ColumnElement[bool]], limit: int, names: dict[str, str]
) -> AlertListOut:
    total = session.exec(select(func.count()).select_from(Issue).where(*conditions)).one()
    rows = session.exec(
        select(Issue, Unit.name)
        .join(Unit, col(Unit.code) == col(Issue.unit_code), isouter=True)
        .where(*conditions)
        .order_by(col(Issue.deadline).asc(), col(Issue.registered_at).asc(), col(Issue.id))
        .limit(limit)
    ).all()
    townships = {r.township_code for r, _ in rows if r.township_code}
    township_names = {
        u.code: u.name for u in session.exec(select(Unit).where(col(Unit.code).in_(townships)))
    }
    return AlertListOut(
        count=total,
        data=[
            AlertOut(
                id=row.id,
                tracking_code=row.tracking_code,
                title=row.title,
                category=row.category,
                category_name=names.get(row.category),
                urgency=row.urgency,
                status=Status(row.status),
                status_label=labels.STATUS.get(row.status, row.status),
                level=row.level,
                level_label=labels.LEVEL.get(row.level, row.level),
                unit=UnitOut(code=row.unit_code, name=unit_name or row.unit_code),
                township=(
                    UnitOut(code=row.township_code, name=township_names[row.township_code])
                    if row.township_code in township_names
                    else None
                ),
                deadline=row.deadline,
                warnings_sent=row.warnings_sent,
                overdue=row.overdue,
                registered_at=row.registered_at,
            )
            for row, unit_name in rows
        ],
    )


def build_alerts(session: Session, scope: StatsScope, limit: int = 50) -> AlertsOut:
    """The issues warned (预警) and overdue (超期) in a scope whose clock still runs (not yet
    resolved), most pressing first."""
    base = [
        *_issues_of(scope),
        *_period(Issue.registered_at, scope),
        col(Issue.status).in_(sorted(stats.RUNNING_STATUSES)),
    ]
    names = {c.code: c.name for c in session.exec(select(Category))}
    return AlertsOut(
        unit=UnitOut(code=scope.unit.code, name=scope.unit.name),
        warning=_alert_list(
            session,
            [*base, col(Issue.overdue).is_(False), col(Issue.warnings_sent) > 0],
            limit,
            names,
        ),
        overdue=_alert_list(session, [*base, col(Issue.overdue).is_(True)], limit, names),
    )


# ---- routes -------------------------------------------------------------------------------------


@router.get("", response_model=StatsOut, responses=responses(401, 403, 422))
def unit_stats(
    scope: ScopeDep,
    session: SessionDep,
    settings: SettingsDep,
    bucket: Annotated[
        stats.Bucket | None, Query(description="趋势粒度：day 或 week；默认三个月内按日")
    ] = None,
) -> StatsOut:
    """统计：状态分布、在办层级、流转漏斗、办结层级占比、各层级按时率、办理时长、三率、
    乡镇和村红黑榜、类别分布和趋势。"""
    return build_stats(
        session,
        scope,
        settings.timezone,
        bucket,
        weights=stats.Weights(*settings.composite_weights),
    )


@router.get("/alerts", response_model=AlertsOut, responses=responses(401, 403, 422))
def alerts(
    scope: ScopeDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200, description="每个列表最多条数")] = 50,
) -> AlertsOut:
    """预警（黄）和超期（红）的在办事项，按期限先后排列，供看板实时刷新。"""
    return build_alerts(session, scope, limit)
