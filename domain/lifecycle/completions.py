"""What a computed clock completes: the second half of a decision that waited for the calendar.

``transitions`` leaves a ``ClockNeed`` in ``state.awaiting``; the run loop computes it (a local
activity) and calls ``complete`` with the result, which finishes the transition: the clocks go
into the state, the events and the notices that needed them are appended.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import labels
from domain.lifecycle.clocks import request_for
from domain.lifecycle.trail import event, notice
from domain.lifecycle.transitions import enter_level, entered, extension_decided
from domain.models import (
    SYSTEM_ACTOR,
    ClockKind,
    ClockNeed,
    Deadline,
    DepartmentCall,
    EventType,
    IssueState,
    LevelClock,
    Terms,
)


def complete(state: IssueState, result: Terms | LevelClock | Deadline) -> None:
    """Finish the transition waiting in ``state.awaiting`` with the clock computed for it."""
    need = state.awaiting
    assert need is not None
    state.awaiting = None
    if need.kind is ClockKind.TERMS:
        assert isinstance(result, Terms)
        _registered(state, need, result)
    elif need.kind is ClockKind.LEVEL:
        assert isinstance(result, LevelClock)
        entered(state, need, result)
    else:
        assert isinstance(result, Deadline)
        _DEADLINES[need.kind](state, need, result)


def settle(state: IssueState, compute: Callable[[str, Any], Any]) -> IssueState:
    """Finish every transition still waiting for its clock, as the run loop will.

    ``compute(name, request)`` answers as the clock activity ``name`` does. A query can reach a
    workflow between a decision and its clock (its task heartbeats while the clock's local
    activity waits for a thread): an ``escalated`` event without the level it enters. Readers of
    a live state settle it first, so they show the issue as that clock will leave it.
    """
    while state.awaiting is not None:
        name, request, _ = request_for(state, state.awaiting)
        complete(state, compute(name, request))
    return state


def _registered(s: IssueState, need: ClockNeed, terms: Terms) -> None:
    issue = s.issue
    s.terms = terms
    data = {
        "category": issue.category,
        "urgency": issue.urgency.value,
        "channel": issue.channel.value,
        "tracking_code": issue.tracking_code,
        "policy": terms.policy,
    }
    event(s, EventType.REGISTERED, need.actor, need.at, data)
    enter_level(s, "registered", need.actor, need.at, None)


def _overdue(s: IssueState, need: ClockNeed, reminder: Deadline) -> None:
    s.next_overdue_reminder = reminder.at
    data = {
        "deadline": s.current.deadline,
        "next_reminder": reminder.at,
        **({"extension_lapsed": True} if need.note == "extension_lapsed" else {}),
    }
    seq = event(s, EventType.OVERDUE, SYSTEM_ACTOR, need.at, data)
    units = [s.unit.code]
    notice(s, seq, "overdue", f"超期：{s.issue.title}", units=units, supervisors_of=units)


def _reminded(s: IssueState, need: ClockNeed, reminder: Deadline) -> None:
    s.next_overdue_reminder = reminder.at
    s.overdue_reminders += 1
    data = {"since": s.overdue_since, "next_reminder": reminder.at, "count": s.overdue_reminders}
    seq = event(s, EventType.OVERDUE_REMINDER, SYSTEM_ACTOR, need.at, data)
    units = [s.unit.code]
    notice(
        s, seq, "overdue_reminder", f"超期督办：{s.issue.title}", units=units, supervisors_of=units
    )


def _resolved(s: IssueState, need: ClockNeed, window: Deadline) -> None:
    s.feedback_deadline = window.at
    lvl = s.levels[-1]
    data = {"summary": need.summary, "on_time": lvl.on_time, "feedback_until": window.at}
    seq = event(s, EventType.RESOLVED, need.actor, need.at, data)
    title = f"已办结，待回访评价：{s.issue.title}"
    notice(s, seq, "resolved", title, units=[lvl.unit.code])


def _whistled(s: IssueState, need: ClockNeed, due: Deadline) -> None:
    a = need.whistle
    assert a is not None and s.terms is not None
    for code in a.departments:
        s.departments.append(
            DepartmentCall(
                department=code,
                name=a.department_names.get(code, code),
                level=s.current.level,
                unit=s.unit.code,
                whistled_at=need.at,
                report_deadline=due.at,
            )
        )
    data = {"departments": a.departments, "reason": a.reason, "report_deadline": due.at}
    seq = event(s, EventType.WHISTLED, a.actor, need.at, data)
    title = f"吹哨：请于{s.terms.report.label()}内报到 — {s.issue.title}"
    notice(s, seq, "whistle", title, departments=list(a.departments))


def _extended(s: IssueState, need: ClockNeed, new: Deadline) -> None:
    a = need.decision
    pending = s.pending_extension
    assert a is not None and pending is not None and s.terms is not None
    s.pending_extension = None
    lvl = s.current
    granted = a.term or pending.term
    old = lvl.deadline
    lvl.deadline = new.at
    lvl.extended = True
    lvl.provisional = lvl.provisional or new.provisional
    # The warnings not yet sent move with the deadline, at the same fractions.
    span = new.at - lvl.entered_at
    lvl.warnings = lvl.warnings[: lvl.warnings_sent] + [
        lvl.entered_at + span * f for f in s.terms.warnings[lvl.warnings_sent :]
    ]
    data = {
        "approve": True,
        "comment": a.comment,
        "term": granted.label(),
        "old_deadline": old,
        "new_deadline": new.at,
    }
    extension_decided(s, a, need.at, data)


def _invalidated(s: IssueState, need: ClockNeed, window: Deadline) -> None:
    a, mark = need.invalid, s.invalid
    assert a is not None and mark is not None
    mark.review_until = window.at
    data = {
        "kind": a.kind.value,
        "reason": a.reason,
        "duplicate_of": a.duplicate_of,
        "duplicate_code": a.duplicate_code,
        "review_until": window.at,
    }
    seq = event(s, EventType.INVALIDATED, a.actor, need.at, data)
    title = f"标记为无效（{labels.INVALID_KIND[a.kind.value]}），待督查复核：{s.issue.title}"
    notice(s, seq, "invalidated", title, supervisors_of=[mark.unit], text=a.reason)


_DEADLINES: dict[ClockKind, Callable[[IssueState, ClockNeed, Deadline], None]] = {
    ClockKind.FEEDBACK_WINDOW: _resolved,
    ClockKind.REPORT: _whistled,
    ClockKind.EXTENSION: _extended,
    ClockKind.OVERDUE: _overdue,
    ClockKind.REMINDER: _reminded,
    ClockKind.INVALID_REVIEW: _invalidated,
}
