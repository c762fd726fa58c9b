"""The rest of the statistics — open by level, the escalation funnel, 黑榜, per-unit rankings,
categories, the trend and the alert lists — first as pure functions over counts, then through
``GET /stats`` over hand-made rows whose every number is worked out below.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from api.statistics.figures import (
    IssueCounts,
    Ranked,
    StayCounts,
    by_unit,
    escalation_funnel,
    open_by_level,
    rank,
    rank_by_overdue,
    summarize,
)
from api.statistics.trend import Bucket, TrendPoint, bucket_count, choose_bucket, local_day, trend
from store.tables import Category, Issue, IssueEvent, IssueLevel
from tests.api.conftest import COUNTY, Api, problem

SHANGHAI = ZoneInfo("Asia/Shanghai")

# ---- pure functions -----------------------------------------------------------------------------


def facts(
    status: str = "closed",
    level: str = "village",
    *,
    overdue: bool = False,
    warnings_sent: int = 0,
    resolution_level: str | None = None,
    feedback_solved: bool | None = None,
    feedback_satisfaction: str | None = None,
) -> IssueCounts:
    """The counts of one issue at ``level``, as the read model's GROUP BY makes them."""
    return IssueCounts(
        status=status,
        total=1,
        overdue=int(overdue),
        warned=int(bool(warnings_sent) and not overdue),
        resolved=int(resolution_level is not None),
        resolved_by_level={resolution_level: 1} if resolution_level else {},
        at_level={level: 1},
        feedback=int(feedback_satisfaction is not None),
        solved=int(feedback_satisfaction is not None and bool(feedback_solved)),
        satisfied=int(feedback_satisfaction == "satisfied"),
        basically_satisfied=int(feedback_satisfaction == "basically_satisfied"),
    )


def days(instants: Iterable[datetime]) -> Counter[date]:
    """How many instants fall on each Shanghai day (what the read model counts per day)."""
    return Counter(local_day(moment, SHANGHAI) for moment in instants)


def test_open_by_level_counts_open_issues_where_they_sit_now() -> None:
    issues = [
        facts("pending_accept", "village"),
        facts("in_progress", "village"),
        facts("awaiting_feedback", "township"),  # resolved, not yet rated: still open
        facts("in_progress", "county"),
        facts("closed", "county"),
        facts("withdrawn", "township"),
    ]
    assert open_by_level(issues) == {"village": 2, "township": 1, "county": 1}
    assert open_by_level([]) == {"village": 0, "township": 0, "county": 0}
    # A rung below the village (a grid) shows up only when it holds something.
    assert open_by_level([facts("in_progress", "grid")])["grid"] == 1


def test_escalation_funnel_counts_issues_that_reached_each_level() -> None:
    # 5 issues: 2 never left the village, 1 stopped at the township, 2 reached the county.
    issues = [facts(level="village")] * 2 + [facts(level="township")] + [facts(level="county")] * 2
    assert escalation_funnel(issues) == {"village": 5, "township": 3, "county": 2}
    assert escalation_funnel([]) == {"village": 0, "township": 0, "county": 0}


def test_overdue_now_and_overdue_ever() -> None:
    issues = [
        facts("in_progress", "county", overdue=True, warnings_sent=3),
        facts("closed", "county", overdue=True, resolution_level="county"),  # late, now done
        facts("in_progress", "village", warnings_sent=1),
        facts("pending_accept", "township", warnings_sent=2),  # warned at the village before
        # Resolved late, awaiting the citizen's rating: open, but no clock of a unit runs.
        facts(
            "awaiting_feedback", "county", overdue=True, warnings_sent=2, resolution_level="county"
        ),
        facts("awaiting_feedback", "village", warnings_sent=1, resolution_level="village"),
    ]
    summary = summarize(issues, [])
    assert summary.open == 5
    assert (summary.overdue, summary.overdue_total, summary.warning) == (1, 3, 2)


def test_rows_are_gathered_under_every_unit_on_their_path() -> None:
    rows = [
        ("/611025/611025001/611025001001/", "a"),
        ("/611025/611025001/", "b"),
        ("/611025/", "c"),
    ]
    grouped = by_unit(rows)
    assert grouped["611025"] == ["a", "b", "c"]
    assert grouped["611025001"] == ["a", "b"]
    assert grouped["611025001001"] == ["a"]
    assert "611025999" not in grouped


