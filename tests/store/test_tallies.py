"""The tallies /stats reads (store/tables.py: the monthly ``UnitTally``, ``IssueTally``,
``FeedbackTally``, ``StayTally`` and the hourly ``RegisteredHourTally``, ``ResolvedHourTally``)
always equal a recount of the rows they summarise, whoever writes and however often: the recorder
with its retries and stale snapshots, the ORM, a deletion, and the migration that fills them from
rows written before it. On SQLite and on PostgreSQL.

The recount here is written from /stats' definitions (api/statistics/tallies.py), independently
of the triggers' SQL.
"""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import Engine, MetaData, Table, inspect, text
from sqlmodel import Session, select

from activities.record import write_snapshot
from domain.models import IssueState, Outcome, Role, Satisfaction, Snapshot, Status
from store.db import alembic_config, make_engine, migrate, session_scope
from store.tables import (
    FeedbackTally,
    Issue,
    IssueLevel,
    IssueTally,
    RegisteredHourTally,
    ResolvedHourTally,
    StayTally,
    UnitTally,
    stats_columns,
    table_of,
)
from tests.activities.test_record import _ladder, accepted_at_village, closed_at_township
from tests.activities.test_record import engine as engine  # the fixture, re-exported

Key = tuple[str, ...]
LEVELS = ("village", "township", "county")
ISSUE_COUNTS = [
    "total",
    "overdue",
    "warned",
    "resolved",
    *(f"resolved_{x}" for x in LEVELS),
    *(f"at_{x}" for x in ("grid", *LEVELS)),
    "feedback",
    "solved",
    "satisfied",
    "basically_satisfied",
]
STAY_COUNTS = ["settled", "accepted_on_time", "left_level", "left_on_time"]
TALLIES = (
    "unit_tally",
    "issue_tally",
    "feedback_tally",
    "stay_tally",
    "registered_hour_tally",
    "resolved_hour_tally",
)


