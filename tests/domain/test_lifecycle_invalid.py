"""Invalid marks (无效): the handling unit marks a submission spam, a duplicate or not a
governance matter, with a reason; its clocks stop, supervisors hear of it and may overturn it
until the review window ends (the feedback window's length), after which it stands for good.

Registered on Monday 2026-03-02 09:00 on the default policy (5 working days of review).
"""

from __future__ import annotations

import pytest

from domain.lifecycle.checks import Rejected, check
from domain.lifecycle.clocks import next_due
from domain.lifecycle.transitions import running
from domain.models import EventType, InvalidKind, MarkInvalid, Outcome, ReviewInvalid, Status
from tests.domain.conftest import (
    CITIZEN,
    HOUR,
    START,
    SUPERVISOR,
    TOWNSHIP,
    VILLAGE,
    accepted,
    act,
    acted,
    action,
    clerk,
    clocks_fired,
    leader,
    registered,
    resolved,
    sh,
    to,
    types,
)

V = clerk(VILLAGE)
OTHER = "f" * 32


def _duplicate(actor=V, **more: object) -> MarkInvalid:  # type: ignore[no-untyped-def]
    fields = {"kind": InvalidKind.DUPLICATE, "duplicate_of": OTHER, "duplicate_code": "ZA-OTHER"}
    fields.update(more)
    return action("mark_invalid", actor, **fields)  # type: ignore[return-value]


def test_the_unit_marks_a_duplicate_clocks_stop_and_supervisors_hear() -> None:
    s = registered()
    events, notices = acted(s, "mark_invalid", _duplicate(), START + HOUR)
    assert types(events) == [EventType.INVALIDATED]
    assert s.status is Status.INVALID and running(s)
    assert s.current.outcome is Outcome.INVALID and s.current.left_at == START + HOUR
    data = events[0].data
    assert (data["kind"], data["duplicate_of"], data["duplicate_code"]) == (
        "duplicate",
        OTHER,
        "ZA-OTHER",
    )
    # The review window: the feedback window's 5 working days, to 18:00 of Monday 03-09.
    assert s.invalid is not None and s.invalid.review_until == sh(3, 9, 18)
    assert data["review_until"] == sh(3, 9, 18).isoformat()
    assert [to(n) for n in notices] == [("invalidated", [], [], [VILLAGE.code])]
    # No level clock runs now: no escalation, no warning; only the review window.
    assert next_due(s) == sh(3, 9, 18)


def test_an_unreviewed_mark_stands_for_good_when_its_window_ends() -> None:
    s = registered()
    act(s, "mark_invalid", action("mark_invalid", V, kind=InvalidKind.SPAM), START + HOUR)
    events, _ = clocks_fired(s, sh(3, 30))
    assert types(events) == [EventType.CLOSED]
    assert events[0].data == {"invalid": True, "kind": "spam"}
    assert s.status is Status.INVALID and s.closed_at == sh(3, 9, 18)
    assert not running(s) and next_due(s) is None
    with pytest.raises(Rejected, match="复核期已过"):
        check(s, "review_invalid", ReviewInvalid(SUPERVISOR, overturn=True), sh(3, 30))


def test_a_supervisor_overturns_it_and_the_issue_runs_again_at_the_same_unit() -> None:
    s = accepted()
    act(s, "mark_invalid", action("mark_invalid", V, kind=InvalidKind.SPAM), START + 2 * HOUR)
    overturn = ReviewInvalid(SUPERVISOR, overturn=True, note="群众反映属实")
    events, notices = acted(s, "review_invalid", overturn, START + 3 * HOUR)
    assert types(events) == [EventType.INVALID_REVIEWED, EventType.LEVEL_ENTERED]
    assert s.status is Status.PENDING_ACCEPT and s.invalid is None
    assert s.unit == VILLAGE and s.current.reason == "reinstated" and len(s.levels) == 2
    assert [n.kind for n in notices] == ["level_entered"]
    # Fresh clocks from the overturn: the village's 3 working days again.
    assert s.current.deadline == sh(3, 5, 18)


def test_the_leader_above_may_uphold_it_which_ends_the_issue() -> None:
    s = registered()
    act(s, "mark_invalid", action("mark_invalid", V, kind=InvalidKind.NOT_GOVERNANCE), START)
    events, notices = acted(s, "review_invalid", ReviewInvalid(leader(TOWNSHIP)), START + HOUR)
    assert types(events) == [EventType.INVALID_REVIEWED, EventType.CLOSED]
    assert s.status is Status.INVALID and not running(s)
    assert [to(n) for n in notices] == [("invalid_upheld", [VILLAGE.code], [], [])]


@pytest.mark.parametrize(
    ("who", "fields", "why"),
    [
        (clerk(TOWNSHIP), {"kind": InvalidKind.SPAM}, "只有该单位可以办理"),
        (CITIZEN, {"kind": InvalidKind.SPAM}, "只有该单位可以办理"),
        (V, {"kind": InvalidKind.SPAM, "reason": "  "}, r"理由 \(reason\)"),
        (V, {"kind": InvalidKind.DUPLICATE}, r"\(duplicate_of\)"),
        (V, {"kind": InvalidKind.DUPLICATE, "duplicate_of": "0" * 32}, "自身"),
        (V, {"kind": InvalidKind.SPAM, "duplicate_of": OTHER}, r"\(duplicate_of\)"),
    ],
)
def test_marks_refused(who: object, fields: dict[str, object], why: str) -> None:
    s = registered()
    with pytest.raises(Rejected, match=why):
        act(s, "mark_invalid", action("mark_invalid", who, **fields), START + HOUR)  # type: ignore[arg-type]
    assert s.status is Status.PENDING_ACCEPT and s.invalid is None


def test_no_mark_once_resolved_and_no_review_of_a_valid_issue() -> None:
    s = resolved()
    with pytest.raises(Rejected, match="已办结的事项不能标记为无效"):
        act(s, "mark_invalid", action("mark_invalid", V), START + 3 * HOUR)
    with pytest.raises(Rejected, match="未被标记为无效"):
        act(s, "review_invalid", ReviewInvalid(SUPERVISOR), START + 3 * HOUR)


def test_only_oversight_reviews_and_the_marked_issue_takes_no_other_action() -> None:
    s = registered()
    act(s, "mark_invalid", action("mark_invalid", V, kind=InvalidKind.SPAM), START)
    for who in (V, clerk(TOWNSHIP), CITIZEN):
        with pytest.raises(Rejected, match="复核无效标记"):
            act(s, "review_invalid", ReviewInvalid(who, overturn=True), START + HOUR)
    with pytest.raises(Rejected, match="无效"):
        act(s, "accept", action("accept", V), START + HOUR)
    with pytest.raises(Rejected, match="无效"):
        act(s, "withdraw", action("withdraw", CITIZEN), START + HOUR)
