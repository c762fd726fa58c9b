"""What the clocks do to an issue: registration's clocks, accept overdue, warnings at 50% and 75%,
escalation on timeout to the parent, overdue at the county with 督办 reminders, lapsed extensions,
the feedback window closing — each fired at its own instant by ``advance``, as the workflow's
timers fire them.

The instants are those of the design, computed by the deadline activities on the real calendar and
the default policy: the village has 3 working days, the township 5, the county 7, each counted
from the day after arrival and ending at 18:00; departments report within 30 minutes; 督办
reminders at 09:00 every working day. The issue is registered on Monday 2026-03-02 09:00, weeks
before the first holiday of the year.
"""

from __future__ import annotations

from datetime import datetime

from domain.lifecycle.clocks import fire, next_due
from domain.models import (
    SYSTEM_ACTOR,
    EventType,
    Feedback,
    Outcome,
    Satisfaction,
    Status,
    Term,
    Urgency,
)
from tests.domain.conftest import (
    CITIZEN,
    COUNTY,
    HOUR,
    SHANGHAI,
    START,
    TOWNSHIP,
    VILLAGE,
    accepted,
    acted,
    action,
    assert_trail,
    at_county,
    clerk,
    clocks_fired,
    drive,
    leader,
    registered,
    resolved,
    sh,
    tick,
    to,
    types,
)

V, T, C = clerk(VILLAGE), leader(TOWNSHIP), leader(COUNTY)
UNSATISFIED = Feedback(actor=CITIZEN, solved=False, satisfaction=Satisfaction.UNSATISFIED)


# ---- registration -------------------------------------------------------------------------------


def test_registration_enters_the_village_with_its_clocks() -> None:
    s = registered()
    assert_trail(s)
    assert types(s.events) == [EventType.REGISTERED, EventType.LEVEL_ENTERED]
    first, entered = s.events
    assert first.data["policy"] == "default" and first.data["urgency"] == "normal"
    assert first.actor == V and first.at == START
    assert entered.data == {
        "reason": "registered",
        "deadline": sh(3, 5, 18).isoformat(),
        "accept_deadline": sh(3, 3, 18).isoformat(),
        "provisional": False,
    }
    assert [to(n) for n in s.outbox] == [("level_entered", [VILLAGE.code], [], [])]
    assert s.outbox[0].seq == entered.seq and s.outbox[0].deadline == sh(3, 5, 18)
    lvl = s.current
    assert (s.status, lvl.unit, lvl.level, lvl.outcome) == (
        Status.PENDING_ACCEPT,
        VILLAGE,
        "village",
        None,
    )
    assert lvl.transfer_until == sh(3, 4, 18)
    span = lvl.deadline - lvl.entered_at  # 81 hours
    assert lvl.warnings == [START + span / 2, START + span * 3 / 4]
    assert next_due(s) == lvl.accept_deadline and s.awaiting is None


def test_a_deadline_past_the_official_schedules_is_provisional_and_alerts_the_admins() -> None:
    s = registered(at=datetime(2027, 3, 1, 9, tzinfo=SHANGHAI))  # 2027's schedule is unpublished
    assert s.current.provisional and s.events[-1].data["provisional"] is True
    alert = s.outbox[-1]
    assert to(alert) == ("calendar_provisional", [], [], [COUNTY.code])
    assert "2027年放假安排尚未公布" in alert.text


# ---- at a level ---------------------------------------------------------------------------------


def test_a_late_accept_is_reminded_once_and_counted_late() -> None:
    s = registered()
    events, notices = clocks_fired(s, sh(3, 3, 18))
    assert types(events) == [EventType.ACCEPT_OVERDUE] and events[0].actor == SYSTEM_ACTOR
    assert [to(n) for n in notices] == [("accept_overdue", [VILLAGE.code], [], [])]
    assert s.status is Status.PENDING_ACCEPT and s.current.accepted_on_time is False
    assert next_due(s) == s.current.warnings[0]  # reminded once, not again
    events, _ = acted(s, "accept", action("accept", V), sh(3, 3, 20))
    assert events[0].data == {"on_time": False} and s.current.accepted_on_time is False


def test_warnings_at_half_and_three_quarters_copy_the_parent() -> None:
    s = accepted()
    half, three_quarters = s.current.warnings
    for at, fraction in ((half, 0.5), (three_quarters, 0.75)):
        fired, (events, notices) = next_due(s), clocks_fired(s, at)
        assert fired == at
        assert types(events) == [EventType.WARNING] and events[0].at == at
        assert events[0].data == {"fraction": fraction, "deadline": sh(3, 5, 18).isoformat()}
        assert [to(n) for n in notices] == [("warning", [VILLAGE.code, TOWNSHIP.code], [], [])]
    assert s.current.warnings_sent == s.warnings_sent == 2
    assert next_due(s) == sh(3, 5, 18)


def test_urgent_clocks_run_in_hours() -> None:
    s = registered(Urgency.URGENT)
    lvl = s.current
    assert (lvl.accept_deadline, lvl.deadline) == (START + HOUR / 2, START + 4 * HOUR)
    assert lvl.warnings == [START + 2 * HOUR, START + 3 * HOUR]
    events, _ = clocks_fired(s, START + 4 * HOUR)
    assert types(events) == [
        EventType.ACCEPT_OVERDUE,
        EventType.WARNING,
        EventType.WARNING,
        EventType.ESCALATED,
        EventType.LEVEL_ENTERED,
    ]
    assert s.current.deadline == START + 12 * HOUR  # the township's 8 hours


