"""The clock plan: when an issue's next clock fires, what firing does, and what each decision
asks the calendar for.

The instants themselves come from activities (policy and calendar live there); these functions
only compare instants they are given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.lifecycle.trail import event, notice, unit_and_parent
from domain.lifecycle.transitions import close, escalate, invalid_final
from domain.models import (
    SYSTEM_ACTOR,
    ClockKind,
    ClockNeed,
    ClockRequest,
    Deadline,
    DeadlineRequest,
    EventType,
    IssueState,
    LevelClock,
    Outcome,
    Status,
    Terms,
    TermsRequest,
)


def next_due(state: IssueState) -> datetime | None:
    """The nearest instant at which a clock fires, or None to wait for people only."""
    s = state
    candidates: list[datetime] = []
    if s.status is Status.INVALID:
        mark = s.invalid
        if s.closed_at is None and mark is not None and mark.review_until is not None:
            candidates.append(mark.review_until)
    elif s.status is Status.AWAITING_FEEDBACK:
        if s.feedback_deadline is not None:
            candidates.append(s.feedback_deadline)
    elif s.status in (Status.PENDING_ACCEPT, Status.IN_PROGRESS) and s.levels:
        lvl = s.current
        if s.status is Status.PENDING_ACCEPT and not lvl.accept_reminded:
            candidates.append(lvl.accept_deadline)
        if lvl.warnings_sent < len(lvl.warnings):
            candidates.append(lvl.warnings[lvl.warnings_sent])
        if s.overdue_since is not None and s.next_overdue_reminder is not None:
            candidates.append(s.next_overdue_reminder)
        elif not (s.at_ceiling and s.overdue_since is not None):
            candidates.append(lvl.deadline)
        # A report deadline that passed while nobody worked the issue (it awaited feedback)
        # fires when a level is entered again, never before: the trail stays in time order.
        candidates += [
            max(d.report_deadline, lvl.entered_at)
            for d in s.departments
            if d.reported_at is None and not d.overdue_notified
        ]
    return min(candidates) if candidates else None


def fire(state: IssueState, now: datetime) -> bool:
    """Act on every clock due at ``now`` (several may fall due together); True if anything did.

    ``now`` is the instant the timer was set for, not the time a worker applies it, so a replay
    fires the same clocks whatever the task boundaries were.
    """
    s = state
    if s.status is Status.INVALID:
        mark = s.invalid
        if s.closed_at is None and mark and mark.review_until and mark.review_until <= now:
            invalid_final(s, now)
            return True
        return False
    if s.status is Status.AWAITING_FEEDBACK:
        if s.feedback_deadline is not None and s.feedback_deadline <= now:
            event(s, EventType.FEEDBACK_EXPIRED, SYSTEM_ACTOR, now)
            close(s, now)
            return True
        return False
    if s.status not in (Status.PENDING_ACCEPT, Status.IN_PROGRESS):
        return False
    changed = _report_overdue(s, now)
    lvl = s.current
    if s.status is Status.PENDING_ACCEPT and not lvl.accept_reminded and lvl.accept_deadline <= now:
        lvl.accept_reminded = True
        lvl.accepted_on_time = False
        seq = event(s, EventType.ACCEPT_OVERDUE, SYSTEM_ACTOR, now)
        notice(s, seq, "accept_overdue", "签收超时，请尽快签收", units=[lvl.unit.code])
        changed = True
    changed = _warnings(s, now) or changed
    if s.overdue_since is not None:
        if s.next_overdue_reminder is not None and s.next_overdue_reminder <= now:
            s.awaiting = ClockNeed(ClockKind.REMINDER, at=now, actor=SYSTEM_ACTOR)
            return True
    elif lvl.deadline <= now:
        if s.at_ceiling:
            _mark_overdue(s, now)
        else:
            escalate(s, Outcome.ESCALATED_ON_TIMEOUT, SYSTEM_ACTOR, "办理期限届满，自动上报", now)
        return True
    return changed


def _report_overdue(s: IssueState, now: datetime) -> bool:
    changed = False
    for call in s.departments:
        if call.reported_at is None and not call.overdue_notified and call.report_deadline <= now:
            call.overdue_notified = True
            data = {"department": call.department, "deadline": call.report_deadline}
            seq = event(s, EventType.REPORT_OVERDUE, SYSTEM_ACTOR, now, data)
            title = f"部门报到超时：{call.name}"
            notice(
                s, seq, "report_overdue", title, departments=[call.department], units=[call.unit]
            )
            changed = True
    return changed


def _warnings(s: IssueState, now: datetime) -> bool:
    lvl = s.current
    terms = s.terms
    assert terms is not None
    changed = False
    while lvl.warnings_sent < len(lvl.warnings) and lvl.warnings[lvl.warnings_sent] <= now:
        index = lvl.warnings_sent
        fraction = terms.warnings[index] if index < len(terms.warnings) else 1.0
        lvl.warnings_sent += 1
        s.warnings_sent += 1
        data = {"fraction": fraction, "deadline": lvl.deadline}
        seq = event(s, EventType.WARNING, SYSTEM_ACTOR, now, data)
        title = f"预警：已用时{round(fraction * 100)}%，请在期限内办结"
        notice(s, seq, "warning", title, units=unit_and_parent(s))
        changed = True
    return changed


def _mark_overdue(s: IssueState, now: datetime) -> None:
    s.overdue = True
    s.overdue_since = now
    # Too late to extend, as for a request made now: one still waiting for its decision lapses.
    lapsed = s.pending_extension is not None
    s.pending_extension = None
    note = "extension_lapsed" if lapsed else None
    s.awaiting = ClockNeed(ClockKind.OVERDUE, at=now, actor=SYSTEM_ACTOR, note=note)


def request_for(state: IssueState, need: ClockNeed) -> tuple[str, Any, type[Any]]:
    """The activity that computes ``need``: its name, its argument and its result's type."""
    terms = state.terms
    if need.kind is ClockKind.TERMS:
        issue = state.issue
        return "terms_for", TermsRequest(issue.category, issue.urgency), Terms
    assert terms is not None
    if need.kind is ClockKind.LEVEL:
        level = state.unit.kind.value
        request = ClockRequest(
            start=need.at,
            resolve=terms.resolve.get(level, terms.resolve.get("village", terms.accept)),
            accept=terms.accept,
            transfer_window=terms.transfer_window,
            warnings=terms.warnings,
        )
        return "level_clock", request, LevelClock
    if need.kind in (ClockKind.OVERDUE, ClockKind.REMINDER):
        return "next_reminder", DeadlineRequest(need.at, terms.overdue_reminder), Deadline
    if need.kind in (ClockKind.FEEDBACK_WINDOW, ClockKind.INVALID_REVIEW):
        # Supervisors get as long to overturn an invalid mark as a citizen has to answer.
        return "deadline", DeadlineRequest(need.at, terms.feedback_window), Deadline
    if need.kind is ClockKind.REPORT:
        return "deadline", DeadlineRequest(need.at, terms.report), Deadline
    decision, pending = need.decision, state.pending_extension
    assert need.kind is ClockKind.EXTENSION and decision is not None and pending is not None
    granted = decision.term or pending.term
    return "deadline", DeadlineRequest(state.current.deadline, granted), Deadline
