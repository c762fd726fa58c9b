"""The clock plan of a deliberation: when its next clock fires, what firing does, and what each
decision asks the calendar for. Instants come from activities; these only compare them."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from domain.deliberation.models import (
    DClock,
    DClockNeed,
    DeliberationState,
    DeliberationTerms,
    DeliberationTermsRequest,
    DEventType,
    DStatus,
)
from domain.deliberation.trail import event, notice
from domain.deliberation.transitions import close, refer_up
from domain.models import SYSTEM_ACTOR, Deadline, DeadlineRequest, Term


def next_due(s: DeliberationState) -> datetime | None:
    """The nearest instant at which a clock fires, or None to wait for people only."""
    candidates: list[datetime] = []
    r = s.current_round
    if s.status is DStatus.OPEN and r is not None and not r.due_reminded:
        candidates.append(r.deadline)
    elif s.status is DStatus.SUBMITTED and s.submission is not None:
        if not s.overdue:
            candidates.append(s.submission.deadline)
        elif s.next_reminder is not None:
            candidates.append(s.next_reminder)
    elif s.status is DStatus.IMPLEMENTING and s.decision is not None:
        d = s.decision
        if d.warnings_sent < len(d.warnings):
            candidates.append(d.warnings[d.warnings_sent])
        if not s.overdue:
            candidates.append(d.due)
        elif s.next_reminder is not None:
            candidates.append(s.next_reminder)
    elif s.status is DStatus.AWAITING_EVALUATION and s.evaluation_deadline is not None:
        candidates.append(s.evaluation_deadline)
    return min(candidates) if candidates else None


def fire(s: DeliberationState, now: datetime) -> bool:
    """Act on every clock due at ``now`` (the timer's own instant); True if anything did."""
    r = s.current_round
    if s.status is DStatus.OPEN and r is not None:
        if not r.due_reminded and r.deadline <= now:
            r.due_reminded = True
            seq = event(s, DEventType.ROUND_DUE, SYSTEM_ACTOR, now, {"round": r.number})
            title = f"第{r.number}轮意见征集已截止，请召开会议并结束本轮：{s.d.topic}"
            notice(s, seq, "round_due", title, units=[s.unit.code])
            return True
        return False
    if s.status is DStatus.SUBMITTED and s.submission is not None:
        if s.overdue:
            return _remind(s, now)
        if s.submission.deadline <= now:
            if s.at_ceiling:
                _mark_overdue(s, now)
            else:
                refer_up(s, SYSTEM_ACTOR, now, "决策期限届满未作决定，自动提交上级", auto=True)
            return True
        return False
    if s.status is DStatus.IMPLEMENTING and s.decision is not None:
        changed = _warnings(s, now)
        if s.overdue:
            return _remind(s, now) or changed
        if s.decision.due <= now:
            _mark_overdue(s, now)
            return True
        return changed
    deadline = s.evaluation_deadline
    if s.status is DStatus.AWAITING_EVALUATION and deadline is not None and deadline <= now:
        close(s, now, SYSTEM_ACTOR)
        return True
    return False


def _remind(s: DeliberationState, now: datetime) -> bool:
    if s.next_reminder is not None and s.next_reminder <= now:
        s.awaiting = DClockNeed(DClock.REMINDER, at=now, actor=SYSTEM_ACTOR)
        return True
    return False


def _mark_overdue(s: DeliberationState, now: datetime) -> None:
    s.overdue = True
    s.overdue_since = now
    s.awaiting = DClockNeed(DClock.OVERDUE, at=now, actor=SYSTEM_ACTOR)


def _warnings(s: DeliberationState, now: datetime) -> bool:
    d = s.decision
    assert d is not None and s.terms is not None
    changed = False
    while d.warnings_sent < len(d.warnings) and d.warnings[d.warnings_sent] <= now:
        fraction = (
            s.terms.warnings[d.warnings_sent] if d.warnings_sent < len(s.terms.warnings) else 1
        )
        d.warnings_sent += 1
        seq = event(s, DEventType.WARNING, SYSTEM_ACTOR, now, {"fraction": fraction, "due": d.due})
        title = f"落实预警：已用时{round(fraction * 100)}%：{s.d.topic}"
        units = [d.responsible_unit, s.unit.code]
        notice(s, seq, "warning", title, units=units)
        changed = True
    return changed


def request_for(s: DeliberationState, need: DClockNeed) -> tuple[str, Any, type[Any]]:
    """The activity that computes ``need``: its name, its argument and its result's type."""
    if need.kind is DClock.TERMS:
        return "deliberation_terms", DeliberationTermsRequest(s.d.kind), DeliberationTerms
    terms = s.terms
    assert terms is not None
    if need.kind in (DClock.OVERDUE, DClock.REMINDER):
        return "next_reminder", DeadlineRequest(need.at, terms.overdue_reminder), Deadline
    term = {
        DClock.ROUND: terms.round,
        DClock.SUBMISSION: terms.decision,
        DClock.EVALUATION: terms.evaluation,
    }.get(need.kind)
    if term is None:
        assert need.kind is DClock.IMPLEMENTATION and need.spec is not None
        term = implementation_term(need.spec.due_term, need.spec.due_at, need.at, terms)
    return "deadline", DeadlineRequest(need.at, term), Deadline


def implementation_term(
    due_term: Term | None, due_at: datetime | None, at: datetime, terms: DeliberationTerms
) -> Term:
    """The decision's own due (a term, or an instant as seconds from ``at``), else the policy's."""
    if due_at is not None:
        return Term(seconds=max(1, math.ceil((due_at - at).total_seconds())))
    return due_term or terms.implementation
