"""What each action does to an issue: the state, the events (types, seqs, data) and the notices
left in the outbox (kind; units, departments, supervisors of whom they reach).

Clocks come from the deadline activities on the real calendar and the default policy (see
``test_lifecycle_clocks``); the issue is registered on Monday 2026-03-02 09:00.
"""

from __future__ import annotations

from datetime import timedelta

from domain.lifecycle import limits
from domain.lifecycle.clocks import next_due
from domain.lifecycle.transitions import apply
from domain.models import (
    EventType,
    Feedback,
    Outcome,
    Role,
    Satisfaction,
    Status,
    Term,
    Transfer,
)
from tests.domain.conftest import (
    CITIZEN,
    COUNTY,
    HOUR,
    OTHER_TOWNSHIP,
    OTHER_VILLAGE,
    SHUILI,
    START,
    SUPERVISOR,
    TOWNSHIP,
    VILLAGE,
    ZHUJIAN,
    accepted,
    acted,
    action,
    at_county,
    clerk,
    clocks_fired,
    department,
    ladder_of,
    leader,
    registered,
    resolved,
    sh,
    to,
    types,
)

V, T, C = clerk(VILLAGE), leader(TOWNSHIP), leader(COUNTY)
UNSATISFIED = Feedback(actor=CITIZEN, solved=False, satisfaction=Satisfaction.UNSATISFIED)


# ---- at a level ---------------------------------------------------------------------------------


def test_accept_on_time_then_progress() -> None:
    s = registered()
    events, notices = acted(s, "accept", action("accept", V), START + HOUR)
    assert types(events) == [EventType.ACCEPTED] and events[0].data == {"on_time": True}
    assert s.status is Status.IN_PROGRESS and s.current.accepted_at == START + HOUR
    assert notices == []
    events, _ = acted(s, "progress", action("progress", V, note="已联系保洁"), START + 2 * HOUR)
    assert types(events) == [EventType.PROGRESS] and events[0].data == {"note": "已联系保洁"}
    assert s.progress_notes == 1


def test_supervise_notifies_the_unit_holding_the_issue() -> None:
    s = accepted()
    events, notices = acted(s, "supervise", action("supervise", SUPERVISOR, note="请加快"), START)
    assert types(events) == [EventType.SUPERVISED] and events[0].data == {"note": "请加快"}
    assert events[0].actor == SUPERVISOR and events[0].unit == VILLAGE.code
    assert [to(n) for n in notices] == [("supervised", [VILLAGE.code], [], [])]
    assert s.status is Status.IN_PROGRESS


def test_escalate_on_request_is_on_time() -> None:
    s = accepted()
    events, _ = acted(s, "escalate", action("escalate", V, reason="超出村级权限"), START + 2 * HOUR)
    assert types(events) == [EventType.ESCALATED, EventType.LEVEL_ENTERED]
    assert events[0].data["outcome"] == "escalated_on_request" and events[0].actor == V
    assert events[1].data["note"] == "超出村级权限"
    assert s.levels[0].outcome is Outcome.ESCALATED_ON_REQUEST and s.levels[0].on_time


# ---- departments --------------------------------------------------------------------------------


