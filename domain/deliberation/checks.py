"""Whether an action may be applied to a deliberation now: the workflow's validators, pure.

``check`` raises ``Rejected`` (the issue's own) naming the field at fault — ``attendance`` below
quorum, ``votes`` without a majority, ``step`` out of order, ``household`` for a second ballot —
and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from domain.deliberation import limits
from domain.deliberation.labels import STATUS as STATUS_LABEL
from domain.deliberation.models import (
    LIVE_STATUSES,
    MEETING_STEPS,
    Ballot,
    CloseRound,
    Complete,
    Decide,
    DecisionSpec,
    DeliberationState,
    DStatus,
    Evaluate,
    Kind,
    Opinion,
    ReportProgress,
    RoundOutcome,
    Verdict,
)
from domain.deliberation.rules import (
    DeliberationView,
    majority,
    next_step,
    quorum_met,
    quorum_text,
    refusal,
    rule_for,
)
from domain.lifecycle.checks import Rejected
from domain.models import Action


def view_of(s: DeliberationState) -> DeliberationView:
    return DeliberationView(
        unit_code=s.unit.code,
        participant_units=frozenset(p.unit for p in s.d.participants if p.unit),
        departments=frozenset(s.d.departments),
        responsible_unit=s.decision.responsible_unit if s.decision else None,
    )


def opened(s: DeliberationState) -> bool:
    return s.terms is not None and bool(s.rounds)


def check(s: DeliberationState, name: str, action: Action, now: datetime) -> None:
    """Raise ``Rejected`` unless ``action`` (the update ``name``) may be applied at ``now``."""
    if not opened(s):
        raise Rejected("议事正在创建，请稍后再试")
    if s.status not in LIVE_STATUSES:
        raise Rejected(f"议事{STATUS_LABEL[s.status.value]}")
    why = refusal(action.actor, name, view_of(s))
    if why is not None:
        raise Rejected(why)
    _CHECKS[name](s, action, now)


def _status(s: DeliberationState, *allowed: DStatus) -> None:
    if s.status not in allowed:
        raise Rejected(f"当前状态（{STATUS_LABEL[s.status.value]}）不允许此操作")


def _text(value: str | None, message: str, field: str) -> None:
    if not (value or "").strip():
        raise Rejected(message, field)


def _opinion(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Opinion)
    _status(s, DStatus.OPEN)
    _text(a.text, "意见不能为空", "text")
    current = s.current_round
    assert current is not None
    if now > current.deadline:
        raise Rejected("本轮意见征集已截止")
    if s.opinions >= limits.MAX_OPINIONS:
        raise Rejected(f"意见已达上限（{limits.MAX_OPINIONS}条）", "text")


def _ballot(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Ballot)
    if s.d.kind is not Kind.POLL:
        raise Rejected("只有民意调查可以投票", "option")
    _status(s, DStatus.OPEN)
    _text(a.household, "须提供户码", "household")
    if a.option not in s.d.options:
        raise Rejected(f"选项须为：{'、'.join(s.d.options)}", "option")
    if a.household in s.voted:
        raise Rejected("该户已投票，每户限一票", "household")
    if len(s.voted) >= limits.MAX_BALLOTS:
        raise Rejected(f"投票户数已达上限（{limits.MAX_BALLOTS}户）", "household")


def _close_round(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, CloseRound)
    _status(s, DStatus.OPEN)
    four = s.d.kind is Kind.FOUR_DELIBERATIONS
    current = s.current_round
    assert current is not None
    if four:
        expected = next_step([r.step for r in current.steps])
        if a.step is None or a.step not in MEETING_STEPS:
            raise Rejected(f"四议两公开须注明本次会议步骤（下一步：{expected}）", "step")
        if a.step is not expected:
            raise Rejected(f"须按四议两公开的顺序进行，下一步为 {expected}", "step")
    elif a.step is not None:
        raise Rejected("只有四议两公开有步骤", "step")
    att = a.attendance
    if att is None:
        raise Rejected("须提供到会情况", "attendance")
    if att.expected <= 0 or att.present < 0 or att.present > att.expected:
        raise Rejected("到会人数须在0和应到人数之间，应到人数须大于0", "attendance")
    he, hp = att.households_expected, att.households_present
    if (he is None) != (hp is None) or (he is not None and hp is not None and not 0 <= hp <= he):
        raise Rejected("户数须同时给出应到和实到，且实到不超过应到", "attendance")
    if a.votes is not None:
        v = a.votes
        if min(v.approve, v.against, v.abstain) < 0 or v.approve + v.against + v.abstain > (
            att.present
        ):
            raise Rejected("表决票数之和不能超过到会人数", "votes")
    _text(a.summary, "须填写本轮议事纪要", "summary")
    if a.outcome is RoundOutcome.CONSENSUS:
        _consensus(s, a, now)


def _consensus(s: DeliberationState, a: CloseRound, now: datetime) -> None:
    att = a.attendance
    assert att is not None
    rule = rule_for(s.d.kind, a.step, a.body)
    if not quorum_met(rule.quorum, att):
        raise Rejected(f"未达法定人数，不能形成共识：{quorum_text(rule.quorum)}", "attendance")
    if rule.votes_required and a.votes is None:
        raise Rejected("形成决议须提供表决票数", "votes")
    if a.votes is not None and rule.votes_required and not majority(a.votes, att.present):
        raise Rejected("赞成票未超过到会人数的一半，不能形成决议", "votes")
    if s.d.kind is Kind.POLL and not s.voted:
        raise Rejected("尚无任何选票", "votes")
    final = s.d.kind is not Kind.FOUR_DELIBERATIONS or a.step is MEETING_STEPS[-1]
    if final:
        decision_spec(a.decision, now)


def decision_spec(spec: DecisionSpec | None, now: datetime) -> None:
    if spec is None:
        raise Rejected("须提供决定事项（内容、责任单位、完成期限）", "decision")
    _text(spec.text, "决定内容不能为空", "decision.text")
    _text(spec.responsible_unit, "须指定责任单位", "decision.responsible_unit")
    if spec.due_at is not None and spec.due_at <= now:
        raise Rejected("完成期限须晚于现在", "decision.due")
    if spec.due_term is not None and not (spec.due_term.seconds or spec.due_term.working_days):
        raise Rejected("完成期限须大于零", "decision.due")


def _decide(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Decide)
    _status(s, DStatus.SUBMITTED)
    if a.verdict is Verdict.ADOPT:
        decision_spec(a.decision, now)
        return
    if s.at_ceiling:
        raise Rejected("已在县级，无上级可提交，须作出决定", "decision")
    _text(a.reason, "提交上级须说明理由", "reason")


def _progress(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, ReportProgress)
    _status(s, DStatus.IMPLEMENTING)
    decision = s.decision
    assert decision is not None
    if not 0 <= a.percent <= 100:
        raise Rejected("进度须在0到100之间", "percent")
    if a.percent < decision.progress:
        raise Rejected(f"进度不能低于已报的{decision.progress}%", "percent")
    _text(a.note, "进展说明不能为空", "note")


def _complete(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Complete)
    _status(s, DStatus.IMPLEMENTING)
    _text(a.summary, "落实情况说明不能为空", "summary")


def _evaluate(s: DeliberationState, a: Action, now: datetime) -> None:
    assert isinstance(a, Evaluate)
    _status(s, DStatus.AWAITING_EVALUATION)
    if any(e.by == a.actor.user for e in s.evaluations):
        raise Rejected("您已评价过", "satisfaction")
    if len(s.evaluations) >= limits.MAX_EVALUATIONS:
        raise Rejected("评价已达上限", "satisfaction")


def _withdraw(s: DeliberationState, a: Action, now: datetime) -> None:
    _status(s, DStatus.OPEN, DStatus.SUBMITTED)


_CHECKS = {
    "opinion": _opinion,
    "ballot": _ballot,
    "close_round": _close_round,
    "decide": _decide,
    "progress": _progress,
    "complete": _complete,
    "evaluate": _evaluate,
    "withdraw": _withdraw,
}
ACTIONS = frozenset(_CHECKS)