# ---- up the ladder ------------------------------------------------------------------------------


def test_a_missed_deadline_escalates_to_the_parent() -> None:
    s = accepted()
    events, notices = clocks_fired(s, sh(3, 5, 18))
    assert types(events)[-2:] == [EventType.ESCALATED, EventType.LEVEL_ENTERED]
    escalated, entered = events[-2:]
    assert escalated.actor == SYSTEM_ACTOR and escalated.at == sh(3, 5, 18)
    assert escalated.data == {
        "outcome": "escalated_on_timeout",
        "reason": "办理期限届满，自动上报",
        "from_unit": VILLAGE.code,
        "to_unit": TOWNSHIP.code,
    }
    assert (entered.unit, entered.level, entered.data["reason"]) == (
        TOWNSHIP.code,
        "township",
        "escalated",
    )
    village, township = s.levels
    assert (village.outcome, village.on_time, village.left_at) == (
        Outcome.ESCALATED_ON_TIMEOUT,
        False,
        sh(3, 5, 18),
    )
    assert township.deadline == sh(3, 12, 18)  # 5 working days: 6, 9, 10, 11, 12
    assert (s.status, s.unit, s.rung) == (Status.PENDING_ACCEPT, TOWNSHIP, 1)
    assert [to(n) for n in notices][-1] == ("level_entered", [TOWNSHIP.code], [], [])


def test_an_undecided_extension_lapses_with_the_level() -> None:
    s = accepted()
    acted(s, "extension", action("extension", V), START + 2 * HOUR)
    clocks_fired(s, sh(3, 5, 18))
    assert s.unit == TOWNSHIP and s.pending_extension is None


def test_at_the_county_a_missed_deadline_is_overdue_and_reminded_every_working_day() -> None:
    s = at_county()
    assert s.current.deadline == sh(3, 11, 18)  # 7 working days from Monday 11:00
    events, notices = clocks_fired(s, sh(3, 11, 18))
    overdue = events[-1]
    assert overdue.type is EventType.OVERDUE and overdue.at == sh(3, 11, 18)
    assert overdue.data == {
        "deadline": sh(3, 11, 18).isoformat(),
        "next_reminder": sh(3, 12, 9).isoformat(),
    }
    assert to(notices[-1]) == ("overdue", [COUNTY.code], [], [COUNTY.code])
    assert s.overdue and s.overdue_since == sh(3, 11, 18) and s.status is Status.IN_PROGRESS
    # Thursday, Friday, then Monday: the weekend has no reminder.
    for count, (at, following) in enumerate(
        [(sh(3, 12, 9), sh(3, 13, 9)), (sh(3, 13, 9), sh(3, 16, 9)), (sh(3, 16, 9), sh(3, 17, 9))],
        start=1,
    ):
        sent = len(s.outbox)
        fired, events = tick(s)
        assert fired == at and types(events) == [EventType.OVERDUE_REMINDER]
        assert events[0].data == {
            "since": sh(3, 11, 18).isoformat(),
            "next_reminder": following.isoformat(),
            "count": count,
        }
        assert [to(n) for n in s.outbox[sent:]] == [
            ("overdue_reminder", [COUNTY.code], [], [COUNTY.code])
        ]
    acted(s, "resolve", action("resolve", C), sh(3, 17, 10))
    assert s.next_overdue_reminder is None and next_due(s) == s.feedback_deadline
    assert s.levels[-1].on_time is False and s.overdue


def test_a_pending_extension_lapses_when_the_county_goes_overdue() -> None:
    s = at_county()
    acted(s, "extension", action("extension", C, term=Term(working_days=3)), START + 4 * HOUR)
    events, _ = clocks_fired(s, sh(3, 11, 18))
    assert events[-1].data["extension_lapsed"] is True
    assert s.pending_extension is None and not s.current.extended


# ---- after resolve ------------------------------------------------------------------------------


def test_silence_through_the_feedback_window_closes_without_feedback() -> None:
    s = resolved()
    window = s.feedback_deadline
    assert window == sh(3, 9, 18)
    events, notices = clocks_fired(s, window)
    assert types(events) == [EventType.FEEDBACK_EXPIRED, EventType.CLOSED]
    assert all(e.actor == SYSTEM_ACTOR and e.at == window for e in events)
    assert events[1].data["feedback"] is False and notices == []
    assert (s.status, s.feedback, next_due(s)) == (Status.CLOSED, None, None)


def test_a_state_caught_between_an_escalation_and_its_clock_settles_to_the_level_it_enters() -> (
    None
):
    """What a live query can catch (a task heartbeating while its clock waits): ``escalated``
    written, the level not yet entered. Settling finishes it as the run loop then does."""
    state = registered()
    due = state.current.deadline
    fire(state, due)
    assert state.awaiting is not None
    caught = [e.type for e in state.events]
    assert caught[-1] is EventType.ESCALATED and len(state.levels) == 1
    # Unsettled, the trail and the levels disagree: the live view must not show this.
    assert caught.count(EventType.ESCALATED) != sum(lv.reason == "escalated" for lv in state.levels)

    drive(state)
    assert state.awaiting is None
    assert [lv.level for lv in state.levels] == ["village", "township"]
    trail = [e.type for e in state.events]
    assert trail[-2:] == [EventType.ESCALATED, EventType.LEVEL_ENTERED]
    assert trail.count(EventType.ESCALATED) == sum(lv.reason == "escalated" for lv in state.levels)
    assert state.current.deadline > due
