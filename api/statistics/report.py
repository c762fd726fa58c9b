"""Every statistic of a scope (DESIGN.md "Statistics") as ``GET /stats`` answers it and
``linkage stats`` prints it: the passes over the read model at once, their counts turned into
figures, the 红黑榜 of child units, townships and villages, the categories and the trend."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from api.duty_stats import duty_shares
from api.problems import invalid
from api.schemas import (
    CategoryCountOut,
    DurationsOut,
    RankingOut,
    RatesOut,
    StatsOut,
    TrendOut,
    TrendPointOut,
    UnitOut,
)
from api.statistics import daily, figures, tallies, trend
from api.statistics.scope import StatsScope, in_subtree
from domain.models import UnitKind
from store.db import concurrently
from store.tables import MICROSECOND, Category, Unit

MAX_TREND_POINTS = 1000


def _rates(rates: figures.Rates) -> RatesOut:
    return RatesOut(**vars(rates))  # flat: asdict's deep copy costs more than the rest


def _rankings(
    units: list[Unit],
    issues: dict[str, list[figures.IssueCounts]],
    stays: dict[str, list[figures.StayCounts]],
    weights: figures.Weights,
) -> list[RankingOut]:
    """Red list order (best composite first), each entry with its black-list (overdue) rank."""
    entries = [
        figures.Ranked(
            u.code, figures.summarize(issues.get(u.code, []), stays.get(u.code, []), weights)
        )
        for u in units
    ]
    return ranking_out(units, entries)


def ranking_out(units: list[Unit], entries: list[figures.Ranked]) -> list[RankingOut]:
    """The red list of units' summaries as answered, each with its black-list rank."""
    overdue_rank = {r.key: r.rank for r in figures.rank_by_overdue(entries)}
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
        for r in figures.rank(entries)
    ]


def _trend_days(
    scope: StatsScope, days: set[date], zone: ZoneInfo, now: datetime
) -> tuple[date, date] | None:
    """The local days a trend covers: the period, or what the data spans up to today."""
    if scope.since is not None:
        first = trend.local_day(scope.since, zone)
    elif days:
        first = min(days)
    else:
        return None
    if scope.until is not None:
        last = trend.local_day(scope.until - MICROSECOND, zone)
    else:
        last = max([trend.local_day(now, zone), *days])
    return first, last


def _trend(
    scope: StatsScope,
    events: daily.Events,
    zone: ZoneInfo,
    bucket: trend.Bucket | None,
    now: datetime,
) -> TrendOut:
    days = _trend_days(scope, {*events.registered, *events.resolved, *events.overdue}, zone, now)
    if days is None:
        return TrendOut(bucket=(bucket or trend.Bucket.DAY).value, points=[])
    first, last = days
    chosen = bucket or trend.choose_bucket(first, last)
    if trend.bucket_count(first, last, chosen) > MAX_TREND_POINTS:
        field = "bucket" if bucket is not None else "since"
        raise invalid(field, f"时段过长：趋势最多 {MAX_TREND_POINTS} 个时间点")
    points = trend.trend(events.registered, events.resolved, events.overdue, first, last, chosen)
    return TrendOut(bucket=chosen.value, points=[TrendPointOut(**vars(p)) for p in points])


def _active_units(session: Session, *conditions: ColumnElement[bool]) -> list[Unit]:
    """The active units that meet ``conditions``, by code."""
    return list(
        session.exec(
            select(Unit).where(*conditions, col(Unit.active).is_(True)).order_by(col(Unit.code))
        )
    )


def _of_kind(kind: UnitKind) -> ColumnElement[bool]:
    return col(Unit.kind) == kind.value


def build_stats(
    session: Session,
    scope: StatsScope,
    timezone: str,
    bucket: trend.Bucket | None = None,
    now: datetime | None = None,
    weights: figures.Weights = figures.Weights(),
) -> StatsOut:
    """Every statistic of a scope (DESIGN.md "Statistics"), as ``GET /stats`` answers it."""
    zone = ZoneInfo(timezone)
    now = now or datetime.now(zone)
    target = scope.unit
    days = daily.day_counter(session, scope, zone, now)

    def registrations(s: Session) -> tuple[dict[date, int], figures.Durations]:
        per_day, resolved = daily.registrations(s, scope, days)
        return per_day, tallies.time_to_resolve(s, scope, resolved)

    # The passes over the read model are independent: each on its own connection, at once.
    tally, stay_rows, (registered, durations), (resolved, overdue) = concurrently(
        session,
        lambda s: tallies.issue_counts(s, scope),
        lambda s: tallies.stay_rows(s, scope),
        registrations,
        lambda s: (daily.resolutions(s, scope, days), daily.overdue_events(s, scope, days)),
    )
    events = daily.Events(registered, resolved, overdue)
    summary = figures.summarize([c for _, c in tally.by_path], [s for _, s in stay_rows], weights)

    issues_by_unit = figures.by_unit(tally.by_path)
    stays_by_unit = figures.by_unit(stay_rows)

    def ranked(*conditions: ColumnElement[bool]) -> list[RankingOut]:
        units = _active_units(session, *conditions)
        return _rankings(units, issues_by_unit, stays_by_unit, weights)

    of_category: dict[str, list[figures.IssueCounts]] = defaultdict(list)
    for code, c in tally.by_category:
        of_category[code].append(c)
    by_category = []
    for category in session.exec(select(Category)):
        counted = figures.summarize(of_category.get(category.code, []), [])
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
        rankings=ranked(col(Unit.parent_code) == target.code),
        township_rankings=ranked(in_subtree(Unit.path, target), _of_kind(UnitKind.TOWNSHIP)),
        village_rankings=ranked(in_subtree(Unit.path, target), _of_kind(UnitKind.VILLAGE)),
        by_category=by_category,
        trend=_trend(scope, events, zone, bucket, now),
        duties=duty_shares(session, target.path, scope.since, scope.until),
    )
