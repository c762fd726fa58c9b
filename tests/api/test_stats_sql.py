"""``build_stats`` counts in SQL; here it must answer exactly what counting every row in Python
answers — the way the statistics were computed before — on SQLite and on PostgreSQL.

The read model is made by hand: issues in every status, at every level, resolved at every level,
with every feedback (given by the citizen, recorded by staff on a 回访, or from before the recorder
was kept), warned and overdue, registered around local midnight (Shanghai is UTC+8, so
the UTC day is often not the local one), with level stays of every outcome and overdue events;
the reference below loads them all and counts them one by one from the definitions in
``api/statistics/figures.py``.
"""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

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
from api.statistics import figures as stats
from api.statistics.periods import Split, split_period
from api.statistics.report import build_stats, ranking_out
from api.statistics.scope import StatsScope, resolve_scope
from api.statistics.trend import Bucket
from domain.models import OPEN_STATUSES, Outcome, Satisfaction, Status
from store.tables import Category, Issue, IssueEvent, IssueLevel, Unit

SHANGHAI = "Asia/Shanghai"
NOW = datetime(2024, 5, 2, 10, 30, tzinfo=UTC)

# A county of two townships (one with a grid under a village), a third township whose stays only
# (issues escalated into it from elsewhere) count, and an inactive village.
COUNTY = "990001"
T1, T2, T3 = "990001001", "990001002", "990001003"
V11, V12, V13 = "990001001001", "990001001002", "990001001003"  # V13 is inactive
V21, V22 = "990001002001", "990001002002"
GRID = "990001001001001"
TREE = [
    (COUNTY, "county", None),
    (T1, "township", COUNTY),
    (T2, "township", COUNTY),
    (T3, "township", COUNTY),
    (V11, "village", T1),
    (V12, "village", T1),
    (V13, "village", T1),
    (V21, "village", T2),
    (V22, "village", T2),
    (GRID, "grid", V11),
]
CATEGORIES = ["sanitation", "neighbour_dispute", "road", "unused"]


def _paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    for code, _, parent in TREE:
        paths[code] = (paths[parent] if parent else "/") + code + "/"
    return paths


PATHS = _paths()
LADDERS = {  # registering unit → the units above it, bottom first
    GRID: [GRID, V11, T1, COUNTY],
    V11: [V11, T1, COUNTY],
    V12: [V12, T1, COUNTY],
    V13: [V13, T1, COUNTY],
    V21: [V21, T2, COUNTY],
    V22: [V22, T2, COUNTY],
    T1: [T1, COUNTY],
    T2: [T2, COUNTY],
    COUNTY: [COUNTY],
}
KIND = {code: kind for code, kind, _ in TREE}


def _near_local_midnight(rng: random.Random) -> datetime:
    """A time in March–April 2024 within two hours of midnight in Shanghai (16:00 UTC)."""
    day = datetime(2024, 3, 1, 16, tzinfo=UTC) + timedelta(days=rng.randrange(55))
    return day + timedelta(seconds=rng.uniform(-7200, 7200))


def _issue(rng: random.Random, registered_at: datetime | None = None) -> Issue:
    issue_id = uuid.uuid4().hex
    unit = rng.choice(list(LADDERS))
    ladder = LADDERS[unit]
    status = rng.choice(list(Status)).value
    here = rng.randrange(len(ladder))
    at = registered_at or _near_local_midnight(rng)
    resolved = status in (Status.AWAITING_FEEDBACK, Status.CLOSED) or rng.random() < 0.1
    resolution_level = KIND[ladder[here]] if resolved else None
    # Seconds to weeks, with microseconds; now and then a resolution without its time.
    resolved_at = at + timedelta(seconds=rng.expovariate(1 / 200_000)) if resolved else None
    if resolved and rng.random() < 0.05:
        resolved_at = None
    satisfaction = rng.choice([None, *(s.value for s in Satisfaction)])
    # None: a feedback recorded before the recorder was kept, read as the citizen's.
    recorder = rng.choice(["citizen", "citizen", "supervisor", "leader", None])
    return Issue(
        id=issue_id,
        tracking_code=issue_id[:16].upper(),
        category=rng.choice(CATEGORIES[:3]),
        title="对照",
        description="逐行对照",
        urgency="normal",
        channel="walk_in",
        village_code=unit if KIND[unit] == "village" else None,
        township_code=next((c for c in ladder if KIND[c] == "township"), None),
        county_code=COUNTY,
        unit_code=ladder[here],
        unit_path=PATHS[ladder[here]],
        registered_unit_path=PATHS[unit],
        level=KIND[ladder[here]],
        status=status,
        registered_at=at,
        updated_at=at,
        overdue=rng.random() < 0.3,
        warnings_sent=rng.choice([0, 0, 1, 2, 3]),
        resolution_level=resolution_level,
        resolved_at=resolved_at,
        feedback_solved=rng.choice([None, True, False]) if satisfaction else None,
        feedback_satisfaction=satisfaction,
        feedback_by_role=recorder if satisfaction else None,
    )


