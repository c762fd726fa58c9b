"""What an issue and a deliberation share: one appender for their trails, one place-name rule for
their notices, one view of where they stand on their ladder; and the two tables (checks,
transitions) each keeps per action, which must name the same actions."""

from __future__ import annotations

from datetime import timedelta

from domain.deliberation import checks as deliberation_checks
from domain.deliberation import transitions as deliberation_transitions
from domain.deliberation.models import DEvent, DEventType
from domain.deliberation.trail import event as deliberation_event
from domain.lifecycle import checks, rules, transitions
from domain.lifecycle.trail import event, place_names
from domain.models import SYSTEM_ACTOR, Event, EventType
from tests.domain.conftest import COUNTY, START, TOWNSHIP, VILLAGE, at_county, registered
from tests.domain.deliberation_world import opened

LATER = START + timedelta(days=1)


def test_an_issues_event_takes_the_next_seq_its_level_and_unit_and_plain_data() -> None:
    s = registered()
    seq = s.next_seq

    assert event(s, EventType.PROGRESS, SYSTEM_ACTOR, LATER, {"when": LATER}) == seq

    assert s.events[-1] == Event(
        seq=seq,
        type=EventType.PROGRESS,
        at=LATER,
        actor=SYSTEM_ACTOR,
        level="village",
        unit=VILLAGE.code,
        data={"when": LATER.isoformat()},
    )
    assert (s.next_seq, s.updated_at) == (seq + 1, LATER)


def test_a_deliberations_event_takes_the_next_seq_and_its_unit_and_no_level() -> None:
    s = opened()
    seq = s.next_seq

    assert deliberation_event(s, DEventType.OPINION, SYSTEM_ACTOR, LATER) == seq

    assert s.events[-1] == DEvent(
        seq=seq, type=DEventType.OPINION, at=LATER, actor=SYSTEM_ACTOR, unit=VILLAGE.code
    )
    assert (s.next_seq, s.updated_at) == (seq + 1, LATER)


def test_notices_name_the_places_below_the_county() -> None:
    assert place_names([VILLAGE, TOWNSHIP, COUNTY]) == [VILLAGE.name, TOWNSHIP.name]
    places = [VILLAGE.name, TOWNSHIP.name]
    assert registered().outbox[-1].where == opened().outbox[-1].where == places


def test_both_states_stand_on_their_ladder_the_same_way() -> None:
    issue, deliberation = registered(), opened()
    assert (issue.unit, issue.at_ceiling) == (deliberation.unit, deliberation.at_ceiling)
    assert (issue.unit, issue.at_ceiling) == (VILLAGE, False)
    top = at_county()
    assert (top.unit, top.at_ceiling) == (COUNTY, True)
    assert deliberation.parent == TOWNSHIP


def test_every_action_has_a_check_and_a_transition() -> None:
    assert set(checks._CHECKS) == set(transitions._ACTIONS) == rules.ACTIONS
    assert set(deliberation_transitions._ACTIONS) == deliberation_checks.ACTIONS
