"""The recorder: an issue's workflow state projected into SQL, idempotent under retries."""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select
from temporalio.testing import ActivityEnvironment

from activities.record import Recorder, write_snapshot
from domain.models import (
    Actor,
    DepartmentCall,
    Event,
    EventType,
    FeedbackRecord,
    IssueState,
    LevelRecord,
    NewIssue,
    Outcome,
    Reporter,
    Resolution,
    Role,
    Satisfaction,
    Snapshot,
    Status,
    UnitKind,
    UnitRef,
    Urgency,
)
from domain.payloads import DATA_CONVERTER
from settings import ROOT
from store.db import session_scope
from store.tables import Issue, IssueDepartment, IssueEvent, IssueLevel
from store.units_import import import_units, ladder

SHANGHAI = timezone(timedelta(hours=8))
T0 = datetime(2025, 5, 6, 9, 0, tzinfo=SHANGHAI)
VILLAGE = "611025101001"
TOWNSHIP = "611025101"
CLERK = Actor(user="village-611025101001", role=Role.CLERK, unit_code=VILLAGE, name="回龙社区")
LEADER = Actor(user="township-611025101", role=Role.LEADER, unit_code=TOWNSHIP)
SYSTEM = Actor(user="system", role=Role.SYSTEM, name="系统")
DEPT = Actor(user="dept-zhenan-zhujian", role=Role.DEPARTMENT, department_code="zhenan-zhujian")


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    import_units(db_engine, ROOT / "data" / "divisions-611025-zhenan.json")
    return db_engine


def _ladder(engine: Engine) -> list[UnitRef]:
    with session_scope(engine) as session:
        return ladder(session, VILLAGE)


def _event(
    seq: int, type_: EventType, minutes: int, actor: Actor, level: str, unit: str, **data: Any
) -> Event:
    return Event(seq, type_, T0 + timedelta(minutes=minutes), actor, level, unit, data)


def accepted_at_village(rungs: list[UnitRef]) -> IssueState:
    """Registered at the village and accepted there: three events."""
    village = rungs[0]
    state = IssueState(
        issue=NewIssue(
            issue_id="issue-611025101001-1",
            tracking_code="ZA2505060001",
            category="roads_infrastructure",
            title="村道塌方",
            description="回龙社区三组村道被雨水冲毁一段",
            urgency=Urgency.NORMAL,
            ladder=rungs,
            registered_by=CLERK,
            registered_at=T0,
            reporter=Reporter(name="王某", phone="13800000000"),
            location="三组",
            attachments=["https://files.example/1.jpg"],
            pin_hash="$argon2id$pin",
            idempotency_key="idem-1",
        ),
        status=Status.IN_PROGRESS,
        ladder=rungs,
        rung=0,
        levels=[
            LevelRecord(
                level="village",
                unit=village,
                entered_at=T0,
                deadline=T0 + timedelta(days=3),
                accept_deadline=T0 + timedelta(days=1),
                accepted_at=T0 + timedelta(minutes=20),
                accepted_on_time=True,
            )
        ],
        events=[
            _event(1, EventType.REGISTERED, 0, CLERK, "village", VILLAGE, at=T0),
            _event(2, EventType.LEVEL_ENTERED, 0, SYSTEM, "village", VILLAGE),
            _event(3, EventType.ACCEPTED, 20, CLERK, "village", VILLAGE),
        ],
        next_seq=4,
    )
    return state