def _unit(
    key: str, rated: int = 0, solved: int = 0, overdue_open: int = 0, late: int = 0
) -> Ranked:
    """A unit with ``rated`` feedbacks (``solved`` of them solved and satisfied, each stay accepted
    on time when solved), ``overdue_open`` issues overdue now and ``late`` overdue and closed."""
    issues = [
        facts(
            feedback_solved=i < solved,
            feedback_satisfaction="satisfied" if i < solved else "unsatisfied",
        )
        for i in range(rated)
    ]
    issues += [facts("in_progress", "county", overdue=True) for _ in range(overdue_open)]
    issues += [facts("closed", "county", overdue=True) for _ in range(late)]
    levels = [
        StayCounts("village", settled=1, accepted_on_time=int(i < solved)) for i in range(rated)
    ]
    return Ranked(key, summarize(issues, levels))


def test_black_list_most_overdue_first_then_open_overdue_then_lower_composite() -> None:
    entries = [
        _unit("good", rated=2, solved=2),  # composite 1.0, never late
        _unit("late-closed", rated=2, solved=2, late=2),  # 2 ever overdue, none open
        _unit("late-open", rated=2, solved=1, overdue_open=1, late=1),  # 2 ever, 1 open
        _unit("late-open-twin", rated=2, solved=1, overdue_open=1, late=1),  # ties with it
        _unit("quiet"),  # nothing at all
        _unit("one-late", late=1),  # 1 ever overdue, no composite
    ]
    black = rank_by_overdue(entries)
    assert [(r.key, r.rank) for r in black] == [
        ("late-open", 1),
        ("late-open-twin", 1),
        ("late-closed", 3),
        ("one-late", 4),
        ("good", 5),
        ("quiet", 6),
    ]
    red = rank(entries)
    # composite 1.0 for good and late-closed; 0.5 for the twins; none for quiet and one-late.
    assert [(r.key, r.rank) for r in red] == [
        ("good", 1),
        ("late-closed", 1),
        ("late-open", 3),
        ("late-open-twin", 3),
        ("one-late", 5),
        ("quiet", 5),
    ]
    assert rank_by_overdue([]) == []


def test_trend_by_day_in_the_county_zone_with_empty_days_as_zeros() -> None:
    def at(day: int, hour: int) -> datetime:  # local (Shanghai) time
        return datetime(2026, 3, day, hour, tzinfo=SHANGHAI)

    registered = [
        at(2, 9),
        at(2, 23),
        # 07:00 in Shanghai is 23:00 UTC the day before: it belongs to 3 March here.
        datetime(2026, 3, 2, 23, tzinfo=UTC),
        at(5, 10),
        at(9, 10),  # after the last day: left out
    ]
    resolved = [at(3, 12), at(5, 18)]
    overdue = [at(1, 12), at(4, 8)]  # 1 March is before the first day: left out
    points = trend(
        days(registered),
        days(resolved),
        days(overdue),
        date(2026, 3, 2),
        date(2026, 3, 6),
        Bucket.DAY,
    )
    assert points == [
        TrendPoint(date(2026, 3, 2), 2, 0, 0),
        TrendPoint(date(2026, 3, 3), 1, 1, 0),
        TrendPoint(date(2026, 3, 4), 0, 0, 1),
        TrendPoint(date(2026, 3, 5), 1, 1, 0),
        TrendPoint(date(2026, 3, 6), 0, 0, 0),
    ]


def test_trend_by_week_starts_on_monday() -> None:
    # Wednesday 4 March to Tuesday 17 March 2026: three ISO weeks (2, 9 and 16 March).
    registered = [
        datetime(2026, 3, 4, 10, tzinfo=SHANGHAI),
        datetime(2026, 3, 8, 10, tzinfo=SHANGHAI),  # Sunday: still the week of 2 March
        datetime(2026, 3, 9, 0, 30, tzinfo=SHANGHAI),
    ]
    points = trend(days(registered), {}, {}, date(2026, 3, 4), date(2026, 3, 17), Bucket.WEEK)
    assert [(p.start, p.registered) for p in points] == [
        (date(2026, 3, 2), 2),
        (date(2026, 3, 9), 1),
        (date(2026, 3, 16), 0),
    ]
    assert bucket_count(date(2026, 3, 4), date(2026, 3, 17), Bucket.WEEK) == 3
    assert bucket_count(date(2026, 3, 4), date(2026, 3, 17), Bucket.DAY) == 14


