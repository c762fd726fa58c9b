"""``checks.check``: whether an action may be applied now, the reason a person reads and the
field at fault — and that a refusal leaves the state exactly as it was."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from domain.lifecycle import limits
from domain.lifecycle.checks import Rejected, check
from domain.models import (
    Action,
    Actor,
    Feedback,
    IssueState,
    Role,
    Satisfaction,
    Status,
    Term,
    Transfer,
    UnitRef,
    Urgency,
)
from tests.domain.conftest import (
    ADMIN,
    CITIZEN,
    COUNTY,
    FOREIGN_VILLAGE,
    HOUR,
    MINZHENG,
    OTHER_TOWNSHIP,
    OTHER_VILLAGE,
    SHUILI,
    SIBLING_VILLAGE,
    START,
    SUPERVISOR,
    TOWNSHIP,
    VILLAGE,
    ZHUJIAN,
    accepted,
    act,
    action,
    at_county,
    clerk,
    department,
    ladder_of,
    leader,
    registered,
    resolved,
    update_of,
)

AT = START + 3 * HOUR
MINUTE = timedelta(minutes=1)
LATER = AT + MINUTE  # after the last change of the states the caps' tests build
V, T, C = clerk(VILLAGE), leader(TOWNSHIP), leader(COUNTY)
SIBLING = SIBLING_VILLAGE


def transfer_to(unit: UnitRef, by: Actor = V, reason: str = "错派") -> Transfer:
    return Transfer(actor=by, ladder=ladder_of(unit), reason=reason)


# ---- the states the table starts from ---------------------------------------------------------


def registering() -> IssueState:
    s = registered()
    return IssueState(issue=s.issue, ladder=list(s.ladder))  # the first clock not yet computed


def closed() -> IssueState:
    s = resolved()
    act(s, "feedback", Feedback(actor=CITIZEN), START + 3 * HOUR)
    return s


def withdrawn() -> IssueState:
    s = registered()
    act(s, "withdraw", action("withdraw", CITIZEN), START + HOUR)
    return s


def asked_extension() -> IssueState:
    s = accepted()
    act(s, "extension", action("extension", V, term=Term(working_days=2)), START + 2 * HOUR)
    return s


def whistled() -> IssueState:
    s = accepted()
    act(s, "whistle", action("whistle", V), START + 2 * HOUR)
    return s


def whistled_resolved() -> IssueState:
    s = whistled()
    act(s, "resolve", action("resolve", V), START + 2 * HOUR)
    return s


def urgent() -> IssueState:
    return accepted(Urgency.URGENT)


def late() -> IssueState:
    """Accepted, and still at the village an hour after its transfer window closed."""
    s = accepted()
    act(s, "progress", action("progress", V), (s.current.transfer_until or START) + HOUR)
    return s


def ask(name: str, actor: Actor, **fields: object) -> Callable[[], Action]:
    return lambda: action(name, actor, **fields)


def whistle(*codes: str) -> Callable[[], Action]:
    return ask("whistle", V, departments=list(codes))


def extend(term: Term) -> Callable[[], Action]:
    return ask("extension", V, term=term)


def grant(term: Term | None) -> Callable[[], Action]:
    return ask("extension_decision", T, approve=True, term=term)


WD = Term(working_days=1)
# (id, the state, the action, the field named, a fragment of the reason)
CHECKS: list[tuple[str, Callable[[], IssueState], Callable[[], Action], str | None, str]] = [
    ("while registering", registering, ask("accept", V), None, "正在登记"),
    ("closed", closed, ask("progress", V), None, "已办结"),
    ("withdrawn", withdrawn, ask("accept", V), None, "已撤回"),
    ("refused by the rules", accepted, ask("resolve", T), None, "只有该单位可以办理"),
    ("accept twice", accepted, ask("accept", V), None, "事项已签收"),
    ("progress before accept", registered, ask("progress", V), None, "请先签收"),
    ("empty note", accepted, ask("progress", V, note=""), "note", "进展说明不能为空"),
    ("blank note", accepted, ask("progress", V, note=" \n"), "note", "进展说明不能为空"),
    ("resolve before accept", registered, ask("resolve", V), None, "请先签收"),
    ("empty summary", accepted, ask("resolve", V, summary=""), "summary", "办结说明"),
    ("escalate at the ceiling", at_county, ask("escalate", C), None, "最高层级"),
    ("escalate without reason", accepted, ask("escalate", V, reason=""), "reason", "上报理由"),
    ("whistle nobody", accepted, ask("whistle", V, departments=[]), "departments", "至少"),
    ("whistle one twice", accepted, whistle(SHUILI, SHUILI), "departments", "部门重复"),
    ("whistle one waiting", whistled, whistle(SHUILI, ZHUJIAN), "departments", ZHUJIAN),
    ("whistle before accept", registered, ask("whistle", V), None, "请先签收"),
    ("report uncalled", whistled, ask("report", department(SHUILI)), None, "只有被吹哨"),
    ("report by an admin", whistled, ask("report", ADMIN), None, "只有被吹哨"),
    ("report after resolve", whistled_resolved, ask("report", department(ZHUJIAN)), None, "待评价"),
    ("extension in seconds", accepted, extend(Term(seconds=60)), "term", "同一计量"),
    ("extension too long", accepted, extend(Term(working_days=4)), "term", "期限3个工作日"),
    ("extension of zero", accepted, extend(Term(working_days=0)), "term", "大于零"),
    ("extension without reason", accepted, ask("extension", V, reason=""), "reason", "延期理由"),
    ("extension twice", asked_extension, ask("extension", V, term=WD), None, "限一次"),
    ("extension when urgent", urgent, ask("extension", V, term=Term(seconds=60)), None, "紧急"),
    ("extension before accept", registered, ask("extension", V), None, "请先签收"),
    ("decision without request", accepted, grant(None), None, "没有待审批"),
    ("grant more than asked", asked_extension, grant(Term(working_days=3)), "term", "不能超过"),
    ("grant in seconds", asked_extension, grant(Term(seconds=60)), "term", "不能超过"),
    ("transfer nowhere", accepted, lambda: Transfer(actor=V, reason="错派"), "unit", "目标单位"),
    ("transfer to a township", accepted, lambda: transfer_to(TOWNSHIP), "unit", "同级"),
    ("transfer to itself", accepted, lambda: transfer_to(VILLAGE), "unit", "本单位"),
    ("transfer out of the county", accepted, lambda: transfer_to(FOREIGN_VILLAGE), "unit", "本县"),
    ("transfer, no reason", accepted, lambda: transfer_to(SIBLING, reason=""), "reason", "理由"),
    ("transfer late by the unit", late, lambda: transfer_to(SIBLING_VILLAGE), None, "转派时限"),
    ("supervise without note", accepted, ask("supervise", SUPERVISOR, note=""), "note", "督办意见"),
    ("supervise when resolved", resolved, ask("supervise", SUPERVISOR), None, "待评价"),
    ("feedback before resolve", accepted, lambda: Feedback(actor=CITIZEN), None, "尚未办结"),
    ("withdraw when resolved", resolved, ask("withdraw", CITIZEN), None, "待评价"),
]  # fmt: skip


def assert_refused(
    s: IssueState, a: Action, now: datetime, field: str | None, fragment: str
) -> Rejected:
    """``check`` refuses ``a`` naming ``field``, and the state is exactly as it was."""
    before, plain = copy.deepcopy(s), dataclasses.asdict(s)
    with pytest.raises(Rejected) as refused:
        check(s, update_of(a), a, now)
    assert refused.value.field == field
    assert fragment in refused.value.reason, refused.value.reason
    assert s == before and dataclasses.asdict(s) == plain, "a refusal changed the state"
    return refused.value


@pytest.mark.parametrize(
    ("build", "make", "field", "fragment"), [c[1:] for c in CHECKS], ids=[c[0] for c in CHECKS]
)
def test_check_refuses_naming_the_field_at_fault(
    build: Callable[[], IssueState], make: Callable[[], Action], field: str | None, fragment: str
) -> None:
    s = build()
    # Later than the last change, so that a check touching the clock of the state would show.
    assert_refused(s, make(), max(AT, s.updated_at or AT) + MINUTE, field, fragment)


def test_the_parent_may_transfer_after_the_window_and_so_may_an_admin() -> None:
    for by in (T, ADMIN):
        s = late()
        act(s, "transfer", transfer_to(SIBLING_VILLAGE, by), (s.updated_at or START) + HOUR)
        assert s.unit == SIBLING_VILLAGE


def test_the_unit_may_transfer_on_the_last_instant_of_its_window() -> None:
    s = accepted()
    until = s.current.transfer_until
    assert until is not None
    act(s, "transfer", transfer_to(SIBLING_VILLAGE), until)
    assert s.unit == SIBLING_VILLAGE


def test_a_grant_up_to_the_request_passes() -> None:
    s = asked_extension()
    for decision in (
        action("extension_decision", T, approve=True),
        action("extension_decision", T, approve=True, term=WD),
        action("extension_decision", T, approve=True, term=Term(working_days=2)),
        action("extension_decision", T, approve=False),
    ):
        check(s, "extension_decision", decision, AT)


def test_progress_stops_at_its_cap_and_the_issue_still_resolves() -> None:
    s = accepted()
    for n in range(limits.MAX_PROGRESS_NOTES):
        act(s, "progress", action("progress", V, note=f"第{n}次进展"), AT)
    assert s.progress_notes == limits.MAX_PROGRESS_NOTES
    refused = assert_refused(s, action("progress", V), LATER, "note", "上限")
    assert str(limits.MAX_PROGRESS_NOTES) in refused.reason
    act(s, "resolve", action("resolve", V), AT)
    assert s.status is Status.AWAITING_FEEDBACK


def test_transfers_stop_at_their_cap_and_the_issue_can_still_go_up() -> None:
    s = accepted()
    here, there = VILLAGE, SIBLING_VILLAGE
    for _ in range(limits.MAX_TRANSFERS):
        act(s, "transfer", transfer_to(there, clerk(here)), AT)
        here, there = there, here
    assert s.transfers == limits.MAX_TRANSFERS and s.unit == here
    assert_refused(s, transfer_to(there, clerk(here)), LATER, "unit", "上限")
    assert_refused(s, transfer_to(there, T), LATER, "unit", "上限")
    act(s, "escalate", action("escalate", clerk(here)), AT)
    assert s.unit == TOWNSHIP


def test_department_calls_stop_at_their_cap() -> None:
    s = accepted()
    three = [ZHUJIAN, SHUILI, MINZHENG]
    while len(s.departments) + len(three) <= limits.MAX_DEPARTMENT_CALLS:
        act(s, "whistle", action("whistle", V, departments=three), AT)
        for code in three:
            act(s, "report", action("report", department(code)), AT)
    assert len(s.departments) == limits.MAX_DEPARTMENT_CALLS
    assert_refused(s, action("whistle", V), LATER, "departments", "上限")


def test_a_township_transfers_only_to_a_township() -> None:
    s = accepted()
    act(s, "escalate", action("escalate", V), AT)
    act(s, "accept", action("accept", T), AT)
    assert_refused(s, transfer_to(OTHER_VILLAGE, T), LATER, "unit", "同级")
    act(s, "transfer", transfer_to(OTHER_TOWNSHIP, T), AT)
    assert s.unit == OTHER_TOWNSHIP


def test_the_resolving_village_may_not_rate_itself_and_its_parent_may_record_the_callback() -> None:
    s = resolved()
    rating = Feedback(actor=V, solved=True, satisfaction=Satisfaction.SATISFIED)
    assert_refused(s, rating, LATER, None, "承办过本事项的单位")
    act(s, "feedback", Feedback(actor=T), AT)
    assert s.status is Status.CLOSED and s.feedback is not None
    assert s.feedback.by_role is Role.LEADER