def closed_at_township(rungs: list[UnitRef]) -> IssueState:
    """Escalated on timeout, a department whistled, resolved at the township, rated: ten events."""
    state = copy.deepcopy(accepted_at_village(rungs))
    village, township = rungs[0], rungs[1]
    escalated = T0 + timedelta(days=3)
    resolved = escalated + timedelta(days=2)
    village_level = state.levels[0]
    village_level.left_at = escalated
    village_level.outcome = Outcome.ESCALATED_ON_TIMEOUT
    village_level.on_time = False
    state.levels.append(
        LevelRecord(
            level="township",
            unit=township,
            entered_at=escalated,
            deadline=escalated + timedelta(days=5),
            accept_deadline=escalated + timedelta(days=1),
            accepted_at=escalated + timedelta(hours=1),
            accepted_on_time=True,
            left_at=resolved,
            outcome=Outcome.RESOLVED,
            on_time=True,
            reason="escalated",
        )
    )
    state.departments.append(
        DepartmentCall(
            department="zhenan-zhujian",
            name="镇安县住房和城乡建设局",
            level="township",
            unit=township.code,
            whistled_at=escalated + timedelta(hours=2),
            report_deadline=escalated + timedelta(hours=2, minutes=30),
            reported_at=escalated + timedelta(hours=2, minutes=10),
            on_time=True,
            contribution="派员勘查，提供修复方案",
        )
    )
    minutes = int((escalated - T0).total_seconds() // 60)
    state.events += [
        _event(4, EventType.ESCALATED, minutes, SYSTEM, "village", village.code, on_timeout=True),
        _event(5, EventType.LEVEL_ENTERED, minutes, SYSTEM, "township", township.code),
        _event(
            6,
            EventType.WHISTLED,
            minutes + 120,
            LEADER,
            "township",
            township.code,
            departments=["zhenan-zhujian"],
        ),
        _event(7, EventType.REPORTED, minutes + 130, DEPT, "township", township.code),
        _event(8, EventType.RESOLVED, minutes + 2 * 24 * 60, LEADER, "township", township.code),
        _event(
            9,
            EventType.FEEDBACK,
            minutes + 3 * 24 * 60,
            CLERK,
            "township",
            township.code,
            satisfaction=Satisfaction.SATISFIED,
        ),
        _event(10, EventType.CLOSED, minutes + 3 * 24 * 60, SYSTEM, "township", township.code),
    ]
    state.rung = 1
    state.status = Status.CLOSED
    state.resolution = Resolution(
        "township", township.code, township.name, "已修复村道", resolved, "township-611025101"
    )
    state.feedback = FeedbackRecord(
        True, Satisfaction.SATISFIED, "满意", resolved + timedelta(days=1), "citizen"
    )
    state.feedback_history.append(state.feedback)
    state.closed_at = resolved + timedelta(days=1)
    state.next_seq = 11
    return state


def _rows(engine: Engine, model: type[SQLModel]) -> list[dict[str, Any]]:
    with session_scope(engine) as session:
        rows = session.exec(select(model)).all()
        return sorted((row.model_dump() for row in rows), key=repr)


def _all_rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    return {m.__name__: _rows(engine, m) for m in (Issue, IssueLevel, IssueDepartment, IssueEvent)}


def test_the_same_snapshot_twice_leaves_the_same_rows(engine: Engine) -> None:
    snapshot = Snapshot(closed_at_township(_ladder(engine)), from_seq=1)

    write_snapshot(engine, snapshot)
    first = _all_rows(engine)
    write_snapshot(engine, snapshot)

    assert _all_rows(engine) == first
    assert [
        len(first[name]) for name in ("Issue", "IssueLevel", "IssueDepartment", "IssueEvent")
    ] == [1, 2, 1, 10]


def test_steps_and_retried_steps_append_each_event_once(engine: Engine) -> None:
    rungs = _ladder(engine)
    early, late = accepted_at_village(rungs), closed_at_township(rungs)

    write_snapshot(engine, Snapshot(early, from_seq=1))
    write_snapshot(engine, Snapshot(late, from_seq=4))
    write_snapshot(engine, Snapshot(late, from_seq=4))  # the activity retried
    write_snapshot(engine, Snapshot(late, from_seq=1))  # and a replay of everything

    with session_scope(engine) as session:
        seqs = session.exec(select(IssueEvent.seq).order_by(col(IssueEvent.seq))).all()
    assert seqs == list(range(1, 11))


def test_levels_resolution_and_feedback_are_recorded(engine: Engine) -> None:
    rungs = _ladder(engine)
    write_snapshot(engine, Snapshot(closed_at_township(rungs), from_seq=1))

    with session_scope(engine) as session:
        issue = session.exec(select(Issue)).one()
        levels = session.exec(select(IssueLevel).order_by(col(IssueLevel.idx))).all()
        call = session.exec(select(IssueDepartment)).one()
        events = session.exec(select(IssueEvent).order_by(col(IssueEvent.seq))).all()

    assert (issue.status, issue.level, issue.unit_code) == ("closed", "township", TOWNSHIP)
    assert (issue.village_code, issue.township_code, issue.county_code) == (
        VILLAGE,
        TOWNSHIP,
        "611025",
    )
    assert issue.unit_path == f"/611025/{TOWNSHIP}/"
    assert issue.registered_unit_path == f"/611025/{TOWNSHIP}/{VILLAGE}/"
    assert (issue.resolution_level, issue.resolution_unit, issue.resolution_unit_name) == (
        "township",
        TOWNSHIP,
        "回龙镇",
    )
    assert issue.resolution_summary == "已修复村道"
    assert (issue.feedback_solved, issue.feedback_satisfaction, issue.feedback_comment) == (
        True,
        "satisfied",
        "满意",
    )
    assert issue.response_on_time is True
    assert issue.closed_at == T0 + timedelta(days=6)
    assert issue.registered_at == T0 and issue.registered_at.tzinfo is not None
    assert (issue.last_seq, issue.attachments, issue.urgency, issue.channel) == (
        10,
        ["https://files.example/1.jpg"],
        "normal",
        "walk_in",
    )
    assert [(lv.idx, lv.level, lv.unit_code, lv.outcome, lv.on_time) for lv in levels] == [
        (0, "village", VILLAGE, "escalated_on_timeout", False),
        (1, "township", TOWNSHIP, "resolved", True),
    ]
    assert (levels[0].unit_name, levels[1].reason, levels[1].accepted_on_time) == (
        "回龙社区",
        "escalated",
        True,
    )
    assert (call.department_code, call.on_time, call.contribution) == (
        "zhenan-zhujian",
        True,
        "派员勘查，提供修复方案",
    )
    assert [e.type for e in events][:3] == ["registered", "level_entered", "accepted"]
    assert (events[0].actor_user, events[0].actor_role, events[0].actor_unit) == (
        CLERK.user,
        "clerk",
        VILLAGE,
    )
    assert events[0].data == {"at": T0.isoformat()}
    assert events[5].data == {"departments": ["zhenan-zhujian"]}
    assert events[6].actor_department == "zhenan-zhujian"


def test_a_stale_snapshot_does_not_roll_the_issue_back(engine: Engine) -> None:
    rungs = _ladder(engine)
    write_snapshot(engine, Snapshot(closed_at_township(rungs), from_seq=1))

    write_snapshot(engine, Snapshot(accepted_at_village(rungs), from_seq=1))

    with session_scope(engine) as session:
        issue = session.exec(select(Issue)).one()
        outcomes = session.exec(select(IssueLevel.outcome).order_by(col(IssueLevel.idx))).all()
        events = session.exec(select(func.count()).select_from(IssueEvent)).one()
    assert (issue.status, issue.last_seq) == ("closed", 10)
    assert outcomes == ["escalated_on_timeout", "resolved"]
    assert events == 10


def test_the_apis_pin_counters_survive_later_records(engine: Engine) -> None:
    rungs = _ladder(engine)
    write_snapshot(engine, Snapshot(accepted_at_village(rungs), from_seq=1))
    locked = datetime(2025, 5, 6, 3, 0, tzinfo=UTC)
    with session_scope(engine) as session:
        session.exec(update(Issue).values(pin_failures=5, pin_locked_until=locked))

    write_snapshot(engine, Snapshot(closed_at_township(rungs), from_seq=4))

    with session_scope(engine) as session:
        issue = session.exec(select(Issue)).one()
    assert (issue.pin_failures, issue.pin_locked_until, issue.pin_hash) == (
        5,
        locked,
        "$argon2id$pin",
    )
    assert issue.status == "closed"


def test_an_events_seq_is_unique_per_issue(engine: Engine) -> None:
    write_snapshot(engine, Snapshot(accepted_at_village(_ladder(engine)), from_seq=1))

    with pytest.raises(IntegrityError), session_scope(engine) as session:
        session.add(
            IssueEvent(
                issue_id="issue-611025101001-1",
                seq=2,
                type="progress",
                at=T0,
                actor_user="x",
                actor_role="clerk",
            )
        )


async def test_the_activity_records_what_temporal_delivers(engine: Engine) -> None:
    converter = DATA_CONVERTER.payload_converter
    sent = Snapshot(closed_at_township(_ladder(engine)), from_seq=1)
    delivered = converter.from_payloads(converter.to_payloads([sent]), [Snapshot])[0]

    # A synchronous activity: ActivityEnvironment runs it in this thread like a worker's executor.
    ActivityEnvironment().run(Recorder(engine).record, delivered)

    rows = _all_rows(engine)
    assert rows["Issue"][0]["status"] == "closed"
    assert rows["Issue"][0]["deadline"] == T0 + timedelta(days=8)
    assert len(rows["IssueEvent"]) == 10


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_issue_whose_units_were_never_imported_is_still_recorded(db_engine: Engine) -> None:
    rungs = [
        UnitRef("999999001001", "外村", UnitKind.VILLAGE),
        UnitRef("999999001", "外镇", UnitKind.TOWNSHIP),
        UnitRef("999999", "外县", UnitKind.COUNTY),
    ]

    write_snapshot(db_engine, Snapshot(accepted_at_village(rungs), from_seq=1))

    issue = _rows(db_engine, Issue)[0]
    assert issue["unit_path"] == "/999999/999999001/999999001001/"
    assert issue["county_code"] == "999999"


def test_overlapping_attempts_of_one_record_all_succeed(engine: Engine) -> None:
    # A timed-out attempt may still be running when Temporal starts the next one.
    snapshot = Snapshot(closed_at_township(_ladder(engine)), from_seq=1)
    with ThreadPoolExecutor(max_workers=4) as pool:
        for future in [pool.submit(write_snapshot, engine, snapshot) for _ in range(4)]:
            future.result()

    rows = _all_rows(engine)
    assert [len(rows[n]) for n in ("Issue", "IssueLevel", "IssueDepartment", "IssueEvent")] == [
        1,
        2,
        1,
        10,
    ]
