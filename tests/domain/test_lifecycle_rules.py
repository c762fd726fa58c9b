"""Who may do what to an issue (``rules.refusal``) and when (``checks.check``), as tables.

The expectations are written out here from the design, not read from the rules' own sets: every
action by every kind of caller at every position relative to the issue — the unit holding it, its
parent, units above, units outside the chain, departments called or not, the citizen, admins and
supervisors — and every refusal of ``check`` with the field it names. A refusal changes nothing.
"""

from __future__ import annotations

import dataclasses

import pytest

from domain.lifecycle.checks import view_of
from domain.lifecycle.rules import REFUSALS, IssueView, refusal, unit_refusal
from domain.lifecycle.transitions import decider_unit
from domain.models import (
    Actor,
    Role,
    Status,
    UnitRef,
)
from tests.domain.conftest import (
    ADMIN,
    CITIZEN,
    COUNTY,
    HOUR,
    MINZHENG,
    OTHER_TOWNSHIP,
    OUTSIDE_TOWNSHIP,
    OUTSIDE_VILLAGE,
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
)

UNIT_WORK = {"accept", "progress", "resolve", "escalate", "whistle", "extension"}
EVERY = UNIT_WORK | {
    "report",
    "extension_decision",
    "transfer",
    "supervise",
    "feedback",
    "withdraw",
}
AT_UNIT = UNIT_WORK | {"transfer", "withdraw"}  # what the unit holding the issue may do
DEPT_ADMIN = dataclasses.replace(ADMIN, department_code=ZHUJIAN)


def view_at(unit: UnitRef, handled: set[UnitRef]) -> IssueView:
    """The issue sitting at ``unit``; 住建 whistled and waiting, 水利 whistled and reported."""
    return IssueView(
        issue_id="0" * 32,
        status=Status.IN_PROGRESS,
        unit_code=unit.code,
        unit_name=unit.name,
        above=tuple(u.code for u in ladder_of(unit)[1:]),
        called=frozenset({ZHUJIAN, SHUILI}),
        open_calls=frozenset({ZHUJIAN}),
        handled_by=frozenset(u.code for u in handled),
    )


def everyone_else() -> dict[str, tuple[Actor, set[str]]]:
    """Callers whose say does not depend on where the issue sits."""
    return {
        "department called, not reported": (department(ZHUJIAN), {"report"}),
        "department called and reported": (department(SHUILI), set()),
        "department not called": (department(MINZHENG), set()),
        "citizen": (CITIZEN, {"feedback", "withdraw"}),
        "supervisor": (SUPERVISOR, {"supervise", "feedback"}),
        "admin": (ADMIN, EVERY - {"report"}),  # an admin reports only for a called department
        "admin for a called department": (DEPT_ADMIN, EVERY),
        "outside village clerk": (clerk(OUTSIDE_VILLAGE), {"feedback"}),
        "outside township leader": (leader(OUTSIDE_TOWNSHIP), {"feedback"}),
    }


# (view, {position: (actor, allowed actions)}, positions that handled the issue)
AT_VILLAGE = (
    view_at(VILLAGE, {VILLAGE}),
    {
        "unit clerk": (clerk(VILLAGE), AT_UNIT),
        "unit leader": (leader(VILLAGE), AT_UNIT),
        "parent leader": (leader(TOWNSHIP), {"transfer", "extension_decision", "supervise"}),
        "parent clerk": (clerk(TOWNSHIP), set()),
        "above leader": (leader(COUNTY), {"supervise"}),
        "above clerk": (clerk(COUNTY), set()),
        "sibling village clerk": (clerk(SIBLING_VILLAGE), set()),
        "other township leader": (leader(OTHER_TOWNSHIP), set()),
    },
    {"unit clerk", "unit leader"},
)
AT_TOWNSHIP = (
    view_at(TOWNSHIP, {VILLAGE, TOWNSHIP}),
    {
        "unit clerk": (clerk(TOWNSHIP), AT_UNIT),
        "unit leader": (leader(TOWNSHIP), AT_UNIT),
        "parent leader": (leader(COUNTY), {"transfer", "extension_decision", "supervise"}),
        "parent clerk": (clerk(COUNTY), set()),
        "village below that handled it": (clerk(VILLAGE), set()),
        "village below that did not": (clerk(SIBLING_VILLAGE), set()),
        "other township leader": (leader(OTHER_TOWNSHIP), set()),
    },
    {"unit clerk", "unit leader", "village below that handled it"},
)
AT_COUNTY = (
    view_at(COUNTY, {VILLAGE, TOWNSHIP, COUNTY}),
    {
        # At the ceiling the county's leader decides its own extensions; nobody is above it.
        "unit clerk": (clerk(COUNTY), AT_UNIT),
        "unit leader": (leader(COUNTY), AT_UNIT | {"extension_decision"}),
        "township below that handled it": (leader(TOWNSHIP), set()),
        "village below that handled it": (clerk(VILLAGE), set()),
        "township below that did not": (leader(OTHER_TOWNSHIP), set()),
    },
    {
        "unit clerk",
        "unit leader",
        "township below that handled it",
        "village below that handled it",
    },
)