def test_trend_of_an_empty_period_is_all_zeros_and_days_or_weeks_by_length() -> None:
    points = trend({}, {}, {}, date(2026, 1, 1), date(2026, 1, 3), Bucket.DAY)
    assert [(p.registered, p.resolved, p.overdue) for p in points] == [(0, 0, 0)] * 3
    assert trend({}, {}, {}, date(2026, 1, 3), date(2026, 1, 1), Bucket.DAY) == []
    assert choose_bucket(date(2026, 1, 1), date(2026, 4, 1)) is Bucket.DAY  # 90 days
    assert choose_bucket(date(2026, 1, 1), date(2026, 4, 3)) is Bucket.WEEK  # 92 days


# ---- GET /stats over hand-made rows -------------------------------------------------------------

TOWNSHIP = "611025114"  # 庙沟镇: only this module writes here, and only in April 2024
V1 = "611025114200"  # 三联村委会
V2 = "611025114201"  # 五一村委会
V3 = "611025114202"  # 五四村委会: issues, but no feedback yet
QUIET = "611025114206"  # 中坪村委会: no issues at all
PERIOD = {"since": "2024-04-01", "until": "2024-04-15"}


def local(day: int, hour: int) -> datetime:
    """A time in April 2024, Shanghai."""
    return datetime(2024, 4, day, hour, tzinfo=SHANGHAI).astimezone(UTC)


def _path(code: str) -> str:
    if code == COUNTY:
        return f"/{COUNTY}/"
    if code == TOWNSHIP:
        return f"/{COUNTY}/{TOWNSHIP}/"
    return f"/{COUNTY}/{TOWNSHIP}/{code}/"


def _issue(village: str, status: str, at: datetime, **fields: Any) -> Issue:
    issue_id = uuid.uuid4().hex
    unit = fields.pop("unit", village)
    values: dict[str, Any] = {
        "id": issue_id,
        "tracking_code": issue_id[:12].upper(),
        "category": "sanitation",
        "title": f"统计样例 {village}",
        "description": "统计用",
        "urgency": "normal",
        "channel": "walk_in",
        "village_code": village,
        "township_code": TOWNSHIP,
        "county_code": COUNTY,
        "unit_code": unit,
        "unit_path": _path(unit),
        "registered_unit_path": _path(village),
        "level": "village",
        "status": status,
        "registered_at": at,
        "updated_at": at,
        "deadline": at + timedelta(days=3),
    }
    values.update(fields)
    return Issue(**values)


def _stay(
    issue: Issue,
    idx: int,
    unit: str,
    at: datetime,
    accepted: bool | None,
    outcome: str | None = None,
    on_time: bool | None = None,
) -> IssueLevel:
    level = {COUNTY: "county", TOWNSHIP: "township"}.get(unit, "village")
    return IssueLevel(
        issue_id=issue.id,
        idx=idx,
        level=level,
        unit_code=unit,
        unit_name=unit,
        entered_at=at,
        deadline=at + timedelta(days=3),
        accept_deadline=at + timedelta(days=1),
        accepted_on_time=accepted,
        outcome=outcome,
        on_time=on_time,
    )


def _overdue_event(issue: Issue, at: datetime) -> IssueEvent:
    return IssueEvent(
        issue_id=issue.id, seq=9, type="overdue", at=at, actor_user="system", actor_role="system"
    )


