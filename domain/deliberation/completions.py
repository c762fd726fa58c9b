"""What a computed clock completes: the second half of a deliberation's decision that waited for
the calendar (its terms, a round's deadline, the leadership's, the implementation's, the
evaluation window, a 督办 reminder)."""

from __future__ import annotations

from collections.abc import Callable

from domain.deliberation.models import (
    DClock,
    DClockNeed,
    Decision,
    DeliberationState,
    DeliberationTerms,
    DEventType,
    DStatus,
    Kind,
    RoundRecord,
    Step,
    StepRecord,
    Submission,
)
from domain.deliberation.trail import event, notice
from domain.deliberation.transitions import STEP_LABEL, link, start_round
from domain.models import SYSTEM_ACTOR, Deadline


def complete(s: DeliberationState, result: DeliberationTerms | Deadline) -> None:
    """Finish the transition waiting in ``s.awaiting`` with the clock computed for it."""
    need = s.awaiting
    assert need is not None
    s.awaiting = None
    if need.kind is DClock.TERMS:
        assert isinstance(result, DeliberationTerms)
        _opened(s, need, result)
    else:
        assert isinstance(result, Deadline)
        _DEADLINES[need.kind](s, need, result)


def _opened(s: DeliberationState, need: DClockNeed, terms: DeliberationTerms) -> None:
    s.terms = terms
    d = s.d
    data = {
        "kind": d.kind.value,
        "topic": d.topic,
        "issue_id": d.issue_id,
        "policy": terms.policy,
        "participants": [p.role for p in d.participants],
        "departments": list(d.departments),
        "meeting_at": d.meeting_at,
    }
    event(s, DEventType.OPENED, need.actor, need.at, data)
    link(s, "opened", need.actor, need.at, level=s.unit.kind.value, unit=s.unit.code)
    start_round(s, need.actor, need.at, "opened")


def _round(s: DeliberationState, need: DClockNeed, due: Deadline) -> None:
    number = len(s.rounds) + 1
    s.rounds.append(RoundRecord(number, s.unit, need.at, due.at, provisional=due.provisional))
    s.rounds_here += 1
    s.status = DStatus.OPEN
    data = {"round": number, "deadline": due.at, "reason": need.reason}
    seq = event(s, DEventType.ROUND_OPENED, need.actor, need.at, data)
    title = f"第{number}轮协商议事（{s.unit.name}）：{s.d.topic}"
    notice(s, seq, "round_opened", title, everyone=True)


def _submitted(s: DeliberationState, need: DClockNeed, due: Deadline) -> None:
    s.submission = Submission(s.unit, need.at, due.at, need.reason)
    s.status = DStatus.SUBMITTED
    seq = event(
        s, DEventType.SUBMITTED, need.actor, need.at, {"reason": need.reason, "deadline": due.at}
    )
    title = f"难以协商一致，提交{s.unit.name}负责人决策：{s.d.topic}"
    notice(s, seq, "submitted", title, units=[s.unit.code], everyone=True)


def _implementing(s: DeliberationState, need: DClockNeed, due: Deadline) -> None:
    spec = need.spec
    assert spec is not None and s.terms is not None
    span = due.at - need.at
    s.decision = Decision(
        text=spec.text,
        responsible_unit=spec.responsible_unit,
        responsible_name=spec.responsible_name or spec.responsible_unit,
        responsible_parent=spec.responsible_parent,
        via=need.via,
        decided_level=s.unit.kind.value,
        decided_unit=s.unit.code,
        decided_at=need.at,
        due=due.at,
        warnings=[need.at + span * f for f in s.terms.warnings],
    )
    s.submission = None
    s.status = DStatus.IMPLEMENTING
    data = {
        "text": spec.text,
        "responsible_unit": spec.responsible_unit,
        "due": due.at,
        "via": need.via,
        "level": s.unit.kind.value,
    }
    seq = event(s, DEventType.IMPLEMENTING, need.actor, need.at, data)
    notice(s, seq, "implementing", f"决定事项交付落实：{spec.text}", everyone=True)
    _publish(s, Step.RESOLUTION_PUBLISHED, need)


