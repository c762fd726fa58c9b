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
  feedback received; composite = weighted sum, None unless all three are known;
- open by level: open issues by the level they sit at now;
- escalation funnel: issues that reached each level (levels only go up, so an issue's current
  level is the highest it reached; the village stage counts every issue);
- warning and overdue: issues whose clock is running (awaiting acceptance or in progress; one
  resolved and awaiting the citizen's rating no longer is) that were warned and are not overdue,
  and that are past the ceiling's deadline; ``overdue_total`` counts every issue that ever went
  overdue (the flag stays once set), whatever its status — the 黑榜 counts the latter;
- trend: per day or ISO week (Monday first) in the county's zone, each event counted in the
  bucket it happened in: registrations, resolutions, and issues going overdue.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, TypeVar

from domain.models import OPEN_STATUSES, Level, Outcome, Satisfaction, Status

COUNTED_LEVELS = (Level.VILLAGE.value, Level.TOWNSHIP.value, Level.COUNTY.value)
# Rungs from the bottom: an issue at a rung has passed every rung below it.
LEVEL_ORDER = {lvl.value: position for position, lvl in enumerate(Level)}
BASICALLY_SATISFIED_WEIGHT = 0.9
# Statuses in which a unit's clock runs: warnings and overdue are about these.
RUNNING_STATUSES = frozenset({Status.PENDING_ACCEPT.value, Status.IN_PROGRESS.value})
DAILY_TREND_MAX_DAYS = 92  # longer periods trend by week unless asked otherwise

T = TypeVar("T")


class Bucket(StrEnum):
    """The width of one point of a trend."""

    DAY = "day"
    WEEK = "week"


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
    level: str | None = None  # where the issue is now (or was when it closed)


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
    warning: int  # clock running, warned, not (yet) overdue
    overdue: int  # clock running and past the ceiling's deadline
    resolved: int
    resolution_share: dict[str, float | None]
    on_time: dict[str, float | None]
    time_to_resolve: Durations
    rates: Rates
    open_by_level: dict[str, int]
    funnel: dict[str, int]  # issues that reached each level
    overdue_total: int  # issues that ever went overdue, open or not


@dataclass(frozen=True)
class Ranked:
    key: str
    summary: Summary
    rank: int = 0


@dataclass(frozen=True)
class TrendPoint:
    start: date  # the bucket's first day
    registered: int
    resolved: int
    overdue: int


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


def open_by_level(issues: Iterable[IssueFacts]) -> dict[str, int]:
    """Open issues by the level they sit at now; levels outside the ladder's three only if met."""
    counts = dict.fromkeys(COUNTED_LEVELS, 0)
    for issue in issues:
        if issue.status in OPEN_STATUSES and issue.level is not None:
            counts[issue.level] = counts.get(issue.level, 0) + 1
    return counts


def escalation_funnel(issues: Sequence[IssueFacts]) -> dict[str, int]:
    """How many issues reached the village, the township and the county (上报漏斗)."""
    reached = [LEVEL_ORDER.get(i.level or Level.VILLAGE.value, 0) for i in issues]
    return {
        Level.VILLAGE.value: len(issues),
        Level.TOWNSHIP.value: sum(1 for r in reached if r >= LEVEL_ORDER[Level.TOWNSHIP.value]),
        Level.COUNTY.value: sum(1 for r in reached if r >= LEVEL_ORDER[Level.COUNTY.value]),
    }


def summarize(
    issues: Sequence[IssueFacts], levels: Sequence[LevelFacts], weights: Weights = Weights()
) -> Summary:
    open_issues = [i for i in issues if i.status in OPEN_STATUSES]
    running = [i for i in issues if i.status in RUNNING_STATUSES]
    resolved, share = resolution_share(issues)
    return Summary(
        total=len(issues),
        by_status=status_counts(issues),
        open=len(open_issues),
        warning=sum(1 for i in running if i.warnings_sent and not i.overdue),
        overdue=sum(1 for i in running if i.overdue),
        resolved=resolved,
        resolution_share=share,
        on_time=on_time_rates(levels),
        time_to_resolve=time_to_resolve(issues),
        rates=three_rates(issues, levels, weights),
        open_by_level=open_by_level(issues),
        funnel=escalation_funnel(issues),
        overdue_total=sum(1 for i in issues if i.overdue),
    )


def by_unit(rows: Iterable[tuple[str, T]]) -> dict[str, list[T]]:
    """Rows keyed by unit path ("/611025/611025001/"), gathered under every unit on that path:
    one pass serves the rankings of townships and villages alike."""
    grouped: dict[str, list[T]] = defaultdict(list)
    for path, row in rows:
        for code in path.strip("/").split("/"):
            if code:
                grouped[code].append(row)
    return grouped


def rank(entries: Iterable[Ranked]) -> list[Ranked]:
    """红黑榜: best composite first, fewer overdue breaking ties; units without a composite last.

    Equal (composite, overdue) share a rank (1, 2, 2, 4 …).
    """

    def key(entry: Ranked) -> tuple[bool, float, int, str]:
        composite = entry.summary.rates.composite
        return (composite is None, -(composite or 0.0), entry.summary.overdue, entry.key)

    return _ranked(entries, key, ties=3)


def rank_by_overdue(entries: Iterable[Ranked]) -> list[Ranked]:
    """黑榜: most issues gone overdue first, then most overdue still open, then the lower composite
    (units without one after those with one). Equal overdue counts and composite share a rank."""

    def key(entry: Ranked) -> tuple[int, int, bool, float, str]:
        s = entry.summary
        composite = s.rates.composite
        return (-s.overdue_total, -s.overdue, composite is None, composite or 0.0, entry.key)

    return _ranked(entries, key, ties=4)


def _ranked(
    entries: Iterable[Ranked], key: Callable[[Ranked], tuple[Any, ...]], ties: int
) -> list[Ranked]:
    """Sort by ``key``; entries equal on its first ``ties`` parts share a rank (1, 2, 2, 4 …)."""
    ordered = sorted(entries, key=key)
    ranked: list[Ranked] = []
    for position, entry in enumerate(ordered, start=1):
        previous = ranked[-1] if ranked else None
        same = previous is not None and key(previous)[:ties] == key(entry)[:ties]
        number = previous.rank if same and previous is not None else position
        ranked.append(replace(entry, rank=number))
    return ranked


# ---- trend --------------------------------------------------------------------------------------


def choose_bucket(first: date, last: date) -> Bucket:
    """Days for up to about a quarter, weeks beyond."""
    return Bucket.DAY if (last - first).days < DAILY_TREND_MAX_DAYS else Bucket.WEEK


def bucket_start(day: date, bucket: Bucket) -> date:
    return day - timedelta(days=day.weekday()) if bucket is Bucket.WEEK else day


def bucket_count(first: date, last: date, bucket: Bucket) -> int:
    step = 7 if bucket is Bucket.WEEK else 1
    return (bucket_start(last, bucket) - bucket_start(first, bucket)).days // step + 1


def trend(
    registered: Iterable[datetime],
    resolved: Iterable[datetime],
    overdue: Iterable[datetime],
    first: date,
    last: date,
    bucket: Bucket,
    zone: tzinfo,
) -> list[TrendPoint]:
    """Counts per bucket from ``first`` to ``last`` (local days, both included), empty buckets
    as zeros; instants outside those days are left out."""
    if last < first:
        return []
    step = timedelta(days=7 if bucket is Bucket.WEEK else 1)
    starts = [
        bucket_start(first, bucket) + step * n for n in range(bucket_count(first, last, bucket))
    ]

    def counts(instants: Iterable[datetime]) -> dict[date, int]:
        tally: dict[date, int] = defaultdict(int)
        for moment in instants:
            day = moment.astimezone(zone).date()
            if first <= day <= last:
                tally[bucket_start(day, bucket)] += 1
        return tally

    reg, res, late = counts(registered), counts(resolved), counts(overdue)
    return [TrendPoint(start, reg[start], res[start], late[start]) for start in starts]
