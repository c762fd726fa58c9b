"""Statistics of a unit's subtree over a period, as pure functions over read-model rows.

No I/O here: ``routes/stats.py`` loads the rows, these functions count. Every rate is ``None``
(JSON null), not 0, when its denominator is 0 — "no feedback yet" is not "nobody satisfied".

Definitions (DESIGN.md "Statistics"):

- resolution level share: issues resolved at each level ÷ issues resolved (a resolution exists);
- on-time rate per level: level stays left with an outcome (``withdrawn`` excluded: the citizen's
  choice says nothing of the unit) that were on time ÷ such stays;
- time to resolve: registration → resolution, median and p90 by linear interpolation between
  closest ranks (the median of an even count is the mean of the middle two);
- 三率: response = stays accepted on time ÷ dispatched stays whose acceptance is settled (accepted,
  or its accept deadline passed; a stay that has just arrived is not yet late); resolution =
  feedback "solved" ÷ feedback received; satisfaction = (satisfied + 0.9 × basically satisfied) ÷
  feedback received; composite = weighted sum, None unless all three are known.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.models import OPEN_STATUSES, Level, Outcome, Satisfaction, Status

COUNTED_LEVELS = (Level.VILLAGE.value, Level.TOWNSHIP.value, Level.COUNTY.value)
BASICALLY_SATISFIED_WEIGHT = 0.9


@dataclass(frozen=True)
class Weights:
    """Weights of the composite score (one public analytics code's 0.1/0.5/0.4)."""

    response: float = 0.1
    resolution: float = 0.5
    satisfaction: float = 0.4


@dataclass(frozen=True)
class IssueFacts:
    """The columns of an issue row that statistics read."""

    status: str
    registered_at: datetime
    overdue: bool = False
    warnings_sent: int = 0
    resolution_level: str | None = None
    resolved_at: datetime | None = None
    feedback_solved: bool | None = None
    feedback_satisfaction: str | None = None


@dataclass(frozen=True)
class LevelFacts:
    """The columns of an issue-level row (one stay at one unit) that statistics read."""

    level: str
    outcome: str | None = None
    on_time: bool | None = None
    accepted_on_time: bool | None = None


@dataclass(frozen=True)
class Rates:
    response: float | None
    resolution: float | None
    satisfaction: float | None
    composite: float | None
    dispatched: int  # stays whose acceptance is settled
    accepted_on_time: int
    feedback: int  # feedback received


@dataclass(frozen=True)
class Durations:
    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class Summary:
    total: int
    by_status: dict[str, int]
    open: int
    warning: int  # open, warned, not (yet) overdue
    overdue: int  # open and past the ceiling's deadline
    resolved: int
    resolution_share: dict[str, float | None]
    on_time: dict[str, float | None]
    time_to_resolve: Durations
    rates: Rates


@dataclass(frozen=True)
class Ranked:
    key: str
    summary: Summary
    rank: int = 0


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def status_counts(issues: Iterable[IssueFacts]) -> dict[str, int]:
    counts = {status.value: 0 for status in Status}
    for issue in issues:
        counts[issue.status] = counts.get(issue.status, 0) + 1
    return counts


def resolution_share(issues: Iterable[IssueFacts]) -> tuple[int, dict[str, float | None]]:
    """How many were resolved, and the share resolved at each level (小事不出村、大事不出镇)."""
    levels = [i.resolution_level for i in issues if i.resolution_level is not None]
    return len(levels), {lvl: ratio(levels.count(lvl), len(levels)) for lvl in COUNTED_LEVELS}


def on_time_rates(levels: Iterable[LevelFacts]) -> dict[str, float | None]:
    left = [lv for lv in levels if lv.outcome is not None and lv.outcome != Outcome.WITHDRAWN.value]
    return {
        name: ratio(
            sum(1 for lv in left if lv.level == name and lv.on_time),
            sum(1 for lv in left if lv.level == name),
        )
        for name in COUNTED_LEVELS
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def time_to_resolve(issues: Iterable[IssueFacts]) -> Durations:
    seconds = [
        (i.resolved_at - i.registered_at).total_seconds()
        for i in issues
        if i.resolved_at is not None
    ]
    return Durations(len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.9))


def three_rates(
    issues: Sequence[IssueFacts], levels: Sequence[LevelFacts], weights: Weights = Weights()
) -> Rates:
    settled = [lv for lv in levels if lv.accepted_on_time is not None]
    on_time = sum(1 for lv in settled if lv.accepted_on_time)
    rated = [i for i in issues if i.feedback_satisfaction is not None]
    solved = sum(1 for i in rated if i.feedback_solved)
    satisfied = sum(1 for i in rated if i.feedback_satisfaction == Satisfaction.SATISFIED.value)
    basically = sum(
        1 for i in rated if i.feedback_satisfaction == Satisfaction.BASICALLY_SATISFIED.value
    )
    response = ratio(on_time, len(settled))
    resolution = ratio(solved, len(rated))
    satisfaction = ratio(satisfied + BASICALLY_SATISFIED_WEIGHT * basically, len(rated))
    composite = None
    if response is not None and resolution is not None and satisfaction is not None:
        composite = (
            weights.response * response
            + weights.resolution * resolution
            + weights.satisfaction * satisfaction
        )
    return Rates(response, resolution, satisfaction, composite, len(settled), on_time, len(rated))


def summarize(
    issues: Sequence[IssueFacts], levels: Sequence[LevelFacts], weights: Weights = Weights()
) -> Summary:
    open_issues = [i for i in issues if i.status in OPEN_STATUSES]
    resolved, share = resolution_share(issues)
    return Summary(
        total=len(issues),
        by_status=status_counts(issues),
        open=len(open_issues),
        warning=sum(1 for i in open_issues if i.warnings_sent and not i.overdue),
        overdue=sum(1 for i in open_issues if i.overdue),
        resolved=resolved,
        resolution_share=share,
        on_time=on_time_rates(levels),
        time_to_resolve=time_to_resolve(issues),
        rates=three_rates(issues, levels, weights),
    )


def rank(entries: Iterable[Ranked]) -> list[Ranked]:
    """红黑榜: best composite first, fewer overdue breaking ties; units without a composite last.

    Equal (composite, overdue) share a rank (1, 2, 2, 4 …).
    """

    def key(entry: Ranked) -> tuple[bool, float, int, str]:
        composite = entry.summary.rates.composite
        return (composite is None, -(composite or 0.0), entry.summary.overdue, entry.key)

    ordered = sorted(entries, key=key)
    ranked: list[Ranked] = []
    for position, entry in enumerate(ordered, start=1):
        previous = ranked[-1] if ranked else None
        same = previous is not None and key(previous)[:3] == key(entry)[:3]
        number = previous.rank if same and previous is not None else position
        ranked.append(Ranked(entry.key, entry.summary, number))
    return ranked
