"""The statistics as pure functions, checked against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from api.statistics.figures import (
    IssueCounts,
    Ranked,
    StayCounts,
    Weights,
    on_time_rates,
    percentile,
    rank,
    resolution_share,
    status_counts,
    summarize,
    three_rates,
    time_to_resolve,
)
from api.statistics.trend import OffsetRun, offset_runs


def issue(
    status: str = "closed",
    *,
    level: str | None = None,
    solved: bool | None = None,
    satisfaction: str | None = None,
    overdue: bool = False,
    warnings: int = 0,
    by: str = "citizen",
) -> IssueCounts:
    """The counts of one issue, as the read model's GROUP BY makes them (``level`` is where it
    was resolved; ``by`` who recorded its feedback)."""
    return IssueCounts(
        status=status,
        total=1,
        overdue=int(overdue),
        warned=int(bool(warnings) and not overdue),
        resolved=int(level is not None),
        resolved_by_level={level: 1} if level is not None else {},
        feedback=int(satisfaction is not None),
        solved=int(satisfaction is not None and bool(solved)),
        satisfied=int(satisfaction == "satisfied"),
        basically_satisfied=int(satisfaction == "basically_satisfied"),
        feedback_by={by: 1} if satisfaction is not None else {},
    )


def stay(
    level: str,
    *,
    accepted_on_time: bool | None = None,
    outcome: str | None = None,
    on_time: bool | None = None,
) -> StayCounts:
    """The counts of one level stay."""
    left = outcome is not None and outcome != "withdrawn"
    return StayCounts(
        level,
        settled=int(accepted_on_time is not None),
        accepted_on_time=int(bool(accepted_on_time)),
        left=int(left),
        left_on_time=int(left and bool(on_time)),
    )


def test_rates_are_null_not_zero_when_nothing_was_counted() -> None:
    rates = three_rates([], [])
    assert (rates.response, rates.resolution, rates.satisfaction, rates.composite) == (
        None,
        None,
        None,
        None,
    )
    assert resolution_share([]) == (0, {"village": None, "township": None, "county": None})
    assert on_time_rates([]) == {"village": None, "township": None, "county": None}
    assert time_to_resolve(0, [].__getitem__).median_seconds is None


def test_three_rates_by_hand() -> None:
    # Feedback from 5 citizens: 4 solved; 2 satisfied, 2 basically satisfied, 1 unsatisfied.
    issues = [
        issue(solved=True, satisfaction="satisfied"),
        issue(solved=True, satisfaction="satisfied"),
        issue(solved=True, satisfaction="basically_satisfied"),
        issue(solved=True, satisfaction="basically_satisfied"),
        issue(solved=False, satisfaction="unsatisfied"),
        issue("in_progress"),  # no feedback: in neither numerator nor denominator
    ]
    # 4 stays with acceptance settled, 3 on time; one just arrived (not yet late) is left out.
    levels = [
        stay("village", accepted_on_time=True),
        stay("village", accepted_on_time=True),
        stay("township", accepted_on_time=True),
        stay("township", accepted_on_time=False),
        stay("county", accepted_on_time=None),
    ]

    rates = three_rates(issues, levels)

    assert rates.response == pytest.approx(3 / 4)  # 0.75
    assert rates.resolution == pytest.approx(4 / 5)  # 0.8
    assert rates.satisfaction == pytest.approx((2 + 0.9 * 2) / 5)  # 3.8 / 5 = 0.76
    # 0.1 × 0.75 + 0.5 × 0.8 + 0.4 × 0.76 = 0.075 + 0.4 + 0.304 = 0.779
    assert rates.composite == pytest.approx(0.779)
    assert (rates.dispatched, rates.accepted_on_time, rates.feedback) == (4, 3, 5)


def test_feedback_received_by_who_recorded_it() -> None:
    # Two citizens rated their issues themselves; a supervisor recorded two phone 回访 and a
    # leader one; an issue without feedback counts for nobody.
    issues = [
        issue(solved=True, satisfaction="satisfied"),
        issue(solved=False, satisfaction="unsatisfied"),
        issue(solved=True, satisfaction="satisfied", by="supervisor"),
        issue(solved=True, satisfaction="basically_satisfied", by="supervisor"),
        issue(solved=True, satisfaction="satisfied", by="leader"),
        issue("in_progress"),
    ]
    rates = three_rates(issues, [])
    assert (rates.feedback, rates.feedback_by_citizen, rates.feedback_by_staff) == (5, 2, 3)
    # The citizen first, then the staff roles by name.
    assert list(rates.feedback_by.items()) == [("citizen", 2), ("leader", 1), ("supervisor", 2)]
    # Nothing rated: the citizen's zero, no staff role.
    nothing = three_rates([issue("in_progress")], [])
    assert (nothing.feedback_by, nothing.feedback_by_citizen, nothing.feedback_by_staff) == (
        {"citizen": 0},
        0,
        0,
    )


def test_composite_weights_come_from_configuration() -> None:
    issues = [issue(solved=True, satisfaction="satisfied")]
    levels = [stay("village", accepted_on_time=False)]
    rates = three_rates(issues, levels, Weights(response=0.3, resolution=0.35, satisfaction=0.35))
    assert rates.composite == pytest.approx(0.3 * 0 + 0.35 * 1 + 0.35 * 1)


def test_composite_needs_all_three_rates() -> None:
    rates = three_rates([issue(solved=True, satisfaction="satisfied")], [])
    assert rates.response is None and rates.resolution == 1.0 and rates.composite is None


def test_resolution_level_share_by_hand() -> None:
    # 8 resolved: 5 at the village, 2 at the township, 1 at the county; 2 not resolved.
    issues = (
        [issue(level="village")] * 5
        + [issue(level="township")] * 2
        + [issue(level="county")]
        + [issue("in_progress"), issue("withdrawn")]
    )
    resolved, share = resolution_share(issues)
    assert resolved == 8
    assert share == {"village": 5 / 8, "township": 2 / 8, "county": 1 / 8}


def test_on_time_rate_per_level_counts_only_stays_that_were_left() -> None:
    levels = [
        stay("village", outcome="resolved", on_time=True),
        stay("village", outcome="escalated_on_timeout", on_time=False),
        stay("village", outcome="escalated_on_request", on_time=True),
        stay("village", outcome=None, on_time=None),  # still there
        stay("village", outcome="withdrawn", on_time=True),  # the citizen's choice
        stay("township", outcome="resolved", on_time=False),
    ]
    assert on_time_rates(levels) == {"village": 2 / 3, "township": 0.0, "county": None}


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1.0, 3.0], 0.5) == 2.0  # the mean of the middle two
    # 10 values 1..10: position (10 − 1) × 0.9 = 8.1 → 9 + 0.1 × (10 − 9) = 9.1
    assert percentile([float(v) for v in range(10, 0, -1)], 0.9) == pytest.approx(9.1)
    assert percentile([], 0.5) is None


def test_time_to_resolve_by_hand() -> None:
    ordered = sorted(hours * 3_600_000_000 for hours in (30, 2, 6, 4))
    durations = time_to_resolve(len(ordered), ordered.__getitem__)
    assert durations.count == 4
    assert durations.median_seconds == 5 * 3600  # (4 h + 6 h) / 2
    # position 3 × 0.9 = 2.7 → 6 h + 0.7 × (30 h − 6 h) = 22.8 h
    assert durations.p90_seconds == pytest.approx(22.8 * 3600)


def test_summary_counts_open_warning_and_overdue() -> None:
    issues = [
        issue("pending_accept"),
        issue("in_progress", warnings=1),
        issue("in_progress", warnings=2, overdue=True),
        issue("awaiting_feedback", level="village"),
        issue("closed", level="township", solved=True, satisfaction="satisfied"),
        issue("withdrawn"),
    ]
    summary = summarize(issues, [])
    assert summary.total == 6
    assert summary.by_status == {
        "pending_accept": 1,
        "in_progress": 2,
        "awaiting_feedback": 1,
        "closed": 1,
        "withdrawn": 1,
    }
    assert (summary.open, summary.warning, summary.overdue, summary.resolved) == (4, 1, 1, 2)
    assert status_counts([]) == dict.fromkeys(summary.by_status, 0)


def test_counts_of_a_group_add_up_like_the_issues_in_it() -> None:
    # What the read model hands over: one row per (unit, category, status), not per issue.
    one = [issue("in_progress", warnings=1)] * 2 + [issue("in_progress", overdue=True)]
    one += [issue(level="village", solved=True, satisfaction="basically_satisfied")] * 3
    grouped = [
        IssueCounts("in_progress", total=3, overdue=1, warned=2),
        IssueCounts(
            "closed",
            total=3,
            resolved=3,
            resolved_by_level={"village": 3},
            feedback=3,
            solved=3,
            basically_satisfied=3,
            feedback_by={"citizen": 3},
        ),
    ]
    stays = [stay("village", accepted_on_time=True, outcome="resolved", on_time=True)] * 3
    assert summarize(grouped, [StayCounts("village", 3, 3, 3, 3)]) == summarize(one, stays)


def _unit(key: str, composite_inputs: tuple[int, int], overdue: int = 0) -> Ranked:
    """A unit whose composite is 0.1·r + 0.5·s + 0.4·s with r = s = solved / rated."""
    solved, rated = composite_inputs
    issues = [
        issue(solved=i < solved, satisfaction="satisfied" if i < solved else "unsatisfied")
        for i in range(rated)
    ] + [issue("in_progress", overdue=True) for _ in range(overdue)]
    levels = [stay("village", accepted_on_time=i < solved) for i in range(rated)]
    return Ranked(key, summarize(issues, levels))


def test_rankings_best_composite_first_ties_by_fewer_overdue_and_null_last() -> None:
    ranked = rank(
        [
            _unit("c", (1, 2), overdue=1),  # composite 0.5, 1 overdue
            _unit("a", (2, 2)),  # composite 1.0
            _unit("none", (0, 0)),  # nothing rated: no composite
            _unit("b", (1, 2)),  # composite 0.5, none overdue
            _unit("d", (1, 2)),  # same as b: shares its rank
        ]
    )
    assert [(r.key, r.rank) for r in ranked] == [
        ("a", 1),
        ("b", 2),
        ("d", 2),
        ("c", 4),
        ("none", 5),
    ]


def test_offset_runs_split_where_the_offset_changes() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    # Summer time 2024: 31 March 01:00 UTC to 27 October 01:00 UTC.
    assert offset_runs(berlin, start, end) == [
        OffsetRun(start, datetime(2024, 3, 31, 1, tzinfo=UTC), 3600),
        OffsetRun(
            datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC), 7200
        ),
        OffsetRun(datetime(2024, 10, 27, 1, tzinfo=UTC), end, 3600),
    ]
    # No change in Shanghai since 1991: one run, however long.
    assert offset_runs(ZoneInfo("Asia/Shanghai"), start, end + timedelta(days=800)) == [
        OffsetRun(start, end + timedelta(days=800), 8 * 3600)
    ]
    assert offset_runs(berlin, end, end) == []


@pytest.mark.parametrize(
    "zone",
    [
        "Asia/Shanghai",
        "Europe/Berlin",
        "America/Asuncion",  # fell back at midnight: a local day that comes twice
        "Asia/Kolkata",  # +05:30
        "Australia/Lord_Howe",  # half an hour of summer time
        "America/St_Johns",  # −03:30 and summer time
        "Pacific/Apia",  # skipped 30 December 2011 entirely
    ],
)
def test_a_day_is_the_utc_day_shifted_by_the_offset_of_its_run(zone: str) -> None:
    tz = ZoneInfo(zone)
    start, end = datetime(2010, 6, 1, tzinfo=UTC), datetime(2013, 6, 1, tzinfo=UTC)
    runs = offset_runs(tz, start, end)
    assert runs[0].start == start and runs[-1].end == end
    assert all(a.end == b.start for a, b in pairwise(runs))
    moment = start
    while moment < end:
        run = next(r for r in runs if r.start <= moment < r.end)
        assert (moment + timedelta(seconds=run.offset)).date() == moment.astimezone(tz).date()
        moment += timedelta(minutes=37, microseconds=999_999)
