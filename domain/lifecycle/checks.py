"""Whether an action may be applied to an issue now: the workflow's validators, as pure checks.

``check`` raises ``Rejected`` with a text a person can read, naming the field at fault; it reads
the state and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from domain import labels
from domain.lifecycle import limits
from domain.lifecycle.rules import IssueView, refusal
from domain.models import (
    OPEN_STATUSES,
    Action,
    DepartmentCall,
    Escalate,
    ExtensionDecision,
    ExtensionRequest,
    InvalidKind,
    IssueState,
    MarkInvalid,
    Progress,
    Resolve,
    Status,
    Supervise,
    Term,
    Transfer,
    Whistle,
)

_ACTIVE = (Status.PENDING_ACCEPT, Status.IN_PROGRESS)


class Rejected(Exception):
    """An action refused; retrying the same request cannot change the answer."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(f"{reason} ({field})" if field else reason)
        self.reason = reason
        self.field = field


def view_of(state: IssueState) -> IssueView:
    """The rules' view of a live issue."""
    return IssueView(
        issue_id=state.issue.issue_id,
        status=state.status,
        unit_code=state.unit.code,
        unit_name=state.unit.name,
        above=tuple(u.code for u in state.ladder[state.rung + 1 :]),
        called=frozenset(d.department for d in state.departments),
        open_calls=frozenset(d.department for d in state.departments if d.reported_at is None),
        handled_by=frozenset(lv.unit.code for lv in state.levels),
    )


def registered(state: IssueState) -> bool:
    return bool(state.levels) and state.terms is not None


def open_call(state: IssueState, department: str) -> DepartmentCall | None:
    return next(
        (d for d in state.departments if d.department == department and d.reported_at is None),
        None,
    )


def _status(state: IssueState, allowed: tuple[Status, ...], message: str | None = None) -> None:
    if state.status in allowed:
        return
    label = labels.STATUS[state.status.value]
    raise Rejected(
        f"{message}（当前状态：{label}）" if message else f"当前状态（{label}）不允许此操作"
    )


def _text(value: str, message: str, field: str) -> None:
    if not value.strip():
        raise Rejected(message, field)


def comparable(a: Term, b: Term) -> bool:
    return (a.seconds is None) == (b.seconds is None)


def exceeds(asked: Term, cap: Term) -> bool:
    if asked.seconds is not None:
        return asked.seconds > (cap.seconds or 0)
    return (asked.working_days or 0) > (cap.working_days or 0)


def check(state: IssueState, name: str, action: Action, now: datetime) -> None:
    """Raise ``Rejected`` unless ``action`` (the update ``name``) may be applied at ``now``."""
    if not registered(state):
        raise Rejected("事项正在登记，请稍后再试")
    if name == "review_invalid":
        # The one action on an issue that is not open: the mark stands for review until then.
        if state.status is not Status.INVALID or state.invalid is None:
            raise Rejected("事项未被标记为无效，无需复核")
        if state.closed_at is not None:
            raise Rejected("无效标记的复核期已过")
    elif state.status not in OPEN_STATUSES:
        raise Rejected(f"事项{labels.STATUS[state.status.value]}")
    why = refusal(action.actor, name, view_of(state))
    if why is not None:
        raise Rejected(why)
    _CHECKS[name](state, action, now)


def _accept(state: IssueState, a: Action, now: datetime) -> None:
    _status(state, (Status.PENDING_ACCEPT,), "事项已签收")


def _progress(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Progress)
    _status(state, (Status.IN_PROGRESS,), "请先签收再报送进展")
    _text(a.note, "进展说明不能为空", "note")
    if state.progress_notes >= limits.MAX_PROGRESS_NOTES:
        raise Rejected(f"进展已达上限（{limits.MAX_PROGRESS_NOTES}条），请办结或上报", "note")


def _resolve(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Resolve)
    _status(state, (Status.IN_PROGRESS,), "请先签收再办结")
    _text(a.summary, "办结说明不能为空", "summary")


def _escalate(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Escalate)
    _status(state, _ACTIVE)
    if state.at_ceiling:
        raise Rejected("已在最高层级（县级），不能再上报")
    _text(a.reason, "上报理由不能为空", "reason")


