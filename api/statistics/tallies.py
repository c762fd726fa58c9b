"""Issues and level stays of a scope counted in SQL (GROUP BY), per unit and status or level:
whole months from the monthly tallies, the rest of the period from the rows; and the few
resolution times the quantiles of the time to resolve need.

What crosses into Python grows with the units, not with the issues; ``figures.py`` adds the
counts up and turns them into figures."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as select_columns
from sqlalchemy.sql import Executable
from sqlmodel import Session, col

from api.statistics import figures
from api.statistics.periods import Split, between, split_period
from api.statistics.scope import StatsScope, in_subtree, issues_of, within_period
from domain.models import Level, Outcome, Satisfaction, Status
from store.tables import (
    FeedbackTally,
    Issue,
    IssueLevel,
    IssueTally,
    StayTally,
    Unit,
    UnitTally,
    table_of,
)

IssueRow = tuple[str, figures.IssueCounts]
StayRow = tuple[str, figures.StayCounts]  # (unit path, counts)


def _counting(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


@dataclass(frozen=True)
class IssueCounting:
    """The issues registered in a scope's period, counted."""

    by_path: list[IssueRow]  # (registered unit path, counts of one status)
    by_category: list[IssueRow]  # (category, counts of one status)


def issue_counts(session: Session, scope: StatsScope) -> IssueCounting:
    """The issues registered in the scope's period, counted per (registered unit path, status)
    and per (category, status), their feedback also per recorder."""
    overdue, satisfaction = col(Issue.overdue), col(Issue.feedback_satisfaction)
    resolution, level = col(Issue.resolution_level), col(Issue.level)
    resolved_at = {name: f"resolved_{name}" for name in figures.COUNTED_LEVELS}
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
    # Feedback received per recorder, under the same keys.
    recorded_by_path: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    recorded_by_category: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    rated = columns.index("feedback")

    def add(sums: dict[tuple[str, str], list[int]], key: tuple[str, str], values: Any) -> None:
        if (known := sums.get(key)) is None:
            sums[key] = list(values)
        else:
            for index, value in enumerate(values):
                known[index] += value

    split = split_period(scope.since, scope.until)
    # What is not whole months, from the issues themselves: one pass, added up two ways (per
    # unit, for the rankings rolled up the tree later, and per category).
    recorder = col(Issue.feedback_by_role)
    for since, until in split.edges:
        for path, category, status, role, *values in session.connection().execute(
            select_columns(
                col(Issue.registered_unit_path),
                col(Issue.category),
                col(Issue.status),
                recorder,
                func.count(),
                *(_counting(condition) for condition in counted.values()),
            )
            .where(*issues_of(scope), *between(Issue.registered_at, since, until))
            .group_by(
                col(Issue.registered_unit_path), col(Issue.category), col(Issue.status), recorder
            )
        ):
            add(by_path, (path, status), values)
            add(by_category, (category, status), values)
            if values[rated]:
                # A feedback without its recorder is the citizen's, as the API reads it.
                recorded_by_path[(path, status)][role or figures.CITIZEN] += values[rated]
                recorded_by_category[(category, status)][role or figures.CITIZEN] += values[rated]
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
                in_subtree(source.c.registered_unit_path, scope.unit),
                *between(source.c.month, *split.months),
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
                    in_subtree(tally.c.registered_unit_path, scope.unit),
                    *between(tally.c.month, *split.months),
                )
                .group_by(tally.c.category, tally.c.status)
            ):
                values = [0] * len(columns)
                values[0], values[columns.index("overdue")] = total, overdue
                add(by_category, (category, status), values)
        feedback = table_of(FeedbackTally)
        for path, status, role, n in session.connection().execute(
            select_columns(
                feedback.c.registered_unit_path,
                feedback.c.status,
                feedback.c.feedback_by,
                func.sum(feedback.c.feedback),
            )
            .where(
                in_subtree(feedback.c.registered_unit_path, scope.unit),
                *between(feedback.c.month, *split.months),
                *([feedback.c.category == scope.category] if scope.category is not None else []),
            )
            .group_by(feedback.c.registered_unit_path, feedback.c.status, feedback.c.feedback_by)
        ):
            if n:
                recorded_by_path[(path, status)][role] += n
                if scope.category is not None:
                    recorded_by_category[(scope.category, status)][role] += n

    def counts(status: str, values: list[int], recorded: Counter[str]) -> figures.IssueCounts:
        n = dict(zip(columns, values, strict=True))
        return figures.IssueCounts(
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
            feedback_by=dict(recorded),
        )

    # Issues marked invalid (无效) count in no unit's figures: their cells are left out here.
    return IssueCounting(
        [
            (path, counts(status, values, recorded_by_path[(path, status)]))
            for (path, status), values in by_path.items()
            if status != INVALID
        ],
        [
            (category, counts(status, values, recorded_by_category[(category, status)]))
            for (category, status), values in by_category.items()
            if status != INVALID
        ],
    )


INVALID = Status.INVALID.value


def stay_rows(session: Session, scope: StatsScope) -> list[StayRow]:
    # A stay counts for the unit that had the issue during it: response and on-time are that
    # unit's record, wherever the issue came from.
    units = select_columns(col(Unit.code), col(Unit.path)).where(in_subtree(Unit.path, scope.unit))
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
            .where(*between(IssueLevel.entered_at, since, until))
            # A stay that ended in an invalid mark (无效) is no stay of the unit's (as the tally).
            .where(or_(outcome.is_(None), outcome != Outcome.INVALID.value))
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
            .where(*between(tally.c.month, *split.months))
            .group_by(tally.c.unit_code, tally.c.level)
        )
    # Every unit's stays are counted (one pass either way), those outside the subtree left here.
    return [
        (paths[code], figures.StayCounts(level, settled, accepted, left_count, on_time))
        for query in queries
        for code, level, settled, accepted, left_count, on_time in session.connection().execute(
            query
        )
        if code in paths
    ]


def time_to_resolve(session: Session, scope: StatsScope, count: int) -> figures.Durations:
    """The quantiles from the few ranks they need, each read off an index in time-to-resolve
    order: no resolution time crosses into Python but those."""
    ordered = (
        select_columns(col(Issue.resolve_us))
        .where(
            *issues_of(scope),
            *within_period(Issue.registered_at, scope),
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

    return figures.time_to_resolve(count, nth)
