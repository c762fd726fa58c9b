"""The law's numbers (村民委员会组织法 arts. 22, 26; 四议两公开) as pure rules, against their
definitions written another way (fractions), for every small meeting hypothesis can think of."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from domain.deliberation.models import Attendance, Body, Kind, Step, Votes
from domain.deliberation.rules import majority, next_step, quorum_met, rule_for

sizes = st.integers(min_value=1, max_value=400)


@st.composite
def meetings(draw: st.DrawFn) -> Attendance:
    expected = draw(sizes)
    present = draw(st.integers(0, expected))
    households = draw(st.none() | st.integers(1, 300))
    came = None if households is None else draw(st.integers(0, households))
    return Attendance(expected, present, households, came)


@given(meetings())
def test_villagers_meeting_needs_half_of_adults_or_two_thirds_of_households(a: Attendance) -> None:
    by_people = Fraction(a.present, a.expected) > Fraction(1, 2)
    by_households = a.households_expected is not None and Fraction(
        a.households_present or 0, a.households_expected
    ) >= Fraction(2, 3)
    assert quorum_met("villagers", a) == (by_people or by_households)


@given(meetings())
def test_two_thirds_of_members(a: Attendance) -> None:
    assert quorum_met("two_thirds", a) == (Fraction(a.present, a.expected) >= Fraction(2, 3))


def test_the_boundaries_exactly() -> None:
    assert quorum_met("two_thirds", Attendance(30, 20))
    assert not quorum_met("two_thirds", Attendance(30, 19))
    assert not quorum_met("villagers", Attendance(100, 50))  # half is not more than half
    assert quorum_met("villagers", Attendance(100, 51))
    assert quorum_met("villagers", Attendance(100, 10, 90, 60))  # two thirds of households
    assert not quorum_met("villagers", Attendance(100, 10, 90, 59))


@given(st.integers(0, 300), st.integers(0, 300))
def test_a_decision_needs_more_than_half_of_those_present(approve: int, present: int) -> None:
    assert majority(Votes(approve, 0, 0), present) == (Fraction(approve) > Fraction(present, 2))


def test_each_kind_counts_as_the_law_says() -> None:
    assert rule_for(Kind.REPRESENTATIVES_MEETING, None, None).quorum == "two_thirds"
    assert rule_for(Kind.VILLAGE_COUNCIL, None, None).quorum == "villagers"
    assert rule_for(Kind.FOUR_DELIBERATIONS, Step.PARTY_MEMBERS, None).quorum == "two_thirds"
    assert rule_for(Kind.FOUR_DELIBERATIONS, Step.RESOLUTION, Body.VILLAGERS).quorum == "villagers"
    resolution = rule_for(Kind.FOUR_DELIBERATIONS, Step.RESOLUTION, None)
    assert (resolution.quorum, resolution.votes_required) == ("two_thirds", True)
    assert not rule_for(Kind.HEARING, None, None).votes_required


def test_the_four_meetings_come_in_order() -> None:
    assert next_step([]) is Step.PARTY_PROPOSAL
    assert next_step([Step.PARTY_PROPOSAL]) is Step.COMMITTEES
    assert next_step([Step.PARTY_PROPOSAL, Step.COMMITTEES]) is Step.PARTY_MEMBERS
    done = [Step.PARTY_PROPOSAL, Step.COMMITTEES, Step.PARTY_MEMBERS, Step.RESOLUTION]
    assert next_step(done) is None


def test_a_villager_enters_a_ballot_by_household_code_but_closes_nothing() -> None:
    from domain.deliberation.rules import DeliberationView, refusal
    from domain.models import Actor, Role

    villager = Actor(user="household", role=Role.CITIZEN)
    view = DeliberationView(unit_code="611025001001")
    assert refusal(villager, "ballot", view) is None
    assert refusal(villager, "close_round", view) is not None
    assert refusal(villager, "opinion", view) is not None
