"""Statistics of a unit's subtree over a period (read model only; the counting is api/stats.py).

``build_stats`` and ``build_alerts`` are plain functions over a session, so the ``linkage stats``
command prints exactly what ``GET /stats`` answers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, func
from sqlalchemy import select as select_columns
from sqlmodel import Session, col, select

from api import stats
from api.deps import API_PREFIX, STAFF_ROLES, CurrentPrincipal, SessionDep, SettingsDep
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
from domain import labels
from domain.models import EventType, Status, UnitKind
from store.tables import Category, Issue, IssueEvent, IssueLevel, Unit

router = APIRouter(prefix=f"{API_PREFIX}/stats", tags=["stats"])

MAX_TREND_POINTS = 1000
FIRST_YEAR, LAST_YEAR = 1900, 9998  # far from datetime's limits, whatever the zone

IssueRow = tuple[str, str, stats.IssueFacts]  # (registered unit path, category, facts)
LevelRow = tuple[str, stats.LevelFacts]  # (unit path, facts)


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
    since: Annotated[datetime | None, Query(description="登记时间下限（含）")] = None,
    until: Annotated[datetime | None, Query(description="登记时间上限（不含）")] = None,
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


# ---- loading ------------------------------------------------------------------------------------


def _period(column: Any, scope: StatsScope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.since is not None:
        conditions.append(col(column) >= scope.since)
    if scope.until is not None:
        conditions.append(col(column) < scope.until)
    return conditions


def _issues_of(scope: StatsScope) -> list[ColumnElement[bool]]:
    # Issues count for the subtree where they were registered: "小事不出村" asks where an issue
    # that arose here was finally resolved.
    conditions = [col(Issue.registered_unit_path).startswith(scope.unit.path, autoescape=True)]
    if scope.category is not None:
        conditions.append(col(Issue.category) == scope.category)
    return conditions


def _issue_rows(session: Session, scope: StatsScope) -> list[IssueRow]:
    """(registered unit path, category, facts) of the issues registered in the period."""
    # Columns, not rows: counting needs a dozen fields of what may be many thousands of issues.
    query = select_columns(
        col(Issue.registered_unit_path),
        col(Issue.category),
        col(Issue.status),
        col(Issue.registered_at),
        col(Issue.overdue),
        col(Issue.warnings_sent),
        col(Issue.resolution_level),
        col(Issue.resolved_at),
        col(Issue.feedback_solved),
        col(Issue.feedback_satisfaction),
        col(Issue.level),
    ).where(*_issues_of(scope), *_period(Issue.registered_at, scope))
    return [
        (
            path,
            category,
            stats.IssueFacts(
                status=status,
                registered_at=registered_at,
                overdue=overdue,
                warnings_sent=warnings_sent,
                resolution_level=resolution_level,
                resolved_at=resolved_at,
                feedback_solved=feedback_solved,
                feedback_satisfaction=feedback_satisfaction,
                level=level,
            ),
        )
        for (
            path,
            category,
            status,
            registered_at,
            overdue,
            warnings_sent,
            resolution_level,
            resolved_at,
            feedback_solved,
            feedback_satisfaction,
            level,
        ) in session.connection().execute(query)
    ]


def _level_rows(session: Session, scope: StatsScope) -> list[LevelRow]:
    # A stay counts for the unit that had the issue during it: response and on-time are that
    # unit's record, wherever the issue came from.
    query = (
        select_columns(
            col(Unit.path),
            col(IssueLevel.level),
            col(IssueLevel.outcome),
            col(IssueLevel.on_time),
            col(IssueLevel.accepted_on_time),
        )
        .join(Unit, col(Unit.code) == col(IssueLevel.unit_code))
        .where(
            col(Unit.path).startswith(scope.unit.path, autoescape=True),
            *_period(IssueLevel.entered_at, scope),
        )
    )
    if scope.category is not None:
        query = query.join(Issue, col(Issue.id) == col(IssueLevel.issue_id)).where(
            col(Issue.category) == scope.category
        )
    return [
        (path, stats.LevelFacts(level=level, outcome=outcome, on_time=on_time, accepted_on_time=ok))
        for path, level, outcome, on_time, ok in session.connection().execute(query)
    ]


def _resolved_instants(session: Session, scope: StatsScope) -> list[datetime]:
    query = select(Issue.resolved_at).where(
        *_issues_of(scope),
        col(Issue.resolved_at).is_not(None),
        *_period(Issue.resolved_at, scope),
    )
    return [at for at in session.exec(query) if at is not None]


def _overdue_instants(session: Session, scope: StatsScope) -> list[datetime]:
    query = (
        select(IssueEvent.at)
        .join(Issue, col(Issue.id) == col(IssueEvent.issue_id))
        .where(
            col(IssueEvent.type) == EventType.OVERDUE.value,
            *_issues_of(scope),
            *_period(IssueEvent.at, scope),
        )
    )
    return list(session.exec(query))


# ---- assembling ---------------------------------------------------------------------------------


def _rates(rates: stats.Rates) -> RatesOut:
    return RatesOut(**asdict(rates))


def _rankings(
    units: list[Unit],
    issues: dict[str, list[stats.IssueFacts]],
    levels: dict[str, list[stats.LevelFacts]],
    weights: stats.Weights,
) -> list[RankingOut]:
    """Red list order (best composite first), each entry with its black-list (overdue) rank."""
    entries = [
        stats.Ranked(
            u.code, stats.summarize(issues.get(u.code, []), levels.get(u.code, []), weights)
        )
        for u in units
    ]
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
    scope: StatsScope, instants: list[datetime], zone: ZoneInfo, now: datetime
) -> tuple[date, date] | None:
    """The local days a trend covers: the period, or what the data spans up to today."""
    local = [moment.astimezone(zone).date() for moment in instants]
    if scope.since is not None:
        first = scope.since.astimezone(zone).date()
    elif local:
        first = min(local)
    else:
        return None
    if scope.until is not None:
        last = (scope.until - timedelta(microseconds=1)).astimezone(zone).date()
    else:
        last = max([now.astimezone(zone).date(), *local])
    return first, last


def _trend(
    session: Session,
    scope: StatsScope,
    registered: list[datetime],
    zone: ZoneInfo,
    bucket: stats.Bucket | None,
    now: datetime,
) -> TrendOut:
    resolved = _resolved_instants(session, scope)
    overdue = _overdue_instants(session, scope)
    days = _trend_days(scope, registered + resolved + overdue, zone, now)
    if days is None:
        return TrendOut(bucket=(bucket or stats.Bucket.DAY).value, points=[])
    first, last = days
    chosen = bucket or stats.choose_bucket(first, last)
    if stats.bucket_count(first, last, chosen) > MAX_TREND_POINTS:
        field = "bucket" if bucket is not None else "since"
        raise invalid(field, f"时段过长：趋势最多 {MAX_TREND_POINTS} 个时间点")
    points = stats.trend(registered, resolved, overdue, first, last, chosen, zone)
    return TrendOut(bucket=chosen.value, points=[TrendPointOut(**asdict(p)) for p in points])


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
    issue_rows = _issue_rows(session, scope)
    level_rows = _level_rows(session, scope)
    facts = [f for _, _, f in issue_rows]
    summary = stats.summarize(facts, [f for _, f in level_rows], weights)

    issues_by_unit = stats.by_unit((path, f) for path, _, f in issue_rows)
    levels_by_unit = stats.by_unit(level_rows)
    children = list(
        session.exec(
            select(Unit)
            .where(col(Unit.parent_code) == target.code, col(Unit.active).is_(True))
            .order_by(col(Unit.code))
        )
    )
    of_category: dict[str, list[stats.IssueFacts]] = defaultdict(list)
    for _, code, f in issue_rows:
        of_category[code].append(f)
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
        time_to_resolve=DurationsOut(**asdict(summary.time_to_resolve)),
        rates=_rates(summary.rates),
        open_by_level=summary.open_by_level,
        funnel=summary.funnel,
        overdue_total=summary.overdue_total,
        rankings=_rankings(children, issues_by_unit, levels_by_unit, weights),
        township_rankings=_rankings(
            _units_of_kind(session, target, UnitKind.TOWNSHIP),
            issues_by_unit,
            levels_by_unit,
            weights,
        ),
        village_rankings=_rankings(
            _units_of_kind(session, target, UnitKind.VILLAGE),
            issues_by_unit,
            levels_by_unit,
            weights,
        ),
        by_category=by_category,
        trend=_trend(session, scope, [f.registered_at for f in facts], zone, bucket, now),
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