def _completed(s: DeliberationState, need: DClockNeed, window: Deadline) -> None:
    d = s.decision
    assert d is not None
    d.completed_at, d.summary, d.progress = need.at, need.summary, 100
    d.on_time = need.at <= d.due and not s.overdue
    s.overdue, s.next_reminder = False, None
    s.evaluation_deadline = window.at
    s.status = DStatus.AWAITING_EVALUATION
    data = {"summary": need.summary, "on_time": d.on_time, "evaluate_until": window.at}
    seq = event(s, DEventType.COMPLETED, need.actor, need.at, data)
    notice(s, seq, "completed", f"决定事项已落实，请监督评价：{s.d.topic}", everyone=True)
    _publish(s, Step.RESULT_PUBLISHED, need)
    unit = next(u for u in s.ladder if u.code == d.decided_unit)
    link(
        s,
        "decided",
        need.actor,
        need.at,
        level=d.decided_level,
        unit=d.decided_unit,
        unit_name=unit.name,
        summary=f"协商议事决定已落实：{d.text}（{need.summary}）",
    )


def _publish(s: DeliberationState, step: Step, need: DClockNeed) -> None:
    """四议两公开's two publications, recorded by the workflow when what they publish exists."""
    r = s.current_round
    if s.d.kind is not Kind.FOUR_DELIBERATIONS or r is None:
        return
    r.steps.append(StepRecord(step, need.at))
    seq = event(s, DEventType.STEP_RECORDED, SYSTEM_ACTOR, need.at, {"step": step.value})
    notice(s, seq, "step", f"四议两公开：{STEP_LABEL[step.value]}：{s.d.topic}", everyone=True)


def _overdue(s: DeliberationState, need: DClockNeed, reminder: Deadline) -> None:
    s.next_reminder = reminder.at
    watch = _watched(s)
    if s.status is DStatus.SUBMITTED:
        data = {"next_reminder": reminder.at}
        seq = event(s, DEventType.DECISION_OVERDUE, SYSTEM_ACTOR, need.at, data)
        title = f"超期未决策（督办）：{s.d.topic}"
    else:
        assert s.decision is not None
        data = {"due": s.decision.due, "next_reminder": reminder.at}
        seq = event(s, DEventType.OVERDUE, SYSTEM_ACTOR, need.at, data)
        title = f"决定事项落实超期（督办）：{s.d.topic}"
    notice(s, seq, "overdue", title, units=[watch[0]], supervisors_of=watch[1:] or watch)


def _reminded(s: DeliberationState, need: DClockNeed, reminder: Deadline) -> None:
    s.next_reminder = reminder.at
    s.reminders += 1
    data = {"since": s.overdue_since, "next_reminder": reminder.at, "count": s.reminders}
    seq = event(s, DEventType.OVERDUE_REMINDER, SYSTEM_ACTOR, need.at, data)
    watch = _watched(s)
    title = f"超期督办提醒（第{s.reminders}次）：{s.d.topic}"
    notice(s, seq, "overdue_reminder", title, units=[watch[0]], supervisors_of=watch[1:] or watch)


def _watched(s: DeliberationState) -> list[str]:
    """Who is late, then whose supervisors hear of it: the responsible unit and its parent while
    implementing, the county while its leadership has not decided."""
    d = s.decision
    if s.status is DStatus.IMPLEMENTING and d is not None:
        return [d.responsible_unit, *([d.responsible_parent] if d.responsible_parent else [])]
    return [s.unit.code]


_DEADLINES: dict[DClock, Callable[[DeliberationState, DClockNeed, Deadline], None]] = {
    DClock.ROUND: _round,
    DClock.SUBMISSION: _submitted,
    DClock.IMPLEMENTATION: _implementing,
    DClock.EVALUATION: _completed,
    DClock.OVERDUE: _overdue,
    DClock.REMINDER: _reminded,
}