def test_whistle_report_and_report_overdue() -> None:
    s = accepted()
    at = START + 2 * HOUR
    whistle = action("whistle", V, departments=[ZHUJIAN, SHUILI], reason="需住建水利")
    events, notices = acted(s, "whistle", whistle, at)
    assert types(events) == [EventType.WHISTLED]
    deadline = at + timedelta(minutes=30)
    assert events[0].data == {
        "departments": [ZHUJIAN, SHUILI],
        "reason": "需住建水利",
        "report_deadline": deadline.isoformat(),
    }
    assert [to(n) for n in notices] == [("whistle", [], [ZHUJIAN, SHUILI], [])]
    assert [(d.department, d.name, d.unit, d.report_deadline) for d in s.departments] == [
        (ZHUJIAN, "住建", VILLAGE.code, deadline),
        (SHUILI, "水利", VILLAGE.code, deadline),
    ]
    report = action("report", department(ZHUJIAN), contribution="已派员")
    events, notices = acted(s, "report", report, at + timedelta(minutes=10))
    assert types(events) == [EventType.REPORTED]
    assert events[0].data == {"department": ZHUJIAN, "on_time": True, "contribution": "已派员"}
    assert [to(n) for n in notices] == [("reported", [VILLAGE.code], [], [])]
    events, notices = clocks_fired(s, deadline)
    assert types(events) == [EventType.REPORT_OVERDUE]
    assert events[0].data == {"department": SHUILI, "deadline": deadline.isoformat()}
    assert [to(n) for n in notices] == [("report_overdue", [VILLAGE.code], [SHUILI], [])]
    events, _ = acted(s, "report", action("report", department(SHUILI)), at + HOUR)
    assert events[0].data["on_time"] is False
    assert all(d.reported_at is not None for d in s.departments)


# ---- extensions ---------------------------------------------------------------------------------


def test_an_extension_request_goes_to_the_parent_and_approval_moves_the_clocks() -> None:
    s = accepted()
    ask = action("extension", V, term=Term(working_days=2), reason="等待材料")
    events, notices = acted(s, "extension", ask, START + 2 * HOUR)
    assert types(events) == [EventType.EXTENSION_REQUESTED]
    assert events[0].data == {"term": "2个工作日", "reason": "等待材料"}
    assert [to(n) for n in notices] == [("extension_requested", [TOWNSHIP.code], [], [])]
    assert s.pending_extension is not None and s.current.extension_requested
    yes = action("extension_decision", T, approve=True)
    events, notices = acted(s, "extension_decision", yes, START + 3 * HOUR)
    assert types(events) == [EventType.EXTENSION_DECIDED]
    assert events[0].data == {
        "approve": True,
        "comment": None,
        "term": "2个工作日",
        "old_deadline": sh(3, 5, 18).isoformat(),
        "new_deadline": sh(3, 9, 18).isoformat(),
    }
    assert [to(n) for n in notices] == [("extension_decided", [VILLAGE.code], [], [])]
    lvl = s.current
    assert lvl.deadline == sh(3, 9, 18) and lvl.extended and s.pending_extension is None
    span = sh(3, 9, 18) - START
    assert lvl.warnings == [START + span / 2, START + span * 3 / 4]


def test_approval_moves_only_the_warnings_not_yet_sent() -> None:
    s = accepted()
    acted(s, "extension", action("extension", V, term=Term(working_days=3)), START + 2 * HOUR)
    sent = s.current.warnings[0]
    clocks_fired(s, sent)
    assert s.current.warnings_sent == 1
    decision = action("extension_decision", T, approve=True, term=Term(working_days=1))
    events, _ = acted(s, "extension_decision", decision, sent + HOUR)
    assert events[0].data["term"] == "1个工作日"
    lvl = s.current
    assert lvl.deadline == sh(3, 6, 18)  # granted less than asked
    assert lvl.warnings == [sent, START + (sh(3, 6, 18) - START) * 3 / 4]
    assert next_due(s) == lvl.warnings[1]


def test_a_refused_extension_keeps_the_deadline_and_the_one_request() -> None:
    s = accepted()
    acted(s, "extension", action("extension", V), START + 2 * HOUR)
    no = action("extension_decision", T, approve=False, comment="理由不足")
    events, notices = acted(s, "extension_decision", no, START + 3 * HOUR)
    assert events[0].data == {"approve": False, "comment": "理由不足"}
    assert [to(n) for n in notices] == [("extension_decided", [VILLAGE.code], [], [])]
    assert s.current.deadline == sh(3, 5, 18) and not s.current.extended
    assert s.pending_extension is None and s.current.extension_requested


def test_the_county_decides_its_own_extensions() -> None:
    s = at_county()
    _, notices = acted(s, "extension", action("extension", C), START + 4 * HOUR)
    assert [to(n) for n in notices] == [("extension_requested", [COUNTY.code], [], [])]
    acted(s, "extension_decision", action("extension_decision", C, approve=True), START + 5 * HOUR)
    assert s.current.deadline == sh(3, 12, 18)