def _whistle(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Whistle)
    _status(state, (Status.IN_PROGRESS,), "请先签收再吹哨")
    if not a.departments:
        raise Rejected("请至少选择一个部门", "departments")
    if len(set(a.departments)) != len(a.departments):
        raise Rejected("部门重复", "departments")
    waiting = {d.department for d in state.departments if d.reported_at is None}
    again = sorted(waiting.intersection(a.departments))
    if again:
        raise Rejected(f"部门已被吹哨且尚未报到：{', '.join(again)}", "departments")
    if len(state.departments) + len(a.departments) > limits.MAX_DEPARTMENT_CALLS:
        raise Rejected(f"吹哨部门已达上限（{limits.MAX_DEPARTMENT_CALLS}次）", "departments")


def _report(state: IssueState, a: Action, now: datetime) -> None:
    _status(state, _ACTIVE)
    if open_call(state, a.actor.department_code or "") is None:
        raise Rejected("本部门未被吹哨或已报到")


def _extension(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, ExtensionRequest)
    _status(state, (Status.IN_PROGRESS,), "请先签收再申请延期")
    terms = state.terms
    assert terms is not None
    lvl = state.current
    if not terms.extension_allowed:
        raise Rejected("该类事项（紧急）不允许延期")
    if lvl.extension_requested:
        raise Rejected("本层级已申请过延期（每层级限一次）")
    if state.overdue_since is not None:
        raise Rejected("已超期，不能再申请延期")
    cap = terms.resolve.get(lvl.level, terms.accept)
    if not comparable(a.term, cap):
        raise Rejected(f"延期时长须与本层级期限同一计量（{cap.label()}）", "term")
    if exceeds(a.term, cap) or a.term in (Term(seconds=0), Term(working_days=0)):
        raise Rejected(f"延期时长须大于零且不超过本层级期限{cap.label()}", "term")
    _text(a.reason, "延期理由不能为空", "reason")


def _extension_decision(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, ExtensionDecision)
    pending = state.pending_extension
    if pending is None:
        raise Rejected("没有待审批的延期申请")
    _status(state, (Status.IN_PROGRESS,))
    granted = a.term if a.approve else None
    if granted is not None and (
        not comparable(granted, pending.term) or exceeds(granted, pending.term)
    ):
        raise Rejected("批准的延期不能超过申请的时长", "term")
    if granted in (Term(seconds=0), Term(working_days=0)):
        raise Rejected("批准的延期须大于零", "term")


def _transfer(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Transfer)
    _status(state, _ACTIVE)
    if not a.ladder:
        raise Rejected("请指定转派目标单位", "unit")
    target = a.ladder[0]
    if target.kind != state.unit.kind:
        raise Rejected("只能转派给同级单位", "unit")
    if target.code == state.unit.code:
        raise Rejected("不能转派给本单位", "unit")
    if a.ladder[-1].code != state.ladder[-1].code:
        raise Rejected("只能在本县内转派", "unit")
    _text(a.reason, "转派理由不能为空", "reason")
    if state.transfers >= limits.MAX_TRANSFERS:
        raise Rejected(f"转派次数已达上限（{limits.MAX_TRANSFERS}次），请上报上级单位", "unit")
    at_unit = a.actor.unit_code == state.unit.code and a.actor.role.value in ("clerk", "leader")
    until = state.current.transfer_until
    if at_unit and until is not None and now > until:
        raise Rejected("已超过转派时限（到达后2个工作日），须由上级单位决定")


def _supervise(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, Supervise)
    _status(state, _ACTIVE)
    _text(a.note, "督办意见不能为空", "note")


def _feedback(state: IssueState, a: Action, now: datetime) -> None:
    _status(state, (Status.AWAITING_FEEDBACK,), "事项尚未办结，不能评价")


def _withdraw(state: IssueState, a: Action, now: datetime) -> None:
    _status(state, _ACTIVE)


def _mark_invalid(state: IssueState, a: Action, now: datetime) -> None:
    assert isinstance(a, MarkInvalid)
    _status(state, _ACTIVE, "已办结的事项不能标记为无效")
    _text(a.reason, "请写明无效的理由", "reason")
    if a.kind is InvalidKind.DUPLICATE:
        if not a.duplicate_of:
            raise Rejected("重复提交须指明所重复的事项", "duplicate_of")
        if a.duplicate_of == state.issue.issue_id:
            raise Rejected("不能标记为与自身重复", "duplicate_of")
    elif a.duplicate_of:
        raise Rejected("只有重复提交才指明所重复的事项", "duplicate_of")


def _review_invalid(state: IssueState, a: Action, now: datetime) -> None:
    """Status and window are checked in ``check``; nothing else can bar a review."""


_CHECKS = {
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