def _stays(rng: random.Random, issue: Issue) -> list[IssueLevel]:
    ladder = LADDERS[next(u for u, p in PATHS.items() if p == issue.registered_unit_path)]
    units = ladder[: ladder.index(issue.unit_code) + 1]
    if rng.random() < 0.1:
        units = [*units, T3]  # transferred sideways, out of the registering township
    if rng.random() < 0.03:
        units = [*units, "ghost"]  # a unit the tree does not know: counted nowhere
    stays = []
    entered = issue.registered_at
    for idx, unit in enumerate(units):
        stays.append(
            IssueLevel(
                issue_id=issue.id,
                idx=idx,
                level=KIND.get(unit, "village"),
                unit_code=unit,
                unit_name=unit,
                entered_at=entered,
                deadline=entered + timedelta(days=3),
                accept_deadline=entered + timedelta(days=1),
                accepted_on_time=rng.choice([None, True, False]),
                outcome=rng.choice([None, *(o.value for o in Outcome)]),
                on_time=rng.choice([None, True, False]),
            )
        )
        entered += timedelta(hours=rng.uniform(0, 50))
    return stays


def _events(rng: random.Random, issue: Issue) -> list[IssueEvent]:
    events = []
    for seq in range(rng.choice([0, 1, 1, 2])):
        kind = "overdue" if issue.overdue and rng.random() < 0.8 else "warned"
        events.append(
            IssueEvent(
                issue_id=issue.id,
                seq=seq + 1,
                type=kind,
                at=_near_local_midnight(rng),
                actor_user="system",
                actor_role="system",
            )
        )
    return events


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    rng = random.Random(20240331)
    edges = [
        # 23:59:59.9996 local: SQLite's date functions round it to the next day.
        datetime(2024, 3, 9, 15, 59, 59, 999_600, tzinfo=UTC),
        datetime(2024, 3, 9, 16, 0, tzinfo=UTC),  # midnight local exactly
        datetime(2024, 3, 9, 15, 59, 59, tzinfo=UTC),
        datetime(2023, 12, 31, 16, 30, tzinfo=UTC),  # 1 January 2024 in Shanghai
    ]
    issues = [_issue(rng, at) for at in edges] + [_issue(rng) for _ in range(400)]
    with Session(db_engine, expire_on_commit=False) as session:
        for code, kind, parent in TREE:
            session.add(
                Unit(
                    code=code,
                    name=f"单位{code}",
                    kind=kind,
                    parent_code=parent,
                    path=PATHS[code],
                    depth=PATHS[code].count("/") - 1,
                    active=code != V13,
                )
            )
            session.flush()
        session.add_all(Category(code=c, name=f"类别{c}") for c in CATEGORIES)
        session.add_all(issues)
        session.flush()
        for issue in issues:
            session.add_all(_stays(rng, issue))
            session.add_all(_events(rng, issue))
        session.commit()
        yield session


# ---- the reference: every row loaded, counted one by one ----------------------------------------


