"""A pure world for deliberations' fast tier: a driver that plays the workflow shell's part.

``act`` checks and applies an action after the clocks due by then have fired; ``advance`` fires
clocks in order; every clock a decision waits for is computed by the deadline activities' own
methods in-process (the real calendar and the default policy), as the run loop would.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from activities.deadlines import Clocks
from domain.calendar import WorkCalendar
from domain.deliberation.checks import check
from domain.deliberation.clocks import fire, next_due, request_for
from domain.deliberation.completions import complete
from domain.deliberation.models import (
    Attendance,
    CloseRound,
    DecisionSpec,
    DeliberationState,
    DEvent,
    DEventType,
    Kind,
    NewDeliberation,
    Participant,
    RoundOutcome,
    Votes,
)
from domain.deliberation.transitions import apply, open_deliberation
from domain.lifecycle.checks import Rejected
from domain.models import Action, Actor, Role, UnitRef
from domain.policy import load_policy
from tests.domain.conftest import COUNTY, START, TOWNSHIP, VILLAGE, ladder_of

CLOCKS = Clocks(WorkCalendar(), load_policy("default"))


def staff(unit: UnitRef, role: Role = Role.CLERK) -> Actor:
    prefix = {"village": "village", "township": "township", "county": "county"}[unit.kind.value]
    suffix = "-leader" if role is Role.LEADER and prefix == "village" else ""
    return Actor(user=f"{prefix}-{unit.code}{suffix}", role=role, unit_code=unit.code)


def opened(kind: Kind = Kind.REPRESENTATIVES_MEETING, **more: Any) -> DeliberationState:
    d = NewDeliberation(
        deliberation_id="d" * 32,
        topic="村道硬化选线",
        kind=kind,
        ladder=ladder_of(VILLAGE),
        opened_by=staff(VILLAGE),
        opened_at=START,
        participants=[Participant("villager_representative", "王五", VILLAGE.code)],
        departments=["zhenan-zhujian"],
        **more,
    )
    s = DeliberationState(d=d, ladder=list(d.ladder))
    open_deliberation(s, START)
    drive(s)
    return s


def drive(s: DeliberationState) -> None:
    while s.awaiting is not None:
        name, argument, result_type = request_for(s, s.awaiting)
        result = getattr(CLOCKS, name)(argument)
        assert isinstance(result, result_type), (name, result)
        complete(s, result)


def act(s: DeliberationState, name: str, a: Action, now: datetime) -> list[DEvent]:
    """Check, apply and complete at ``now``; a refusal leaves the state exactly as it was."""
    advance(s, now)
    before = copy.deepcopy(s)
    try:
        check(s, name, a, now)
    except Rejected:
        assert s == before, "a refused action changed the state"
        raise
    first = s.next_seq
    apply(s, name, a, now)
    drive(s)
    return [e for e in s.events if e.seq >= first]


def advance(s: DeliberationState, until: datetime) -> list[DEvent]:
    first = s.next_seq
    while (due := next_due(s)) is not None and due <= until:
        fire(s, due)
        drive(s)
        after = next_due(s)
        assert after is None or after > due, f"the clock at {due} is still due ({after})"
    return [e for e in s.events if e.seq >= first]


def types(events: list[DEvent]) -> list[DEventType]:
    return [e.type for e in events]


def close_round(
    actor: Actor,
    outcome: RoundOutcome,
    present: int = 20,
    expected: int = 25,
    approve: int | None = 15,
    decision: bool = True,
    **more: Any,
) -> CloseRound:
    return CloseRound(
        actor=actor,
        outcome=outcome,
        attendance=Attendance(expected=expected, present=present),
        votes=Votes(approve, 2, 1) if approve is not None else None,
        summary="会议纪要",
        decision=spec() if decision else None,
        **more,
    )


def spec(unit: UnitRef = VILLAGE, **more: Any) -> DecisionSpec:
    parent = {VILLAGE: TOWNSHIP, TOWNSHIP: COUNTY}.get(unit)
    return DecisionSpec(
        text="硬化村道两公里",
        responsible_unit=unit.code,
        responsible_name=unit.name,
        responsible_parent=parent.code if parent else None,
        **more,
    )
