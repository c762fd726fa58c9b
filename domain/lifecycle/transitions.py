"""What each action and each clock does to an issue: pure changes to ``IssueState``.

A transition changes the state, appends its events and leaves its notices in the outbox. Where it
needs the calendar (a level's clocks, a feedback window, a report deadline) it leaves a
``ClockNeed`` in ``state.awaiting``; the run loop computes the clock in an activity and hands it to
``complete``, which finishes the transition. Nothing here awaits, reads a clock or does I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain import labels
from domain.lifecycle import limits
from domain.lifecycle.checks import open_call, view_of
from domain.lifecycle.trail import event, notice
from domain.models import (
    OPEN_STATUSES,
    SYSTEM_ACTOR,
    Action,
    Actor,
    ClockKind,
    ClockNeed,
    Escalate,
    EventType,
    ExtensionDecision,
    ExtensionRequest,
    Feedback,
    FeedbackRecord,
    InvalidMark,
    IssueState,
    LevelClock,
    LevelRecord,
    MarkInvalid,
    Outcome,
    PendingExtension,
    Progress,
    Report,
    Resolution,
    Resolve,
    ReviewInvalid,
    Satisfaction,
    Status,
    Supervise,
    Transfer,
    Whistle,
    Withdraw,
)


def register(state: IssueState, now: datetime) -> None:
    """A new issue: its policy terms come first, then its first level, both from ``now`` (the
    workflow's time; the API's ``registered_at`` is another machine's clock)."""
    state.awaiting = ClockNeed(ClockKind.TERMS, at=now, actor=state.issue.registered_by)


def running(state: IssueState) -> bool:
    """Whether the workflow still has work: an open issue, or an invalid mark that supervisors
    may still overturn."""
    if state.status is Status.INVALID:
        return state.closed_at is None
    return state.status in OPEN_STATUSES


def apply(state: IssueState, name: str, action: Action, now: datetime) -> None:
    """Apply a checked action (``checks.check`` passed) at ``now``."""
    if action.request_id:
        memory = [*state.applied_requests, action.request_id]
        state.applied_requests = memory[-limits.REQUEST_MEMORY :]
    _ACTIONS[name](state, action, now)


# ---- level transitions ----------------------------------------------------------------------


def enter_level(
    state: IssueState, reason: str, actor: Actor, at: datetime, note: str | None
) -> None:
    """Put the issue at ``state.unit``: its clocks first (``complete`` then records the entry)."""
    state.awaiting = ClockNeed(ClockKind.LEVEL, at=at, actor=actor, reason=reason, note=note)


def entered(state: IssueState, need: ClockNeed, clock: LevelClock) -> None:
    s = state
    level = s.unit.kind.value
    s.levels.append(
        LevelRecord(
            level=level,
            unit=s.unit,
            entered_at=need.at,
            deadline=clock.deadline.at,
            accept_deadline=clock.accept_deadline.at,
            provisional=clock.deadline.provisional,
            reason=need.reason,
            warnings=list(clock.warnings),
            transfer_until=clock.transfer_until.at,
        )
    )
    s.status = Status.PENDING_ACCEPT
    s.pending_extension = None
    s.overdue_since = None
    s.next_overdue_reminder = None
    seq = event(
        s,
        EventType.LEVEL_ENTERED,
        need.actor,
        need.at,
        {
            "reason": need.reason,
            "deadline": clock.deadline.at,
            "accept_deadline": clock.accept_deadline.at,
            "provisional": clock.deadline.provisional,
            **({"note": need.note} if need.note else {}),
        },
    )
    title = f"新{labels.LEVEL.get(level, level)}事项：{s.issue.title}"
    notice(s, seq, "level_entered", title, units=[s.unit.code])
    if clock.deadline.provisional:
        text = clock.deadline.reason or ""
        notice(s, seq, "calendar_provisional", "期限按暂定日历计算", admins=True, text=text)


def leave_level(state: IssueState, outcome: Outcome, at: datetime) -> LevelRecord:
    lvl = state.current
    lvl.left_at = at
    lvl.outcome = outcome
    # A timer fires at the deadline itself, so "<=" would call a timeout punctual.
    lvl.on_time = outcome is not Outcome.ESCALATED_ON_TIMEOUT and at <= lvl.deadline
    # A request still waiting for its decision lapses with the level it was asked for.
    state.pending_extension = None
    return lvl


def escalate(state: IssueState, outcome: Outcome, actor: Actor, reason: str, at: datetime) -> None:
    s = state
    left = leave_level(s, outcome, at) if s.current.outcome is None else s.current
    s.rung += 1
    data = {
        "outcome": outcome.value,
        "reason": reason,
        "from_unit": left.unit.code,
        "to_unit": s.unit.code,
    }
    event(s, EventType.ESCALATED, actor, at, data)
    enter_level(s, "escalated", actor, at, reason)


def close(state: IssueState, at: datetime) -> None:
    s = state
    s.status = Status.CLOSED
    s.closed_at = at
    resolution = s.resolution
    data = {
        "resolution_level": resolution.level if resolution else None,
        "resolution_unit": resolution.unit if resolution else None,
        "feedback": s.feedback is not None,
    }
    event(s, EventType.CLOSED, SYSTEM_ACTOR, at, data)


# ---- actions --------------------------------------------------------------------------------


def _accept(s: IssueState, a: Action, now: datetime) -> None:
    lvl = s.current
    lvl.accepted_at = now
    lvl.accepted_on_time = now <= lvl.accept_deadline
    s.status = Status.IN_PROGRESS
    event(s, EventType.ACCEPTED, a.actor, now, {"on_time": lvl.accepted_on_time})


def _progress(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Progress)
    s.progress_notes += 1
    event(s, EventType.PROGRESS, a.actor, now, {"note": a.note})


def _resolve(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Resolve)
    resolve(s, a.actor, a.summary, now)


def resolve(
    s: IssueState,
    actor: Actor,
    summary: str,
    now: datetime,
    decided_by: tuple[str | None, str | None, str | None] = (None, None, None),
) -> None:
    """Resolved at the current level, or where a deliberation decided (``decided_by``: its level,
    unit code and name, each defaulting to the current level's); the feedback window follows."""
    lvl = leave_level(s, Outcome.RESOLVED, now)
    level, unit, unit_name = decided_by
    s.resolution = Resolution(
        level=level or lvl.level,
        unit=unit or lvl.unit.code,
        unit_name=unit_name or lvl.unit.name,
        summary=summary,
        at=now,
        by=actor.user,
    )
    s.status = Status.AWAITING_FEEDBACK
    s.next_overdue_reminder = None
    s.awaiting = ClockNeed(ClockKind.FEEDBACK_WINDOW, at=now, actor=actor, summary=summary)


def _escalate(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Escalate)
    escalate(s, Outcome.ESCALATED_ON_REQUEST, a.actor, a.reason, now)


def _whistle(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Whistle)
    s.awaiting = ClockNeed(ClockKind.REPORT, at=now, actor=a.actor, whistle=a)


def _report(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Report)
    call = open_call(s, a.actor.department_code or "")
    assert call is not None  # checked
    call.reported_at = now
    call.on_time = now <= call.report_deadline
    call.contribution = a.contribution
    data = {"department": call.department, "on_time": call.on_time, "contribution": a.contribution}
    seq = event(s, EventType.REPORTED, a.actor, now, data)
    notice(s, seq, "reported", f"{call.name}已报到", units=[call.unit])


def _extension(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, ExtensionRequest)
    s.current.extension_requested = True
    s.pending_extension = PendingExtension(
        term=a.term, reason=a.reason, requested_at=now, requested_by=a.actor.user
    )
    data = {"term": a.term.label(), "reason": a.reason}
    seq = event(s, EventType.EXTENSION_REQUESTED, a.actor, now, data)
    title = f"延期申请待审批（{a.term.label()}）：{s.issue.title}"
    notice(s, seq, "extension_requested", title, units=[decider_unit(s)])


def decider_unit(s: IssueState) -> str:
    """Who decides the current unit's extensions (``IssueView.decider``, the rules' own)."""
    return view_of(s).decider


def _extension_decision(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, ExtensionDecision)
    if a.approve:
        s.awaiting = ClockNeed(ClockKind.EXTENSION, at=now, actor=a.actor, decision=a)
        return
    s.pending_extension = None
    data = {"approve": False, "comment": a.comment}
    extension_decided(s, a, now, data)


def extension_decided(
    s: IssueState, a: ExtensionDecision, at: datetime, data: dict[str, Any]
) -> None:
    seq = event(s, EventType.EXTENSION_DECIDED, a.actor, at, data)
    verdict = "批准" if a.approve else "不批准"
    notice(s, seq, "extension_decided", f"延期申请{verdict}：{s.issue.title}", units=[s.unit.code])


def _transfer(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Transfer)
    leave_level(s, Outcome.TRANSFERRED, now)
    old = s.unit
    s.ladder = list(a.ladder)
    s.rung = 0
    s.transfers += 1
    data = {"from_unit": old.code, "to_unit": s.unit.code, "reason": a.reason}
    event(s, EventType.TRANSFERRED, a.actor, now, data)
    enter_level(s, "transferred", a.actor, now, a.reason)


def _supervise(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Supervise)
    seq = event(s, EventType.SUPERVISED, a.actor, now, {"note": a.note})
    notice(s, seq, "supervised", f"督办：{s.issue.title}", units=[s.unit.code])


def _feedback(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Feedback)
    record = FeedbackRecord(
        solved=a.solved,
        satisfaction=a.satisfaction,
        comment=a.comment,
        at=now,
        by=a.actor.user,
        by_role=a.actor.role,
    )
    s.feedback = record
    # The history counts the ratings; their comments live in the events (the state stays small).
    s.feedback_history.append(dataclasses.replace(record, comment=None))
    s.feedback_deadline = None
    data = {
        "solved": a.solved,
        "satisfaction": a.satisfaction.value,
        "comment": a.comment,
        "by_role": a.actor.role.value,
    }
    event(s, EventType.FEEDBACK, a.actor, now, data)
    if a.solved and a.satisfaction is not Satisfaction.UNSATISFIED:
        close(s, now)
        return
    resolved_at = s.current.unit
    reopened = resolved_at.code in s.reopened_at_level
    if reopened and s.at_ceiling:
        # No one is above the ceiling: the issue closes with the dissatisfaction on record.
        close(s, now)
        return
    # Turned down: no resolution stands until someone resolves the issue again (the one turned
    # down stays in the events and the level's outcome).
    s.resolution = None
    if not reopened:
        # 重办: once at the same level.
        s.reopened_at_level.append(resolved_at.code)
        event(s, EventType.REOPENED, a.actor, now, {"unit": resolved_at.code})
        enter_level(s, "reopened", a.actor, now, "群众不满意，重办")
    else:
        escalate(s, Outcome.RESOLVED, a.actor, "重办后群众仍不满意，上报上级", now)


def _withdraw(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Withdraw)
    leave_level(s, Outcome.WITHDRAWN, now)
    s.status = Status.WITHDRAWN
    s.closed_at = now
    s.next_overdue_reminder = None
    seq = event(s, EventType.WITHDRAWN, a.actor, now, {"reason": a.reason})
    notice(s, seq, "withdrawn", f"群众已撤回：{s.issue.title}", units=[s.unit.code])


def _mark_invalid(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, MarkInvalid)
    lvl = leave_level(s, Outcome.INVALID, now)
    s.status = Status.INVALID
    s.next_overdue_reminder = None
    s.invalid = InvalidMark(
        kind=a.kind,
        reason=a.reason,
        at=now,
        by=a.actor.user,
        unit=lvl.unit.code,
        duplicate_of=a.duplicate_of,
        duplicate_code=a.duplicate_code,
    )
    # The review window comes from the calendar; the event names it (``completions``).
    s.awaiting = ClockNeed(ClockKind.INVALID_REVIEW, at=now, actor=a.actor, invalid=a)


def _review_invalid(s: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, ReviewInvalid)
    data = {"overturn": a.overturn, "note": a.note}
    seq = event(s, EventType.INVALID_REVIEWED, a.actor, now, data)
    if not a.overturn:
        notice(s, seq, "invalid_upheld", f"无效标记已确认：{s.issue.title}", units=[s.unit.code])
        invalid_final(s, now)
        return
    # Overturned: the issue runs again at the unit that marked it, on fresh clocks.
    s.invalid = None
    enter_level(s, "reinstated", a.actor, now, a.note or "督查撤销无效标记")


def invalid_final(state: IssueState, at: datetime) -> None:
    """The invalid mark stands for good: upheld, or its review window passed."""
    state.closed_at = at
    data = {"invalid": True, "kind": state.invalid.kind.value if state.invalid else None}
    event(state, EventType.CLOSED, SYSTEM_ACTOR, at, data)


_ACTIONS: dict[str, Callable[[IssueState, Action, datetime], None]] = {
    "accept": _accept,
    "progress": _progress,
    "resolve": _resolve,
    "escalate": _escalate,
    "whistle": _whistle,
    "report": _report,
    "extension": _extension,
    "extension_decision": _extension_decision,
    "transfer": _transfer,
    "supervise": _supervise,
    "feedback": _feedback,
    "withdraw": _withdraw,
    "mark_invalid": _mark_invalid,
    "review_invalid": _review_invalid,
}