# ---- transfer -----------------------------------------------------------------------------------


def test_a_transfer_takes_the_target_ladder_and_starts_the_clocks_again() -> None:
    s = accepted()
    at = START + 2 * HOUR
    move = Transfer(actor=V, ladder=ladder_of(OTHER_VILLAGE), reason="属枣园村")
    events, notices = acted(s, "transfer", move, at)
    assert types(events) == [EventType.TRANSFERRED, EventType.LEVEL_ENTERED]
    assert events[0].data == {
        "from_unit": VILLAGE.code,
        "to_unit": OTHER_VILLAGE.code,
        "reason": "属枣园村",
    }
    assert events[1].unit == OTHER_VILLAGE.code and events[1].data["reason"] == "transferred"
    assert [to(n) for n in notices] == [("level_entered", [OTHER_VILLAGE.code], [], [])]
    old, new = s.levels
    assert (old.outcome, old.on_time, old.left_at) == (Outcome.TRANSFERRED, True, at)
    assert s.ladder == ladder_of(OTHER_VILLAGE) and s.rung == 0 and s.transfers == 1
    assert (new.entered_at, new.deadline, new.warnings_sent) == (at, sh(3, 5, 18), 0)
    assert s.status is Status.PENDING_ACCEPT
    # The ladder is the target's now: its escalation goes to the target's township.
    acted(s, "escalate", action("escalate", clerk(OTHER_VILLAGE)), at + HOUR)
    assert s.unit == OTHER_TOWNSHIP


def test_the_parent_county_transfers_a_township_issue_to_another_township() -> None:
    s = accepted()
    acted(s, "escalate", action("escalate", V), START + 2 * HOUR)
    move = Transfer(actor=C, ladder=ladder_of(OTHER_TOWNSHIP), reason="属回龙镇")
    acted(s, "transfer", move, START + 3 * HOUR)
    assert (s.ladder, s.rung, s.unit) == (ladder_of(OTHER_TOWNSHIP), 0, OTHER_TOWNSHIP)


# ---- resolve, feedback, close -------------------------------------------------------------------


def test_resolve_waits_for_feedback_and_a_satisfied_citizen_closes_it() -> None:
    s = accepted()
    at = START + 2 * HOUR
    events, notices = acted(s, "resolve", action("resolve", V, summary="已清运"), at)
    assert types(events) == [EventType.RESOLVED] and events[0].actor == V
    assert events[0].data == {
        "summary": "已清运",
        "on_time": True,
        "feedback_until": sh(3, 9, 18).isoformat(),
    }
    assert [to(n) for n in notices] == [("resolved", [VILLAGE.code], [], [])]
    assert s.status is Status.AWAITING_FEEDBACK and s.feedback_deadline == sh(3, 9, 18)
    assert s.resolution is not None
    assert (s.resolution.level, s.resolution.unit, s.resolution.by) == (
        "village",
        VILLAGE.code,
        V.user,
    )
    assert s.current.outcome is Outcome.RESOLVED and next_due(s) == sh(3, 9, 18)
    rating = Feedback(actor=CITIZEN, satisfaction=Satisfaction.BASICALLY_SATISFIED)
    events, _ = acted(s, "feedback", rating, at + HOUR)
    assert types(events) == [EventType.FEEDBACK, EventType.CLOSED]
    assert events[0].data == {
        "solved": True,
        "satisfaction": "basically_satisfied",
        "comment": None,
        "by_role": "citizen",
    }
    assert events[1].data == {
        "resolution_level": "village",
        "resolution_unit": VILLAGE.code,
        "feedback": True,
    }
    assert (s.status, s.closed_at, next_due(s)) == (Status.CLOSED, at + HOUR, None)


