"""What each action does to a deliberation: pure changes to ``DeliberationState``.

As for issues, a transition that needs the calendar leaves a ``DClockNeed`` in ``state.awaiting``;
the run loop computes it in an activity and hands it to ``completions.complete``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from domain.deliberation import limits
from domain.deliberation.labels import OUTCOME as OUTCOME_LABEL
from domain.deliberation.labels import STEP as STEP_LABEL
from domain.deliberation.models import (
    MEETING_STEPS,
    Ballot,
    CloseRound,
    Complete,
    DClock,
    DClockNeed,
    Decide,
    DeliberationState,
    DEventType,
    DStatus,
    DWithdraw,
    Evaluate,
    EvaluationRecord,
    IssueLink,
    Kind,
    Opinion,
    ReportProgress,
    RoundOutcome,
    StepRecord,
    Verdict,
)
from domain.deliberation.trail import event, notice
from domain.models import Action, Actor


def open_deliberation(s: DeliberationState, now: datetime) -> None:
    """A new deliberation: its policy terms first, then its first round, both from ``now``."""
    s.awaiting = DClockNeed(DClock.TERMS, at=now, actor=s.d.opened_by)


def apply(s: DeliberationState, name: str, action: Action, now: datetime) -> None:
    """Apply a checked action (``checks.check`` passed) at ``now``."""
    if action.request_id:
        s.applied_requests = [*s.applied_requests, action.request_id][-limits.REQUEST_MEMORY :]
    _ACTIONS[name](s, action, now)


def start_round(s: DeliberationState, actor: Actor, at: datetime, reason: str) -> None:
    s.awaiting = DClockNeed(DClock.ROUND, at=at, actor=actor, reason=reason)


def submit(s: DeliberationState, actor: Actor, at: datetime, reason: str) -> None:
    """Hard to agree: to the same unit's leadership as decision reference (its clock first)."""
    s.awaiting = DClockNeed(DClock.SUBMISSION, at=at, actor=actor, reason=reason)


def link(s: DeliberationState, kind: str, actor: Actor, at: datetime, **more: Any) -> None:
    """Leave a message for the linked issue (the run loop signals it)."""
    if s.d.issue_id:
        s.links.append(
            IssueLink(
                issue_id=s.d.issue_id,
                kind=kind,
                deliberation_id=s.d.deliberation_id,
                topic=s.d.topic,
                actor=actor,
                at=at,
                **more,
            )
        )


def refer_up(s: DeliberationState, actor: Actor, at: datetime, reason: str, auto: bool) -> None:
    """The parent unit takes the matter: status open, a new round there (the issue's ladder)."""
    from_unit = s.unit
    s.rung += 1
    s.rounds_here = 0
    s.submission = None
    s.overdue, s.overdue_since, s.next_reminder = False, None, None
    data = {"from_unit": from_unit.code, "to_unit": s.unit.code, "reason": reason, "auto": auto}
    seq = event(s, DEventType.REFERRED_UP, actor, at, data)
    title = f"协商事项{'逾期未决，自动' if auto else ''}提交上级：{s.d.topic}"
    notice(s, seq, "referred_up", title, units=[from_unit.code, s.unit.code])
    link(s, "referred_up", actor, at, level=s.unit.kind.value, unit=s.unit.code, summary=reason)
    start_round(s, actor, at, "referred_up")


def close(s: DeliberationState, at: datetime, actor: Actor) -> None:
    s.status = DStatus.CLOSED
    s.closed_at = at
    counts: dict[str, int] = {}
    for e in s.evaluations:
        counts[e.satisfaction.value] = counts.get(e.satisfaction.value, 0) + 1
    seq = event(s, DEventType.CLOSED, actor, at, {"evaluations": counts})
    notice(s, seq, "closed", f"协商事项已办结：{s.d.topic}", everyone=True)


# ---- actions ------------------------------------------------------------------------------------


def _opinion(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Opinion)
    s.opinions += 1
    round_ = s.current_round
    seq = event(
        s, DEventType.OPINION, a.actor, now, {"text": a.text, "round": round_ and round_.number}
    )
    notice(s, seq, "opinion", f"收到议事意见：{s.d.topic}", units=[s.unit.code])


def _ballot(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Ballot)
    s.voted.append(a.household)
    s.tally[a.option] = s.tally.get(a.option, 0) + 1
    # Neither the household nor the option goes into the trail: the tally is published whole
    # when the poll closes, and no output pairs a household with its choice.
    event(s, DEventType.BALLOT, a.actor, now, {"ballots": len(s.voted)})


