"""The law's numbers and who may act: quorum and majority per kind, the order of 四议两公开, the
roles behind every action.

村民委员会组织法 (2018): art. 22 — a 村民会议 needs more than half of the adult villagers, or the
representatives of at least two thirds of the households, and decides by more than half of those
present; art. 26 — a 村民代表会议 needs two thirds of its members and decides by more than half of
those present. 四议两公开: the 党员大会 reviews with two thirds of the members present and more
than half of those present approving.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.deliberation.models import (
    MEETING_STEPS,
    Attendance,
    Body,
    Kind,
    Step,
    Votes,
)
from domain.models import Actor, Role

UNIT_ROLES = frozenset({Role.CLERK, Role.LEADER})
STAFF_READERS = frozenset({Role.CLERK, Role.LEADER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Rule:
    """How one meeting counts: who must be there and whether a decision needs votes."""

    quorum: str  # villagers | two_thirds | half | none
    votes_required: bool


_BY_KIND = {
    Kind.VILLAGE_COUNCIL: Rule("villagers", True),
    Kind.REPRESENTATIVES_MEETING: Rule("two_thirds", True),
    Kind.JOINT_MEETING: Rule("none", False),
    Kind.HEARING: Rule("none", False),
    Kind.CONSULTATION: Rule("none", False),
    Kind.POLL: Rule("none", False),
}
_BY_STEP = {
    Step.PARTY_PROPOSAL: Rule("none", False),
    Step.COMMITTEES: Rule("half", False),
    Step.PARTY_MEMBERS: Rule("two_thirds", True),
}


def rule_for(kind: Kind, step: Step | None, body: Body | None) -> Rule:
    """The rule of a round's meeting (for 四议两公开, of its step)."""
    if kind is not Kind.FOUR_DELIBERATIONS:
        return _BY_KIND[kind]
    if step is Step.RESOLUTION:
        return Rule("villagers" if body is Body.VILLAGERS else "two_thirds", True)
    assert step is not None
    return _BY_STEP[step]


def quorum_met(quorum: str, a: Attendance) -> bool:
    """Whether ``a`` makes a quorum under ``quorum`` (integer arithmetic: no rounding)."""
    if quorum == "villagers":
        by_people = a.present * 2 > a.expected
        he, hp = a.households_expected, a.households_present
        by_households = bool(he) and hp is not None and he is not None and hp * 3 >= he * 2
        return by_people or by_households
    if quorum == "two_thirds":
        return a.present * 3 >= a.expected * 2
    if quorum == "half":
        return a.present * 2 > a.expected
    return True


def quorum_text(quorum: str) -> str:
    return {
        "villagers": "到会须超过应到人数的一半，或有三分之二以上农户的代表参加",
        "two_thirds": "到会须达到应到人数的三分之二以上",
        "half": "到会须超过应到人数的一半",
    }.get(quorum, "")


def majority(votes: Votes, present: int) -> bool:
    """A decision carries with more than half of those present (abstaining counts as present)."""
    return votes.approve * 2 > present


def next_step(done: list[Step]) -> Step | None:
    """The meeting step that comes next, or None when all four are done."""
    for step in MEETING_STEPS:
        if step not in done:
            return step
    return None


# ---- who may do what ----------------------------------------------------------------------------

REFUSALS = {
    "close_round": "只有议事所在单位可以结束本轮议事",
    "decide": "只有提交单位的负责人可以决策",
    "implement": "只有责任单位或议事单位可以报送落实情况",
    "evaluate": "责任单位不能评价自己的落实结果",
    "opinion": "只有受邀的参与单位、部门可以发表意见",
    "ballot": "只有议事所在单位可以录入选票",
    "withdraw": "只有议事所在单位可以撤回",
}


@dataclass(frozen=True)
class DeliberationView:
    """The facts about one deliberation that the rules read."""

    unit_code: str
    participant_units: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    responsible_unit: str | None = None


def refusal(actor: Actor, action: str, view: DeliberationView) -> str | None:
    """Why ``actor`` may not take ``action``, or None. Jurisdiction by subtree is the API's."""
    role = actor.role
    if role is Role.ADMIN:
        return None
    at_unit = role in UNIT_ROLES and actor.unit_code == view.unit_code
    if action == "ballot" and role is Role.CITIZEN:
        # A villager votes from the phone: the household code the API checked is the credential,
        # and the poll takes one ballot per household whoever enters it.
        return None
    if action in ("close_round", "ballot", "withdraw"):
        return None if at_unit else REFUSALS[action]
    if action == "decide":
        return (
            None if role is Role.LEADER and actor.unit_code == view.unit_code else REFUSALS[action]
        )
    if action in ("progress", "complete"):
        responsible = role in UNIT_ROLES and actor.unit_code == view.responsible_unit
        return None if at_unit or responsible else REFUSALS["implement"]
    if action == "opinion":
        invited = role in UNIT_ROLES and actor.unit_code in view.participant_units
        department = role is Role.DEPARTMENT and actor.department_code in view.departments
        return None if at_unit or invited or department else REFUSALS[action]
    if action == "evaluate":
        if role in UNIT_ROLES and actor.unit_code == view.responsible_unit:
            return REFUSALS[action]
        return None if role in (*UNIT_ROLES, Role.SUPERVISOR, Role.DEPARTMENT) else REFUSALS[action]
    return REFUSALS.get(action, "无权操作")