@pytest.fixture(scope="module")
def april(api: Api) -> dict[str, Issue]:
    """Seven issues in 庙沟镇, 1–10 April 2024 (Shanghai times):

    i1 V1 sanitation  reg 1st 10:00, resolved at the village 11:00, solved, satisfied (citizen)
    i2 V1 neighbour   reg 2nd 10:00, up to the township, resolved 3rd 16:00, solved, basically
                      (a supervisor's phone 回访)
    i3 V2 sanitation  reg 2nd 11:00, up to the county on timeout, overdue 5th 12:00, still open
    i4 V2 sanitation  reg 3rd 07:00 (2nd in UTC), at the village, warned once
    i5 V3 sanitation  reg 4th 10:00, resolved at the village 12:00, awaiting feedback
    i6 V3 neighbour   reg 8th 10:00, pending acceptance
    i7 V1 neighbour   reg 8th 10:00, up to the county, overdue 9th 20:00, resolved 10th 10:00,
                      not solved, unsatisfied (citizen)
    """
    i1 = _issue(
        V1,
        "closed",
        local(1, 10),
        resolution_level="village",
        resolved_at=local(1, 11),
        feedback_solved=True,
        feedback_satisfaction="satisfied",
        feedback_by_role="citizen",
    )
    i2 = _issue(
        V1,
        "closed",
        local(2, 10),
        category="neighbour_dispute",
        unit=TOWNSHIP,
        level="township",
        resolution_level="township",
        resolved_at=local(3, 16),
        feedback_solved=True,
        feedback_satisfaction="basically_satisfied",
        feedback_by_role="supervisor",
    )
    i3 = _issue(
        V2,
        "in_progress",
        local(2, 11),
        unit=COUNTY,
        level="county",
        overdue=True,
        warnings_sent=3,
        deadline=local(5, 12),
    )
    i4 = _issue(V2, "in_progress", local(3, 7), warnings_sent=1)
    i5 = _issue(
        V3, "awaiting_feedback", local(4, 10), resolution_level="village", resolved_at=local(4, 12)
    )
    i6 = _issue(V3, "pending_accept", local(8, 10), category="neighbour_dispute")
    i7 = _issue(
        V1,
        "closed",
        local(8, 10),
        category="neighbour_dispute",
        unit=COUNTY,
        level="county",
        overdue=True,
        resolution_level="county",
        resolved_at=local(10, 10),
        feedback_solved=False,
        feedback_satisfaction="unsatisfied",
        feedback_by_role="citizen",
    )
    stays = [
        _stay(i1, 0, V1, local(1, 10), True, "resolved", True),
        _stay(i2, 0, V1, local(2, 10), True, "escalated_on_request", True),
        _stay(i2, 1, TOWNSHIP, local(2, 12), True, "resolved", True),
        _stay(i3, 0, V2, local(2, 11), False, "escalated_on_timeout", False),
        _stay(i3, 1, TOWNSHIP, local(3, 11), True, "escalated_on_timeout", False),
        _stay(i3, 2, COUNTY, local(4, 11), True),
        _stay(i4, 0, V2, local(3, 7), True),
        _stay(i5, 0, V3, local(4, 10), True, "resolved", True),
        _stay(i6, 0, V3, local(8, 10), None),
        _stay(i7, 0, V1, local(8, 10), True, "escalated_on_request", True),
        _stay(i7, 1, TOWNSHIP, local(8, 12), True, "escalated_on_request", True),
        _stay(i7, 2, COUNTY, local(8, 14), True, "resolved", False),
    ]
    issues = {"i1": i1, "i2": i2, "i3": i3, "i4": i4, "i5": i5, "i6": i6, "i7": i7}
    with Session(api.engine, expire_on_commit=False) as session:
        session.add_all(issues.values())
        session.flush()
        session.add_all(stays)
        session.add_all([_overdue_event(i3, local(5, 12)), _overdue_event(i7, local(9, 20))])
        session.commit()
    return issues