def _close_round(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, CloseRound)
    r = s.current_round
    assert r is not None
    att = dataclasses.asdict(a.attendance) if a.attendance else None
    votes = dataclasses.asdict(a.votes) if a.votes else None
    if a.step is not None:
        r.steps.append(StepRecord(a.step, now, a.attendance, a.votes, a.summary))
        step: dict[str, Any] = {"step": a.step.value, "outcome": a.outcome.value}
        data_ = {**step, "attendance": att, "votes": votes, "summary": a.summary}
        seq = event(s, DEventType.STEP_RECORDED, a.actor, now, data_)
        title = f"四议两公开：{STEP_LABEL[a.step.value]}已召开：{s.d.topic}"
        notice(s, seq, "step", title, everyone=True)
        if a.outcome is RoundOutcome.CONSENSUS and a.step is not MEETING_STEPS[-1]:
            return  # the procedure goes on to its next meeting in the same round
    r.closed_at, r.outcome, r.summary = now, a.outcome, a.summary
    r.attendance, r.votes = a.attendance, a.votes
    data: dict[str, Any] = {"round": r.number, "outcome": a.outcome.value}
    data.update(attendance=att, votes=votes)
    if s.d.kind is Kind.POLL:
        data["tally"] = dict(s.tally)  # published now that the poll has closed
    seq = event(s, DEventType.ROUND_CLOSED, a.actor, now, {**data, "summary": a.summary})
    label = OUTCOME_LABEL[a.outcome.value]
    notice(s, seq, "round_closed", f"第{r.number}轮协商{label}：{s.d.topic}", everyone=True)
    terms = s.terms
    assert terms is not None
    if a.outcome is RoundOutcome.CONSENSUS:
        s.awaiting = DClockNeed(
            DClock.IMPLEMENTATION, at=now, actor=a.actor, spec=a.decision, via="consensus"
        )
    elif a.outcome is RoundOutcome.NO_CONSENSUS and s.rounds_here < terms.max_rounds:
        start_round(s, a.actor, now, "no_consensus")
    else:
        hard = a.outcome is RoundOutcome.HARD
        submit(s, a.actor, now, "hard" if hard else "max_rounds")


def _decide(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Decide)
    data = {"verdict": a.verdict.value, "reason": a.reason, "unit": s.unit.code}
    event(s, DEventType.DECIDED, a.actor, now, data)
    if a.verdict is Verdict.ADOPT:
        s.overdue, s.overdue_since, s.next_reminder = False, None, None
        s.awaiting = DClockNeed(
            DClock.IMPLEMENTATION, at=now, actor=a.actor, spec=a.decision, via="adopt"
        )
    else:
        refer_up(s, a.actor, now, a.reason, auto=False)


def _progress(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, ReportProgress)
    decision = s.decision
    assert decision is not None
    decision.progress, decision.progress_note = a.percent, a.note
    seq = event(s, DEventType.PROGRESS, a.actor, now, {"percent": a.percent, "note": a.note})
    notice(s, seq, "progress", f"落实进度{a.percent}%：{s.d.topic}", everyone=True)


def _complete(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Complete)
    s.awaiting = DClockNeed(DClock.EVALUATION, at=now, actor=a.actor, summary=a.summary)


def _evaluate(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Evaluate)
    s.evaluations.append(EvaluationRecord(a.satisfaction, a.actor.user, now))
    data = {"satisfaction": a.satisfaction.value, "comment": a.comment}
    seq = event(s, DEventType.EVALUATED, a.actor, now, data)
    notice(s, seq, "evaluated", f"收到监督评价：{s.d.topic}", units=[s.unit.code])


def _withdraw(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, DWithdraw)
    s.status = DStatus.WITHDRAWN
    s.closed_at = now
    s.overdue, s.next_reminder = False, None
    seq = event(s, DEventType.WITHDRAWN, a.actor, now, {"reason": a.reason})
    notice(s, seq, "withdrawn", f"协商事项已撤回：{s.d.topic}", everyone=True)


_ACTIONS: dict[str, Callable[[DeliberationState, Action, datetime], None]] = {
    "opinion": _opinion,
    "ballot": _ballot,
    "close_round": _close_round,
    "decide": _decide,
    "progress": _progress,
    "complete": _complete,
    "evaluate": _evaluate,
    "withdraw": _withdraw,
}
