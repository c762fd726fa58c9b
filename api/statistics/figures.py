"""Statistics of a unit's subtree over a period: what each figure means, and the arithmetic.

No I/O here. ``tallies.py`` counts in SQL (GROUP BY): issues per registered unit, category and
status (``IssueCounts``), level stays per unit and level (``StayCounts``), and reads the few
resolution times the quantiles need (``time_to_resolve``); what crosses into Python grows with the
units and the days, not with the issues. These functions add counts up — a unit's figures count
the issues registered anywhere below it (``by_unit``) — and turn them into figures. Every rate is
``None`` (JSON null), not 0, when its denominator is 0 — "no feedback yet" is not "nobody
satisfied".

Definitions (DESIGN.md "Statistics"):

- resolution level share: issues resolved at each level ÷ issues resolved (a resolution exists);
- on-time rate per level: level stays left with an outcome (``withdrawn`` excluded: the citizen's
  choice says nothing of the unit) that were on time ÷ such stays;
- time to resolve: registration → resolution, median and p90 by linear interpolation between
  closest ranks (the median of an even count is the mean of the middle two);
- 三率: response = stays accepted on time ÷ dispatched stays whose acceptance is settled (accepted,
  or its accept deadline passed; a stay that has just arrived is not yet late); resolution =
  feedback "solved" ÷ feedback received; satisfaction = (satisfied + 0.9 × basically satisfied) ÷
  feedback received; composite = weighted sum, None unless all three are known; beside them,
  who recorded the feedback received (``feedback_by``): the citizen themselves (群众自评) or staff
  on a phone 回访 (回访录入), by role — rates resting on staff's word read differently;
- open by level: open issues by the level they sit at now;
- escalation funnel: issues that reached each level (levels only go up, so an issue's current
  level is the highest it reached; the village stage counts every issue);
- warning and overdue: issues whose clock is running (awaiting acceptance or in progress; one
  resolved and awaiting the citizen's rating no longer is) that were warned and are not overdue,
  and that are past the ceiling's deadline; ``overdue_total`` counts every issue that ever went
  overdue (the flag stays once set), whatever its status — the 黑榜 counts the latter;
- trend: see ``trend.py``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from domain.models import OPEN_STATUSES, Level, Role, Status

VILLAGE, TOWNSHIP, COUNTY = Level.VILLAGE.value, Level.TOWNSHIP.value, Level.COUNTY.value
COUNTED_LEVELS = (VILLAGE, TOWNSHIP, COUNTY)
# Invalid issues (无效) are in no figure (``tallies.issue_counts``).
STATUSES = tuple(status.value for status in Status if status is not Status.INVALID)
# Rungs from the bottom: an issue at a rung has passed every rung below it.
LEVEL_ORDER = {lvl.value: position for position, lvl in enumerate(Level)}
BASICALLY_SATISFIED_WEIGHT = 0.9
# Statuses in which a unit's clock runs: warnings and overdue are about these.
RUNNING_STATUSES = frozenset({Status.PENDING_ACCEPT.value, Status.IN_PROGRESS.value})
MEDIAN, P90 = 0.5, 0.9
CITIZEN = Role.CITIZEN.value  # feedback the citizen gave; any other recorder is staff's 回访

T = TypeVar("T")


@dataclass(frozen=True)
class Weights:
    """Weights of the composite score (one public analytics code's 0.1/0.5/0.4)."""

    response: float = 0.1
    resolution: float = 0.5
    satisfaction: float = 0.4


@dataclass(frozen=True)
class IssueCounts:
    """How many of some issues of one status (one unit's, one category's …) have each property.

    The status says what a count means: ``warned`` and ``overdue`` are "warning" and "overdue
    now" only while the clock runs, ``at_level`` is "open at a level" only while open.
    """

    status: str
    total: int = 0
    overdue: int = 0  # the overdue flag is set (it stays once set)
    warned: int = 0  # warned at least once and not overdue
    resolved: int = 0  # a resolution level is recorded
    resolved_by_level: Mapping[str, int] = field(default_factory=dict)  # by resolution level
    at_level: Mapping[str, int] = field(default_factory=dict)  # by the level it is at now
    feedback: int = 0  # the citizen's rating received
    solved: int = 0  # … saying the problem was solved
    satisfied: int = 0  # … "satisfied"
    basically_satisfied: int = 0  # … "basically satisfied"
    feedback_by: Mapping[str, int] = field(default_factory=dict)  # feedback by its recorder


@dataclass(frozen=True)
class StayCounts:
    """How many of some level stays at one level were settled, left, on time."""

    level: str
    settled: int = 0  # acceptance settled: accepted, or the accept deadline passed
    accepted_on_time: int = 0
    left: int = 0  # left with an outcome other than ``withdrawn``
    left_on_time: int = 0  # … on time


@dataclass(frozen=True)
class Rates:
    response: float | None
    resolution: float | None
    satisfaction: float | None
    composite: float | None
    dispatched: int  # stays whose acceptance is settled
    accepted_on_time: int
    feedback: int  # feedback received
    feedback_by_citizen: int  # … given by the citizen (tracking code + PIN)
    feedback_by_staff: int  # … recorded by staff on a 回访
    feedback_by: dict[str, int]  # … by recorder: "citizen" first, then each staff role met


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
    rates: Rates
    open_by_level: dict[str, int]
    funnel: dict[str, int]  # issues that reached each level
    overdue_total: int  # issues that ever went overdue, open or not


@dataclass(frozen=True)
class Ranked:
    key: str
    summary: Summary
    rank: int = 0


def ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def status_counts(issues: Iterable[IssueCounts]) -> dict[str, int]:
    counts = dict.fromkeys(STATUSES, 0)
    for group in issues:
        counts[group.status] = counts.get(group.status, 0) + group.total
    return counts


def resolution_share(issues: Iterable[IssueCounts]) -> tuple[int, dict[str, float | None]]:
    """How many were resolved, and the share resolved at each level (小事不出村、大事不出镇)."""
    resolved, at = 0, dict.fromkeys(COUNTED_LEVELS, 0)
    for group in issues:
        resolved += group.resolved
        for level, n in group.resolved_by_level.items():
            if level in at:
                at[level] += n
    return resolved, {level: ratio(n, resolved) for level, n in at.items()}


def on_time_rates(stays: Iterable[StayCounts]) -> dict[str, float | None]:
    left, on_time = dict.fromkeys(COUNTED_LEVELS, 0), dict.fromkeys(COUNTED_LEVELS, 0)
    for stay in stays:
        if stay.level in left:
            left[stay.level] += stay.left
            on_time[stay.level] += stay.left_on_time
    return {level: ratio(on_time[level], left[level]) for level in COUNTED_LEVELS}


def quantile(count: int, q: float, nth: Callable[[int], float]) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) of ``count`` values by linear interpolation between closest
    ranks, ``nth(k)`` being the k-th smallest (from 0); None if there are none."""
    if not count:
        return None
    position = (count - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return nth(low) + (nth(high) - nth(low)) * (position - low)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0 ≤ q ≤ 1) by linear interpolation between closest ranks; None if empty."""
    ordered = sorted(values)
    return quantile(len(ordered), q, ordered.__getitem__)