async def _stats(api: Api, user: str = "county-supervisor", **params: Any) -> dict[str, Any]:
    r = await api.get("/stats", as_user=user, **params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_township_summary_funnel_levels_and_rates(api: Api, april: dict[str, Issue]) -> None:
    s = await _stats(api, unit=TOWNSHIP, **PERIOD)
    assert s["total"] == 7
    assert s["by_status"] == {
        "pending_accept": 1,
        "in_progress": 2,
        "awaiting_feedback": 1,
        "closed": 3,
        "withdrawn": 0,
    }
    # Open: i3 i4 i5 i6. Warned and not overdue: i4. Overdue now: i3; ever: i3 and i7.
    assert (s["open"], s["warning"], s["overdue"], s["overdue_total"]) == (4, 1, 1, 2)
    assert s["open_by_level"] == {"village": 3, "township": 0, "county": 1}
    assert s["funnel"] == {"village": 7, "township": 3, "county": 2}
    # Resolved: i1, i5 at the village, i2 at the township, i7 at the county.
    assert s["resolved"] == 4
    assert s["resolution_share"] == {"village": 0.5, "township": 0.25, "county": 0.25}
    # Stays left in the township's subtree: village 4 of 5 on time, township 2 of 3; the county
    # stays belong to the county, not to 庙沟镇.
    assert s["on_time"] == pytest.approx({"village": 0.8, "township": 2 / 3, "county": None})
    # 1 h, 2 h, 30 h, 48 h: median (2 + 30) / 2 = 16 h; p90 at 2.7 → 30 + 0.7 × 18 = 42.6 h.
    assert s["time_to_resolve"]["count"] == 4
    assert s["time_to_resolve"]["median_seconds"] == 16 * 3600
    assert s["time_to_resolve"]["p90_seconds"] == pytest.approx(42.6 * 3600)
    # 9 stays with acceptance settled (i6's is not), 8 on time; feedback i1, i2, i7.
    rates = s["rates"]
    assert (rates["dispatched"], rates["accepted_on_time"], rates["feedback"]) == (9, 8, 3)
    assert rates["response"] == pytest.approx(8 / 9)
    assert rates["resolution"] == pytest.approx(2 / 3)
    assert rates["satisfaction"] == pytest.approx(1.9 / 3)
    # 0.1 × 8/9 + 0.5 × 2/3 + 0.4 × 1.9/3 = 0.08889 + 0.33333 + 0.25333 = 0.67556
    assert rates["composite"] == pytest.approx(0.675556, abs=1e-6)
    assert s["category"] is None


async def test_village_red_and_black_lists(api: Api, april: dict[str, Issue]) -> None:
    s = await _stats(api, unit=TOWNSHIP, **PERIOD)
    villages = {r["unit"]["code"]: r for r in s["village_rankings"]}
    assert len(villages) == 7 and s["rankings"] == s["village_rankings"]
    # V1: response 3/3, resolution 2/3, satisfaction 1.9/3 → 0.1 + 0.33333 + 0.25333 = 0.68667.
    v1 = villages[V1]
    assert v1["rates"]["composite"] == pytest.approx(0.686667, abs=1e-6)
    assert (v1["rank"], v1["overdue_rank"], v1["total"], v1["overdue_total"]) == (1, 2, 3, 1)
    # V2 and V3 have no feedback: no composite, never a misleading 0.
    assert villages[V2]["rates"]["composite"] is None
    assert villages[V3]["rates"]["composite"] is None and villages[V3]["total"] == 2
    # Red list: V1, then five tied without composite and without overdue (V3 and the four
    # quiet villages), then V2 with one open overdue.
    assert [r["rank"] for r in s["village_rankings"]] == [1, 2, 2, 2, 2, 2, 7]
    assert s["village_rankings"][-1]["unit"]["code"] == V2
    # Black list: V2 (1 ever, 1 now), V1 (1 ever, 0 now), then five tied.
    assert villages[V2]["overdue_rank"] == 1
    assert {villages[c]["overdue_rank"] for c in villages if c not in (V1, V2)} == {3}
    quiet = villages[QUIET]
    assert (quiet["total"], quiet["open"], quiet["resolved"]) == (0, 0, 0)
    # The township itself is the one township of its own subtree.
    assert [(t["unit"]["code"], t["rank"], t["overdue_rank"]) for t in s["township_rankings"]] == [
        (TOWNSHIP, 1, 1)
    ]
    assert s["township_rankings"][0]["rates"] == s["rates"]


async def test_county_ranks_townships_and_counts_its_own_stays(
    api: Api, april: dict[str, Issue]
) -> None:
    s = await _stats(api, unit=COUNTY, **PERIOD)
    townships = s["township_rankings"]
    assert len(townships) == 18  # 15 townships and 3 forestry units
    assert (townships[0]["unit"]["code"], townships[0]["rank"]) == (TOWNSHIP, 1)
    assert {t["rank"] for t in townships[1:]} == {2}
    assert all(t["total"] == 0 for t in townships[1:])
    assert len(s["village_rankings"]) == 159
    assert s["village_rankings"][0]["unit"]["code"] == V1
    # The county's two stays now count: i3's (accepted on time, still there) and i7's (late).
    assert s["on_time"]["county"] == 0.0
    assert (s["rates"]["dispatched"], s["rates"]["accepted_on_time"]) == (11, 10)


async def test_feedback_is_split_by_who_recorded_it(api: Api, april: dict[str, Issue]) -> None:
    """i1 and i7 rated by their citizens, i2 on a supervisor's 回访: in the totals and per unit,
    from the rows (part of a month) and from the monthly tallies (no period: whole months)."""
    split = {"feedback_by_citizen": 2, "feedback_by_staff": 1}
    by = {"citizen": 2, "supervisor": 1}
    for period in (PERIOD, {}):
        s = await _stats(api, unit=TOWNSHIP, **period)
        rates = s["rates"]
        assert rates["feedback"] == 3
        assert {key: rates[key] for key in split} == split and rates["feedback_by"] == by, period
        villages = {r["unit"]["code"]: r["rates"] for r in s["village_rankings"]}
        assert villages[V1]["feedback_by"] == by and villages[V1]["feedback_by_staff"] == 1
        # No feedback yet: the citizen's zero is there, no staff role is.
        assert villages[V3]["feedback_by"] == {"citizen": 0}
        assert (villages[V3]["feedback_by_citizen"], villages[V3]["feedback_by_staff"]) == (0, 0)
        assert s["township_rankings"][0]["rates"] == rates
        # One category: i2 (the supervisor's) and i7 (the citizen's).
        only = await _stats(api, unit=TOWNSHIP, category="neighbour_dispute", **period)
        assert only["rates"]["feedback_by"] == {"citizen": 1, "supervisor": 1}
        assert only["rates"]["feedback_by_staff"] == 1


async def test_categories_filter_and_count(api: Api, april: dict[str, Issue]) -> None:
    s = await _stats(api, unit=TOWNSHIP, **PERIOD)
    counts = {c["code"]: c for c in s["by_category"]}
    # Every category, zeros included: the county's sixteen and any other test added.
    with Session(api.engine) as session:
        known = set(session.exec(select(Category.code)))
    assert set(counts) == known and len(known) >= 16
    assert [c["code"] for c in s["by_category"][:2]] == ["sanitation", "neighbour_dispute"]
    assert counts["sanitation"] == {
        "code": "sanitation",
        "name": "环境卫生",
        "total": 4,
        "open": 3,
        "overdue": 1,
    }
    assert (counts["neighbour_dispute"]["total"], counts["neighbour_dispute"]["open"]) == (3, 1)

    only = await _stats(api, unit=TOWNSHIP, category="neighbour_dispute", **PERIOD)
    assert only["category"] == "neighbour_dispute"
    # i2, i6, i7: 9 stays become 4 settled ones (i2 ×2, i7 ×2 in the township), all on time.
    assert only["total"] == 3
    assert only["funnel"] == {"village": 3, "township": 2, "county": 1}
    assert only["rates"]["response"] == 1.0
    assert {c["code"]: c["total"] for c in only["by_category"]}["sanitation"] == 0
    assert [p["registered"] for p in only["trend"]["points"]].count(2) == 1  # the 8th


async def test_trend_per_day_and_per_week(api: Api, april: dict[str, Issue]) -> None:
    daily = (await _stats(api, unit=TOWNSHIP, **PERIOD))["trend"]
    assert daily["bucket"] == "day"
    points = {p["start"]: (p["registered"], p["resolved"], p["overdue"]) for p in daily["points"]}
    assert list(points) == [f"2024-04-{d:02d}" for d in range(1, 15)]
    assert {day: counts for day, counts in points.items() if counts != (0, 0, 0)} == {
        "2024-04-01": (1, 1, 0),
        "2024-04-02": (2, 0, 0),
        "2024-04-03": (1, 1, 0),  # i4 registered at 07:00 local, the 2nd in UTC
        "2024-04-04": (1, 1, 0),
        "2024-04-05": (0, 0, 1),
        "2024-04-08": (2, 0, 0),
        "2024-04-09": (0, 0, 1),
        "2024-04-10": (0, 1, 0),
    }
    weekly = (await _stats(api, unit=TOWNSHIP, bucket="week", **PERIOD))["trend"]
    assert weekly == {
        "bucket": "week",
        "points": [
            {"start": "2024-04-01", "registered": 5, "resolved": 3, "overdue": 1},
            {"start": "2024-04-08", "registered": 2, "resolved": 1, "overdue": 1},
        ],
    }


async def test_an_empty_period_and_a_unit_without_issues(api: Api, april: dict[str, Issue]) -> None:
    empty = await _stats(api, unit=TOWNSHIP, since="2023-01-01", until="2023-01-08")
    assert (empty["total"], empty["open"], empty["resolved"], empty["overdue_total"]) == (
        0,
        0,
        0,
        0,
    )
    assert empty["funnel"] == {"village": 0, "township": 0, "county": 0}
    assert empty["resolution_share"] == {"village": None, "township": None, "county": None}
    assert empty["on_time"] == {"village": None, "township": None, "county": None}
    assert empty["time_to_resolve"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert empty["rates"]["composite"] is None
    assert {r["rates"]["composite"] for r in empty["village_rankings"]} == {None}
    assert {r["rank"] for r in empty["village_rankings"]} == {1}
    assert [p["registered"] for p in empty["trend"]["points"]] == [0] * 7

    # No period and nothing ever registered: no trend points at all.
    quiet = await _stats(api, unit=QUIET, until="2024-04-15")
    assert quiet["total"] == 0 and quiet["trend"]["points"] == []
    assert quiet["village_rankings"][0]["unit"]["code"] == QUIET


async def test_alert_lists_warning_and_overdue(api: Api, april: dict[str, Issue]) -> None:
    r = await api.get("/stats/alerts", as_user="county-supervisor", unit=TOWNSHIP, **PERIOD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["unit"] == {"code": TOWNSHIP, "name": "庙沟镇"}
    assert body["warning"]["count"] == 1 and body["overdue"]["count"] == 1
    warned, late = body["warning"]["data"][0], body["overdue"]["data"][0]
    assert warned["id"] == april["i4"].id and warned["warnings_sent"] == 1
    assert warned["unit"] == {"code": V2, "name": "五一村委会"} and warned["level_label"] == "村级"
    assert late["id"] == april["i3"].id and late["overdue"] is True
    assert late["unit"] == {"code": COUNTY, "name": "镇安县"} and late["level_label"] == "县级"
    assert late["township"] == {"code": TOWNSHIP, "name": "庙沟镇"}
    assert late["category_name"] == "环境卫生" and late["status_label"] == "办理中"

    other = await api.get(
        "/stats/alerts",
        as_user=f"township-{TOWNSHIP}",
        category="neighbour_dispute",
        **PERIOD,
    )
    assert other.json()["warning"]["count"] == other.json()["overdue"]["count"] == 0
    problem(await api.get("/stats/alerts", as_user="dept-zhenan-zhujian"), 403)
    outside = await api.get("/stats/alerts", as_user=f"village-{V1}", unit=TOWNSHIP)
    assert problem(outside, 403)["field"] == "unit"


async def test_bad_filters_name_their_field(api: Api) -> None:
    both, trend_only = ("/stats", "/stats/alerts"), ("/stats",)
    cases: list[tuple[dict[str, Any], str, tuple[str, ...]]] = [
        ({"category": "nope"}, "category", both),
        ({"since": "2024-04-02", "until": "2024-04-01"}, "until", both),
        ({"since": "0001-01-01T00:00:00+14:00"}, "since", both),  # before year 1 in UTC
        ({"until": "9999-12-31T23:59:59-12:00"}, "until", both),
        ({"since": "2000-01-01", "until": "2010-01-01", "bucket": "day"}, "bucket", trend_only),
        ({"since": "1900-01-01", "until": "2100-01-01"}, "since", trend_only),
        ({"bucket": "month"}, "bucket", trend_only),
    ]
    for params, field, paths in cases:
        for path in paths:
            r = await api.get(path, as_user="county-admin", unit=TOWNSHIP, **params)
            assert problem(r, 422).get("field") == field, (path, params, r.text)
