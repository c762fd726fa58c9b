"""The statistics as pure functions, checked against numbers worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.stats import (
    IssueFacts,
    LevelFacts,
    Ranked,
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

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def issue(
    status: str = "closed",
    *,
    hours: float | None = None,
    level: str | None = None,
    solved: bool | None = None,
    satisfaction: str | None = None,
    overdue: bool = False,
    warnings: int = 0,
) -> IssueFacts:
    return IssueFacts(
        status=status,
        registered_at=T0,
        overdue=overdue,
        warnings_sent=warnings,
        resolution_level=level,
        resolved_at=T0 + timedelta(hours=hours) if hours is not None else None,
        feedback_solved=solved,
        feedback_satisfaction=satisfaction,
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
    assert time_to_resolve([]).median_seconds is None


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
        LevelFacts("village", accepted_on_time=True),
        LevelFacts("village", accepted_on_time=True),
        LevelFacts("township", accepted_on_time=True),
        LevelFacts("township", accepted_on_time=False),
        LevelFacts("county", accepted_on_time=None),
    ]

    rates = three_rates(issues, levels)

    assert rates.response == pytest.approx(3 / 4)  # 0.75
    assert rates.resolution == pytest.approx(4 / 5)  # 0.8
    assert rates.satisfaction == pytest.approx((2 + 0.9 * 2) / 5)  # 3.8 / 5 = 0.76
    # 0.1 × 0.75 + 0.5 × 0.8 + 0.4 × 0.76 = 0.075 + 0.4 + 0.304 = 0.779
    assert rates.composite == pytest.approx(0.779)
    assert (rates.dispatched, rates.accepted_on_time, rates.feedback) == (4, 3, 5)


def test_composite_weights_come_from_configuration() -> None:
    issues = [issue(solved=True, satisfaction="satisfied")]
    levels = [LevelFacts("village", accepted_on_time=False)]
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
        LevelFacts("village", outcome="resolved", on_time=True),
        LevelFacts("village", outcome="escalated_on_timeout", on_time=False),
        LevelFacts("village", outcome="escalated_on_request", on_time=True),
        LevelFacts("village", outcome=None, on_time=None),  # still there
        LevelFacts("village", outcome="withdrawn", on_time=True),  # the citizen's choice
        LevelFacts("township", outcome="resolved", on_time=False),
    ]
    assert on_time_rates(levels) == {"village": 2 / 3, "township": 0.0, "county": None}


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1.0, 3.0], 0.5) == 2.0  # the mean of the middle two
    # 10 values 1..10: position (10 − 1) × 0.9 = 8.1 → 9 + 0.1 × (10 − 9) = 9.1
    assert percentile([float(v) for v in range(10, 0, -1)], 0.9) == pytest.approx(9.1)
    assert percentile([], 0.5) is None


def test_time_to_resolve_by_hand() -> None:
    issues = [issue(hours=h) for h in (2, 4, 6, 30)] + [issue("in_progress")]
    durations = time_to_resolve(issues)
    assert durations.count == 4
    assert durations.median_seconds == 5 * 3600  # (4 h + 6 h) / 2
    # position 3 × 0.9 = 2.7 → 6 h + 0.7 × (30 h − 6 h) = 22.8 h
    assert durations.p90_seconds == pytest.approx(22.8 * 3600)


def test_summary_counts_open_warning_and_overdue() -> None:
    issues = [
        issue("pending_accept"),
        issue("in_progress", warnings=1),
        issue("in_progress", warnings=2, overdue=True),
        issue("awaiting_feedback", level="village", hours=1),
        issue("closed", level="township", hours=3, solved=True, satisfaction="satisfied"),
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


def _unit(key: str, composite_inputs: tuple[int, int], overdue: int = 0) -> Ranked:
    """A unit whose composite is 0.1·r + 0.5·s + 0.4·s with r = s = solved / rated."""
    solved, rated = composite_inputs
    issues = [
        issue(solved=i < solved, satisfaction="satisfied" if i < solved else "unsatisfied")
        for i in range(rated)
    ] + [issue("in_progress", overdue=True) for _ in range(overdue)]
    levels = [LevelFacts("village", accepted_on_time=i < solved) for i in range(rated)]
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