def time_to_resolve(count: int, nth: Callable[[int], int]) -> Durations:
    """Median and p90 of ``count`` registration → resolution times, ``nth(k)`` being the k-th
    smallest (from 0) in whole microseconds (exact, as the database subtracts them); reported in
    seconds. Only the ranks the quantiles need are asked for."""

    def seconds(rank: int) -> float:
        return nth(rank) / 1_000_000  # what timedelta.total_seconds() gives

    return Durations(count, quantile(count, MEDIAN, seconds), quantile(count, P90, seconds))


def feedback_by(issues: Iterable[IssueCounts]) -> dict[str, int]:
    """Feedback received by who recorded it: the citizen's count always (0 included), then each
    staff role that recorded any, by name."""
    recorders: dict[str, int] = defaultdict(int)
    for group in issues:
        for recorder, n in group.feedback_by.items():
            recorders[recorder] += n
    citizen = recorders.pop(CITIZEN, 0)
    return {CITIZEN: citizen} | {role: recorders[role] for role in sorted(recorders)}


def three_rates(
    issues: Iterable[IssueCounts], stays: Iterable[StayCounts], weights: Weights = Weights()
) -> Rates:
    settled = on_time = rated = solved = satisfied = basically = 0
    for stay in stays:
        settled += stay.settled
        on_time += stay.accepted_on_time
    issues = list(issues)
    for group in issues:
        rated += group.feedback
        solved += group.solved
        satisfied += group.satisfied
        basically += group.basically_satisfied
    recorded = feedback_by(issues)
    response = ratio(on_time, settled)
    resolution = ratio(solved, rated)
    satisfaction = ratio(satisfied + BASICALLY_SATISFIED_WEIGHT * basically, rated)
    composite = None
    if response is not None and resolution is not None and satisfaction is not None:
        composite = (
            weights.response * response
            + weights.resolution * resolution
            + weights.satisfaction * satisfaction
        )
    citizen = recorded[CITIZEN]
    return Rates(
        response,
        resolution,
        satisfaction,
        composite,
        settled,
        on_time,
        rated,
        feedback_by_citizen=citizen,
        feedback_by_staff=sum(recorded.values()) - citizen,
        feedback_by=recorded,
    )


def open_by_level(issues: Iterable[IssueCounts]) -> dict[str, int]:
    """Open issues by the level they sit at now; levels outside the ladder's three only if met."""
    counts = dict.fromkeys(COUNTED_LEVELS, 0)
    for group in issues:
        if group.status in OPEN_STATUSES:
            for level, n in group.at_level.items():
                if n:
                    counts[level] = counts.get(level, 0) + n
    return counts


def escalation_funnel(issues: Iterable[IssueCounts]) -> dict[str, int]:
    """How many issues reached the village, the township and the county (上报漏斗)."""
    township, county = LEVEL_ORDER[TOWNSHIP], LEVEL_ORDER[COUNTY]
    total = reached_township = reached_county = 0
    for group in issues:
        total += group.total
        for level, n in group.at_level.items():
            rung = LEVEL_ORDER.get(level, 0)
            reached_township += n if rung >= township else 0
            reached_county += n if rung >= county else 0
    return {VILLAGE: total, TOWNSHIP: reached_township, COUNTY: reached_county}


def summarize(
    issues: Sequence[IssueCounts], stays: Sequence[StayCounts], weights: Weights = Weights()
) -> Summary:
    total = open_ = warning = overdue = overdue_total = 0
    for group in issues:
        total += group.total
        overdue_total += group.overdue
        if group.status in OPEN_STATUSES:
            open_ += group.total
        if group.status in RUNNING_STATUSES:
            warning += group.warned
            overdue += group.overdue
    resolved, share = resolution_share(issues)
    return Summary(
        total=total,
        by_status=status_counts(issues),
        open=open_,
        warning=warning,
        overdue=overdue,
        resolved=resolved,
        resolution_share=share,
        on_time=on_time_rates(stays),
        rates=three_rates(issues, stays, weights),
        open_by_level=open_by_level(issues),
        funnel=escalation_funnel(issues),
        overdue_total=overdue_total,
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