def cases() -> list[tuple[str, IssueView, Actor, str, bool, bool]]:
    """Every action by every position in every placement: (id, view, actor, action, allowed,
    handled by the caller's unit)."""
    found = []
    for place, (view, positions, handlers) in {
        "at village": AT_VILLAGE,
        "at township": AT_TOWNSHIP,
        "at county": AT_COUNTY,
    }.items():
        for position, (actor, allowed) in {**positions, **everyone_else()}.items():
            # Staff outside the handling chain may record a phone 回访; the handlers may not.
            outside = actor.role in (Role.CLERK, Role.LEADER) and position not in handlers
            may = allowed | ({"feedback"} if outside else set())
            for name in sorted(EVERY):
                case_id = f"{place}, {position}, {name}"
                found.append((case_id, view, actor, name, name in may, position in handlers))
    return found


CASES = cases()


def expected_refusal(name: str, view: IssueView, handler: bool) -> str:
    if name in UNIT_WORK:
        return unit_refusal(view.unit_name)
    if name == "feedback" and handler:
        return REFUSALS["feedback_by_handler"]
    return REFUSALS[name]


@pytest.mark.parametrize(
    ("view", "actor", "name", "allowed", "handler"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_who_may_take_each_action(
    view: IssueView, actor: Actor, name: str, allowed: bool, handler: bool
) -> None:
    why = refusal(actor, name, view)
    if allowed:
        assert why is None
    else:
        assert why == expected_refusal(name, view, handler)


def test_the_table_covers_every_action_and_both_answers() -> None:
    assert len(CASES) > 500
    assert {case[3] for case in CASES} == EVERY
    for name in EVERY:
        answers = {case[4] for case in CASES if case[3] == name}
        assert answers == {True, False}, name


def test_the_units_an_issue_stayed_at_may_not_rate_it_even_after_it_moved_on() -> None:
    # The village escalated; the township resolved. Neither may record the 回访; the county may.
    view = dataclasses.replace(
        view_at(TOWNSHIP, {VILLAGE, TOWNSHIP}), status=Status.AWAITING_FEEDBACK
    )
    for handler in (clerk(VILLAGE), leader(VILLAGE), clerk(TOWNSHIP), leader(TOWNSHIP)):
        assert refusal(handler, "feedback", view) == REFUSALS["feedback_by_handler"]
    for outsider in (leader(COUNTY), clerk(COUNTY), clerk(SIBLING_VILLAGE), SUPERVISOR, CITIZEN):
        assert refusal(outsider, "feedback", view) is None


# ---- the view the workflow builds from its state ---------------------------------------------


def test_the_view_of_a_live_issue() -> None:
    s = accepted()
    act(s, "whistle", action("whistle", clerk(VILLAGE), departments=[ZHUJIAN, SHUILI]), START)
    act(s, "report", action("report", department(SHUILI)), START + HOUR)
    act(s, "escalate", action("escalate", clerk(VILLAGE)), START + 2 * HOUR)
    view = view_of(s)
    assert (view.unit_code, view.unit_name, view.status) == (
        TOWNSHIP.code,
        TOWNSHIP.name,
        Status.PENDING_ACCEPT,
    )
    assert view.above == (COUNTY.code,) and view.parent == COUNTY.code
    assert view.called == {ZHUJIAN, SHUILI} and view.open_calls == {ZHUJIAN}
    assert view.handled_by == {VILLAGE.code, TOWNSHIP.code}


@pytest.mark.parametrize("where", ["village", "township", "county"])
def test_the_rules_and_the_transitions_agree_on_who_decides_an_extension(where: str) -> None:
    s = {"village": accepted, "township": accepted, "county": at_county}[where]()
    if where == "township":
        act(s, "escalate", action("escalate", clerk(VILLAGE)), START + 2 * HOUR)
    expected = {"village": TOWNSHIP, "township": COUNTY, "county": COUNTY}[where]
    assert view_of(s).decider == decider_unit(s) == expected.code