def _in(moment: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    return (
        moment is not None
        and (since is None or moment >= since)
        and (until is None or moment < until)
    )


def _summary(issues: list[Issue], stays: list[IssueLevel], weights: stats.Weights) -> Any:
    running = [i for i in issues if i.status in stats.RUNNING_STATUSES]
    by_status = {status: 0 for status in stats.STATUSES}  # all but invalid (无效)
    for i in issues:
        by_status[i.status] = by_status.get(i.status, 0) + 1
    resolved = [i.resolution_level for i in issues if i.resolution_level is not None]
    left = [s for s in stays if s.outcome is not None and s.outcome != Outcome.WITHDRAWN.value]
    settled = [s for s in stays if s.accepted_on_time is not None]
    rated = [i for i in issues if i.feedback_satisfaction is not None]
    response = stats.ratio(sum(1 for s in settled if s.accepted_on_time), len(settled))
    resolution = stats.ratio(sum(1 for i in rated if i.feedback_solved), len(rated))
    satisfaction = stats.ratio(
        sum(1 for i in rated if i.feedback_satisfaction == "satisfied")
        + 0.9 * sum(1 for i in rated if i.feedback_satisfaction == "basically_satisfied"),
        len(rated),
    )
    composite = None
    if response is not None and resolution is not None and satisfaction is not None:
        composite = (
            weights.response * response
            + weights.resolution * resolution
            + weights.satisfaction * satisfaction
        )
    recorders = Counter(i.feedback_by_role or "citizen" for i in rated)
    by_citizen = recorders.pop("citizen", 0)
    open_by_level = dict.fromkeys(stats.COUNTED_LEVELS, 0)
    for i in issues:
        if i.status in OPEN_STATUSES:
            open_by_level[i.level] = open_by_level.get(i.level, 0) + 1
    reached = [stats.LEVEL_ORDER.get(i.level, 0) for i in issues]
    return stats.Summary(
        total=len(issues),
        by_status=by_status,
        open=sum(1 for i in issues if i.status in OPEN_STATUSES),
        warning=sum(1 for i in running if i.warnings_sent and not i.overdue),
        overdue=sum(1 for i in running if i.overdue),
        resolved=len(resolved),
        resolution_share={
            lvl: stats.ratio(resolved.count(lvl), len(resolved)) for lvl in stats.COUNTED_LEVELS
        },
        on_time={
            lvl: stats.ratio(
                sum(1 for s in left if s.level == lvl and s.on_time),
                sum(1 for s in left if s.level == lvl),
            )
            for lvl in stats.COUNTED_LEVELS
        },
        rates=stats.Rates(
            response,
            resolution,
            satisfaction,
            composite,
            len(settled),
            sum(1 for s in settled if s.accepted_on_time),
            len(rated),
            by_citizen,
            len(rated) - by_citizen,
            {"citizen": by_citizen, **dict(sorted(recorders.items()))},
        ),
        open_by_level=open_by_level,
        funnel={
            "village": len(issues),
            "township": sum(1 for r in reached if r >= stats.LEVEL_ORDER["township"]),
            "county": sum(1 for r in reached if r >= stats.LEVEL_ORDER["county"]),
        },
        overdue_total=sum(1 for i in issues if i.overdue),
    )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def reference(
    session: Session, scope: StatsScope, timezone: str, bucket: Bucket | None = None
) -> StatsOut:
    zone, root = ZoneInfo(timezone), scope.unit.path
    weights = stats.Weights()
    units = list(session.exec(select(Unit)))
    everything = list(session.exec(select(Issue)))
    of_scope = [
        i
        for i in everything
        if i.registered_unit_path.startswith(root)
        and (scope.category is None or i.category == scope.category)
    ]
    # Issues marked invalid (无效) count in no unit's figures.
    issues = [
        i
        for i in of_scope
        if i.status != Status.INVALID and _in(i.registered_at, scope.since, scope.until)
    ]
    by_id = {i.id: i for i in everything}
    unit_path = {u.code: u.path for u in units}
    stays = [
        s
        for s in session.exec(select(IssueLevel))
        # A stay that ended in an invalid mark (无效) is no stay of the unit's.
        if s.outcome != Outcome.INVALID
        and unit_path.get(s.unit_code, "").startswith(root)
        and _in(s.entered_at, scope.since, scope.until)
        and (scope.category is None or by_id[s.issue_id].category == scope.category)
    ]

    def under(code: str, path: str) -> bool:
        return code in path.strip("/").split("/")

    def ranking(selected: list[Unit]) -> list[RankingOut]:
        selected = sorted(selected, key=lambda u: u.code)
        entries = [
            stats.Ranked(
                u.code,
                _summary(
                    [i for i in issues if under(u.code, i.registered_unit_path)],
                    [s for s in stays if under(u.code, unit_path[s.unit_code])],
                    weights,
                ),
            )
            for u in selected
        ]
        return ranking_out(selected, entries)

    def of_kind(kind: str) -> list[Unit]:
        return [u for u in units if u.kind == kind and u.path.startswith(root) and u.active]

    categories = []
    for category in session.exec(select(Category)):
        mine = [i for i in issues if i.category == category.code]
        categories.append(
            CategoryCountOut(
                code=category.code,
                name=category.name,
                total=len(mine),
                open=sum(1 for i in mine if i.status in OPEN_STATUSES),
                overdue=sum(1 for i in mine if i.status in stats.RUNNING_STATUSES and i.overdue),
            )
        )
    categories.sort(key=lambda c: (-c.total, c.code))

    seconds = [
        (i.resolved_at - i.registered_at).total_seconds()
        for i in issues
        if i.resolved_at is not None
    ]
    summary = _summary(issues, stays, weights)
    registered = [i.registered_at for i in issues]
    # Issues marked invalid (无效) are in no figure, the trend's included.
    valid = [i for i in of_scope if i.status != Status.INVALID]
    resolved = [
        i.resolved_at
        for i in valid
        if i.resolved_at is not None and _in(i.resolved_at, scope.since, scope.until)
    ]
    in_scope = {i.id for i in valid}
    overdue = [
        e.at
        for e in session.exec(select(IssueEvent))
        if e.type == "overdue" and e.issue_id in in_scope and _in(e.at, scope.since, scope.until)
    ]
    return StatsOut(
        unit=UnitOut(code=scope.unit.code, name=scope.unit.name),
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
        time_to_resolve=DurationsOut(
            count=len(seconds),
            median_seconds=_percentile(seconds, 0.5),
            p90_seconds=_percentile(seconds, 0.9),
        ),
        rates=RatesOut(**vars(summary.rates)),
        open_by_level=summary.open_by_level,
        funnel=summary.funnel,
        overdue_total=summary.overdue_total,
        rankings=ranking([u for u in units if u.parent_code == scope.unit.code and u.active]),
        township_rankings=ranking(of_kind("township")),
        village_rankings=ranking(of_kind("village")),
        by_category=categories,
        trend=_reference_trend(scope, registered, resolved, overdue, zone, bucket),
    )


def _reference_trend(
    scope: StatsScope,
    registered: list[datetime],
    resolved: list[datetime],
    overdue: list[datetime],
    zone: ZoneInfo,
    bucket: Bucket | None,
) -> TrendOut:
    local = [m.astimezone(zone).date() for m in registered + resolved + overdue]
    if scope.since is None and not local:
        return TrendOut(bucket=(bucket or Bucket.DAY).value, points=[])
    first = scope.since.astimezone(zone).date() if scope.since else min(local)
    last = (
        (scope.until - timedelta(microseconds=1)).astimezone(zone).date()
        if scope.until
        else max([NOW.astimezone(zone).date(), *local])
    )
    chosen = bucket or (Bucket.DAY if (last - first).days < 92 else Bucket.WEEK)

    def start(day: date) -> date:
        return day - timedelta(days=day.weekday()) if chosen is Bucket.WEEK else day

    def tally(instants: list[datetime]) -> dict[date, int]:
        counts: dict[date, int] = defaultdict(int)
        for moment in instants:
            day = moment.astimezone(zone).date()
            if first <= day <= last:
                counts[start(day)] += 1
        return counts

    reg, res, late = tally(registered), tally(resolved), tally(overdue)
    step = timedelta(days=7 if chosen is Bucket.WEEK else 1)
    starts, day = [], start(first)
    while day <= start(last):
        starts.append(day)
        day += step
    return TrendOut(
        bucket=chosen.value,
        points=[
            TrendPointOut(start=s, registered=reg[s], resolved=res[s], overdue=late[s])
            for s in starts
        ],
    )


# ---- the comparisons ----------------------------------------------------------------------------

SCOPES: list[tuple[str, str | None, str | None, str | None, str, Bucket | None]] = [
    # (unit, since, until, category, zone, bucket): naive times are read in the zone
    (COUNTY, None, None, None, SHANGHAI, None),
    (COUNTY, "2024-03-10", "2024-04-05", None, SHANGHAI, None),
    (COUNTY, "2024-03-10", "2024-04-05", None, SHANGHAI, Bucket.WEEK),
    (COUNTY, "2024-03-05T07:30:00", "2024-04-20T23:59:59.5", "sanitation", SHANGHAI, None),
    (T1, "2024-03-20", None, None, SHANGHAI, Bucket.DAY),
    (T1, None, "2024-04-01", "neighbour_dispute", SHANGHAI, Bucket.WEEK),
    (V11, None, None, None, SHANGHAI, None),
    (T2, "2025-01-01", "2025-01-08", None, SHANGHAI, None),  # nothing in it
    (COUNTY, None, None, "unused", SHANGHAI, None),  # nothing at all: no trend
    (COUNTY, "2024-03-25", "2024-04-03", None, "Europe/Berlin", None),  # summer time on the 31st
    (COUNTY, None, None, None, "America/St_Johns", Bucket.WEEK),  # −03:30
    # Whole UTC months from the tallies, the partial ones at either end from the rows.
    (COUNTY, "2024-03-10", "2024-05-01T12:00:00", None, SHANGHAI, None),
    (T1, "2024-03-10", "2024-05-01T12:00:00", "road", SHANGHAI, Bucket.WEEK),
    (COUNTY, "2024-02-20", None, "sanitation", SHANGHAI, None),
    (COUNTY, None, "2024-04-01T08:00:00", None, "Europe/Berlin", None),
    # The tree's whole trend from the hour tallies, the part-hours at either end from the rows.
    (COUNTY, "2024-03-05T07:30:00", "2024-04-20T23:59:59.5", None, SHANGHAI, None),
]


def _scope(
    session: Session,
    unit: str,
    since: str | None,
    until: str | None,
    category: str | None,
    zone: str,
) -> StatsScope:
    def moment(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text) if text else None

    return resolve_scope(session, unit, moment(since), moment(until), category, zone)


def test_sql_counts_equal_counting_every_row(session: Session) -> None:
    for unit, since, until, category, zone, bucket in SCOPES:
        scope = _scope(session, unit, since, until, category, zone)
        expected = reference(session, scope, zone, bucket)
        answered = build_stats(session, scope, zone, bucket, now=NOW)
        assert answered.model_dump(mode="json") == expected.model_dump(mode="json"), (
            unit,
            since,
            until,
            category,
            zone,
            bucket,
        )


def test_a_period_splits_into_whole_utc_months_and_edges() -> None:
    def at(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert split_period(None, None) == Split((None, None), [])
    assert split_period(at("2024-03-01"), at("2024-05-01")) == Split(("2024-03", "2024-05"), [])
    assert split_period(at("2024-03-09T16:00"), at("2024-05-01T04:00")) == Split(
        ("2024-04", "2024-05"),
        [(at("2024-03-09T16:00"), at("2024-04-01")), (at("2024-05-01"), at("2024-05-01T04:00"))],
    )
    assert split_period(at("2024-12-31T16:00"), None) == Split(
        ("2025-01", None), [(at("2024-12-31T16:00"), at("2025-01-01"))]
    )
    # Within one month: no whole month to read.
    assert split_period(at("2024-03-09"), at("2024-03-20")) == Split(
        None, [(at("2024-03-09"), at("2024-03-20"))]
    )
    assert split_period(at("2024-03-09"), at("2024-04-01")) == Split(
        None, [(at("2024-03-09"), at("2024-04-01"))]
    )


def test_the_data_tells_local_days_from_utc_days(session: Session) -> None:
    """The comparison above would catch a trend counted by UTC day, and the rest is not empty."""
    scope = _scope(session, COUNTY, None, None, None, SHANGHAI)
    local = reference(session, scope, SHANGHAI)
    assert local.trend != reference(session, scope, "UTC").trend
    assert local.total > 300 and local.overdue_total and local.warning and local.overdue
    # Some issues are marked invalid (无效), so the comparison above checks they count nowhere.
    assert session.exec(select(func.count()).where(Issue.status == Status.INVALID)).one() > 0
    assert all(local.by_status.values()) and all(local.open_by_level.values())
    assert local.time_to_resolve.count and all(v for v in local.on_time.values())
    assert {r.overdue_rank for r in local.village_rankings} != {1}
    # A stay of T3 counts for T3 alone (issues registered elsewhere), a stay at an unknown unit
    # for nobody.
    t3 = next(r for r in local.township_rankings if r.unit.code == T3)
    assert t3.total == 0 and t3.rates.dispatched > 0
    # Feedback of every recorder, so the comparison above checks the split: the citizen's own
    # (rows without a recorder among them), and staff's 回访 by role, in the totals and per unit.
    everyone = list(session.exec(select(Issue)))
    assert any(i.feedback_satisfaction and i.feedback_by_role is None for i in everyone)
    rates = local.rates
    assert set(rates.feedback_by) == {"citizen", "leader", "supervisor"}
    assert rates.feedback_by_citizen == rates.feedback_by["citizen"] > 0
    assert rates.feedback_by_staff == rates.feedback_by["leader"] + rates.feedback_by["supervisor"]
    assert rates.feedback_by_citizen + rates.feedback_by_staff == rates.feedback > 0
    assert all(r.rates.feedback_by_staff for r in local.township_rankings if r.unit.code != T3)