def _month(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def _issue_counts(issue: Issue) -> Counter[str]:
    rated = issue.feedback_satisfaction is not None
    return Counter(
        {
            "total": 1,
            "overdue": issue.overdue is True,
            "warned": issue.warnings_sent != 0 and issue.overdue is not True,
            "resolved": issue.resolution_level is not None,
            **{f"resolved_{x}": issue.resolution_level == x for x in LEVELS},
            **{f"at_{x}": issue.level == x for x in ("grid", *LEVELS)},
            "feedback": rated,
            "solved": rated and issue.feedback_solved is True,
            "satisfied": issue.feedback_satisfaction == Satisfaction.SATISFIED.value,
            "basically_satisfied": (
                issue.feedback_satisfaction == Satisfaction.BASICALLY_SATISFIED.value
            ),
        }
    )


def _stay_counts(stay: IssueLevel) -> Counter[str]:
    left = stay.outcome is not None and stay.outcome != Outcome.WITHDRAWN.value
    return Counter(
        {
            "settled": stay.accepted_on_time is not None,
            "accepted_on_time": stay.accepted_on_time is True,
            "left_level": left,
            "left_on_time": left and stay.on_time is True,
        }
    )


def recount(engine: Engine) -> dict[str, dict[Key, Counter[str]]]:
    """What each tally should hold, from the rows."""
    expected: dict[str, dict[Key, Counter[str]]] = {name: defaultdict(Counter) for name in TALLIES}
    with Session(engine) as session:
        for issue in session.exec(select(Issue)):
            month, counts = _month(issue.registered_at), _issue_counts(issue)
            path = issue.registered_unit_path
            expected["unit_tally"][(path, issue.status, month)] += counts
            expected["issue_tally"][(issue.category, issue.status, path, month)] += counts
            if issue.feedback_satisfaction is not None:
                # No recorder (a feedback from before it was kept): the citizen's.
                recorder = issue.feedback_by_role or Role.CITIZEN.value
                key = (path, issue.status, recorder, issue.category, month)
                expected["feedback_tally"][key] += Counter(feedback=1)
            root = "/" + path.split("/")[1] + "/"
            expected["registered_hour_tally"][(root, issue.registered_hour)] += Counter(
                registered=1, registered_resolved=issue.resolve_us is not None
            )
            if issue.resolved_hour is not None:
                expected["resolved_hour_tally"][(root, issue.resolved_hour)] += Counter(resolved=1)
        for stay in session.exec(select(IssueLevel)):
            key = (stay.unit_code, stay.level, _month(stay.entered_at))
            expected["stay_tally"][key] += _stay_counts(stay)
    return expected


def tallied(engine: Engine) -> dict[str, dict[Key, Counter[str]]]:
    """What each tally holds, cells of nothing but zeros left out."""
    found: dict[str, dict[Key, Counter[str]]] = {}
    with Session(engine) as session:
        tallies = (
            (UnitTally, ISSUE_COUNTS),
            (IssueTally, ISSUE_COUNTS),
            (FeedbackTally, ["feedback"]),
            (StayTally, STAY_COUNTS),
            (RegisteredHourTally, ["registered", "registered_resolved"]),
            (ResolvedHourTally, ["resolved"]),
        )
        for model, counted in tallies:
            table = table_of(model)
            keys = [c.name for c in table.primary_key.columns]
            cells: dict[Key, Counter[str]] = {}
            for row in session.exec(select(model)):
                values = Counter({name: getattr(row, name) for name in counted})
                if any(values.values()):
                    cells[tuple(getattr(row, key) for key in keys)] = values
            found[table.name] = cells
    return found


def assert_tallies_match(engine: Engine) -> None:
    expected = {
        name: {key: +counts for key, counts in cells.items() if +counts}
        for name, cells in recount(engine).items()
    }
    found = {
        name: {key: +counts for key, counts in cells.items()}
        for name, cells in tallied(engine).items()
    }
    assert found == expected


def test_the_recorder_keeps_the_tallies_through_retries_and_stale_snapshots(engine: Engine) -> None:
    rungs = _ladder(engine)
    accepted, closed = accepted_at_village(rungs), closed_at_township(rungs)
    other = copy.deepcopy(accepted)
    other.issue.issue_id, other.issue.tracking_code = "issue-2", "ZA2505060002"
    other.issue.idempotency_key = "idem-2"
    other.issue.category = "environment_sanitation"
    # A third, whose feedback a supervisor recorded on a phone 回访.
    called_back = copy.deepcopy(closed)
    called_back.issue.issue_id, called_back.issue.tracking_code = "issue-3", "ZA2505060003"
    called_back.issue.idempotency_key = "idem-3"
    assert called_back.feedback is not None and closed.feedback is not None
    assert closed.feedback.by_role is Role.CITIZEN
    called_back.feedback.by_role = Role.SUPERVISOR

    write_snapshot(engine, _snapshot(accepted))
    write_snapshot(engine, _snapshot(other))
    assert_tallies_match(engine)
    with Session(engine) as session:
        assert session.exec(select(UnitTally)).first() is not None
        assert session.exec(select(FeedbackTally)).first() is None  # nobody rated yet

    write_snapshot(engine, _snapshot(closed))  # escalated, resolved at the township, rated
    write_snapshot(engine, _snapshot(closed))  # a retry: the same state again
    write_snapshot(engine, _snapshot(accepted))  # a stale attempt arriving late
    assert_tallies_match(engine)

    with Session(engine) as session:
        cells = session.exec(select(UnitTally).where(UnitTally.status == Status.CLOSED.value)).all()
        assert [(c.total, c.resolved_township, c.at_township) for c in cells] == [(1, 1, 1)]
        # Moved out of "in progress": that cell holds the other issue alone now.
        moved = session.exec(
            select(IssueTally).where(
                IssueTally.status == Status.IN_PROGRESS.value,
                IssueTally.category == accepted.issue.category,
            )
        ).all()
        assert sum(c.total for c in moved) == 0

    write_snapshot(engine, _snapshot(called_back))
    write_snapshot(engine, _snapshot(called_back))
    assert_tallies_match(engine)
    with Session(engine) as session:
        recorded = {c.feedback_by: c.feedback for c in session.exec(select(FeedbackTally))}
        assert recorded == {"citizen": 1, "supervisor": 1}


def test_orm_writes_and_deletions_keep_the_tallies(engine: Engine) -> None:
    rungs = _ladder(engine)
    write_snapshot(engine, _snapshot(closed_at_township(rungs)))
    with session_scope(engine) as session:
        issue = session.exec(select(Issue)).one()
        issue.feedback_by_role = Role.SUPERVISOR.value  # the 回访's recorder corrected
        session.add(issue)
    assert_tallies_match(engine)
    with Session(engine) as session:
        assert [c.feedback_by for c in session.exec(select(FeedbackTally)) if c.feedback] == [
            "supervisor"
        ]
    with session_scope(engine) as session:
        issue = session.exec(select(Issue)).one()
        issue.status = Status.IN_PROGRESS.value  # reopened by hand, say
        issue.overdue, issue.warnings_sent = True, 2
        issue.feedback_satisfaction = None
        session.add(issue)
    assert_tallies_match(engine)

    with session_scope(engine) as session:
        # A PIN attempt touches none of the counted columns.
        session.exec(text("UPDATE issue SET pin_failures = pin_failures + 1"))  # type: ignore[call-overload]
    assert_tallies_match(engine)

    with session_scope(engine) as session:
        for table in ("issue_level", "issue_department", "issue_event", "issue"):
            session.exec(text(f"DELETE FROM {table}"))  # type: ignore[call-overload]
    assert_tallies_match(engine)
    assert all(not cells for cells in tallied(engine).values())


def test_the_migration_fills_tallies_and_derived_columns_from_rows_written_before(
    db_url: str,
) -> None:
    migrate(db_url, "0001")
    engine = make_engine(db_url)
    try:
        tables = MetaData()
        issue = Table("issue", tables, autoload_with=engine)
        level = Table("issue_level", tables, autoload_with=engine)
        registered = datetime(2024, 1, 31, 20, 30, 15, 250_000, tzinfo=UTC)  # February in Shanghai
        rows = [
            _old_issue("a", registered, Status.CLOSED, "village", registered + timedelta(days=2)),
            _old_issue("b", registered + timedelta(days=1), Status.IN_PROGRESS, "township", None),
            _old_issue("c", registered - timedelta(days=40), Status.WITHDRAWN, "village", None),
        ]
        with engine.begin() as connection:
            connection.execute(issue.insert(), rows)
            connection.execute(
                level.insert(),
                [
                    _old_stay("a", 0, registered, Outcome.RESOLVED, True),
                    _old_stay("b", 0, registered, Outcome.ESCALATED_ON_TIMEOUT, False),
                    _old_stay("b", 1, registered + timedelta(days=3), None, None),
                ],
            )
    finally:
        engine.dispose()

    migrate(db_url)
    engine = make_engine(db_url)
    try:
        assert_tallies_match(engine)
        with Session(engine) as session:
            for row in session.exec(select(Issue)):
                derived = stats_columns(row.registered_at, row.resolved_at)
                assert {name: getattr(row, name) for name in derived} == derived
            a = session.get(Issue, "a")
            assert a is not None and a.resolve_us == 2 * 86_400 * 1_000_000
            months = {c.status: c.month for c in session.exec(select(UnitTally))}
            # UTC months, whatever the local day (1 February already, in Shanghai).
            assert months[Status.CLOSED.value] == "2024-01"
            # Rated before anyone kept who recorded it: the citizen's.
            cells = session.exec(select(FeedbackTally)).all()
            assert [(c.feedback_by, c.status, c.feedback) for c in cells] == [
                ("citizen", Status.CLOSED.value, 1)
            ]
        names = set(inspect(engine).get_table_names())
        assert set(TALLIES) <= names
    finally:
        engine.dispose()


def _snapshot(state: IssueState) -> Snapshot:
    return Snapshot(state, from_seq=1)


def _old_issue(
    key: str, registered: datetime, status: Status, level: str, resolved: datetime | None
) -> dict[str, Any]:
    return {
        "id": key,
        "tracking_code": f"T{key}",
        "pin_failures": 0,
        "category": "roads_infrastructure",
        "title": "t",
        "description": "d",
        "urgency": "normal",
        "channel": "walk_in",
        "attachments": [],
        "unit_code": "611025101001",
        "unit_path": "/611025/611025101/611025101001/",
        "registered_unit_path": "/611025/611025101/611025101001/",
        "level": level,
        "status": status.value,
        "overdue": key == "b",
        "provisional": False,
        "registered_at": registered,
        "updated_at": registered,
        "resolution_level": level if resolved else None,
        "resolved_at": resolved,
        "feedback_solved": True if resolved else None,
        "feedback_satisfaction": "satisfied" if resolved else None,
        "last_seq": 1,
        "warnings_sent": 1 if key == "b" else 0,
    }


def _old_stay(
    key: str, idx: int, entered: datetime, outcome: Outcome | None, on_time: bool | None
) -> dict[str, Any]:
    return {
        "issue_id": key,
        "idx": idx,
        "level": ("village", "township")[idx],
        "unit_code": ("611025101001", "611025101")[idx],
        "unit_name": "u",
        "entered_at": entered,
        "deadline": entered + timedelta(days=3),
        "accept_deadline": entered + timedelta(days=1),
        "accepted_on_time": True,
        "outcome": outcome.value if outcome else None,
        "on_time": on_time,
        "extended": False,
        "reason": "registered",
    }


def test_the_migration_goes_down_and_up_again(engine: Engine, db_url: str) -> None:
    write_snapshot(engine, _snapshot(closed_at_township(_ladder(engine))))
    engine.dispose()
    migrate_down(db_url, "0001")
    with make_engine(db_url).connect() as connection:
        names = set(inspect(connection).get_table_names())
        assert not set(TALLIES) & names
        columns = {c["name"] for c in inspect(connection).get_columns("issue")}
        assert "registered_hour" not in columns
    migrate(db_url)
    assert_tallies_match(engine)


def migrate_down(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