def test_unsatisfied_reopens_the_same_level_once_then_escalates() -> None:
    s = resolved()
    events, _ = acted(s, "feedback", UNSATISFIED, START + 3 * HOUR)
    assert types(events) == [EventType.FEEDBACK, EventType.REOPENED, EventType.LEVEL_ENTERED]
    assert events[1].data == {"unit": VILLAGE.code}
    assert events[2].data["reason"] == "reopened" and events[2].data["note"] == "群众不满意，重办"
    assert (s.status, s.unit, s.resolution) == (Status.PENDING_ACCEPT, VILLAGE, None)
    assert s.feedback_deadline is None and s.reopened_at_level == [VILLAGE.code]
    acted(s, "accept", action("accept", V), START + 4 * HOUR)
    acted(s, "resolve", action("resolve", V), START + 5 * HOUR)
    # Solved "no" counts as turned down whatever the satisfaction.
    again = Feedback(actor=CITIZEN, solved=False, satisfaction=Satisfaction.SATISFIED)
    events, _ = acted(s, "feedback", again, START + 6 * HOUR)
    assert types(events) == [EventType.FEEDBACK, EventType.ESCALATED, EventType.LEVEL_ENTERED]
    assert events[1].data == {
        "outcome": "resolved",
        "reason": "重办后群众仍不满意，上报上级",
        "from_unit": VILLAGE.code,
        "to_unit": TOWNSHIP.code,
    }
    assert [(lv.unit, lv.reason, lv.outcome) for lv in s.levels] == [
        (VILLAGE, "registered", Outcome.RESOLVED),
        (VILLAGE, "reopened", Outcome.RESOLVED),
        (TOWNSHIP, "escalated", None),
    ]
    assert len(s.feedback_history) == 2 and s.status is Status.PENDING_ACCEPT


def test_at_the_ceiling_a_second_refusal_closes_with_the_dissatisfaction_on_record() -> None:
    s = at_county()
    for hour in (4, 6):
        acted(s, "resolve", action("resolve", C), START + hour * HOUR)
        if hour == 4:
            acted(s, "feedback", UNSATISFIED, START + (hour + 1) * HOUR)
            acted(s, "accept", action("accept", C), START + (hour + 1) * HOUR)
    events, _ = acted(s, "feedback", UNSATISFIED, START + 7 * HOUR)
    assert types(events) == [EventType.FEEDBACK, EventType.CLOSED]
    assert s.status is Status.CLOSED and s.resolution is not None
    assert s.feedback is not None and s.feedback.satisfaction is Satisfaction.UNSATISFIED


# ---- withdraw and request ids -------------------------------------------------------------------


def test_the_citizen_withdraws_and_every_clock_stops() -> None:
    s = at_county()
    clocks_fired(s, sh(3, 11, 18))  # overdue, reminders running
    at = sh(3, 11, 20)
    events, notices = acted(s, "withdraw", action("withdraw", CITIZEN, reason="已自行解决"), at)
    assert types(events) == [EventType.WITHDRAWN] and events[0].data == {"reason": "已自行解决"}
    assert [to(n) for n in notices] == [("withdrawn", [COUNTY.code], [], [])]
    assert (s.status, s.closed_at, s.current.outcome) == (Status.WITHDRAWN, at, Outcome.WITHDRAWN)
    assert next_due(s) is None and s.next_overdue_reminder is None


def test_the_unit_withdraws_an_issue_it_has_not_accepted() -> None:
    s = registered()
    acted(s, "withdraw", action("withdraw", V), START + HOUR)
    assert s.status is Status.WITHDRAWN and s.events[-1].actor.role is Role.CLERK


def test_request_ids_are_remembered_up_to_their_cap() -> None:
    s = accepted()
    total = limits.REQUEST_MEMORY + 5
    for n in range(total):
        a = action("supervise", SUPERVISOR)
        a.request_id = f"request-{n}"
        apply(s, "supervise", a, START + HOUR)
    assert len(s.applied_requests) == limits.REQUEST_MEMORY
    assert s.applied_requests[0] == "request-5" and s.applied_requests[-1] == f"request-{total - 1}"
