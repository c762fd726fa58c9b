"""The invariants an issue keeps after every step, read on its whole trail.

Those of the workflow's property test (``tests/workflows/test_properties.py``), adapted to a pure
driver that never drops recorded events, plus what only such a driver can see: no decision left
waiting for its clock, a next clock exactly while the issue is open, the trail in time order, the
caps, every notice tied to its event, the warnings still at their fractions of the deadline.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from domain.lifecycle import limits
from domain.lifecycle.checks import view_of
from domain.lifecycle.clocks import next_due
from domain.lifecycle.transitions import decider_unit
from domain.models import OPEN_STATUSES, EventType, IssueState, Outcome, Role, Status, UnitKind
from tests.domain.conftest import COUNTY, ladder_of

RANK = {UnitKind.VILLAGE: 0, UnitKind.TOWNSHIP: 1, UnitKind.COUNTY: 2}
WORKING = (Status.PENDING_ACCEPT, Status.IN_PROGRESS)


@dataclass
class Expect:
    """What the driver saw: the accepted resolves."""

    resolves: list[tuple[str, str]] = field(default_factory=list)  # (level, unit code)


def check_invariants(s: IssueState, expect: Expect) -> None:
    """Everything an issue keeps after a step of the pure driver."""
    assert s.ladder == ladder_of(s.ladder[0]), "the ladder is not the tree's path"
    check_trail(s, expect)
    check_pure_invariants(s, expect)


def check_trail(s: IssueState, expect: Expect) -> None:
    """The invariants of an issue read on its whole trail: the pure driver's, and the workflow
    property test's (``tests/workflows/test_properties.py``) on the live state with its trail."""
    # The ladder and its ceiling.
    assert s.ladder[-1].kind is UnitKind.COUNTY and s.ladder[-1].code == COUNTY.code
    assert 0 <= s.rung < len(s.ladder)
    assert s.current.unit == s.unit
    ranks = [RANK[lv.unit.kind] for lv in s.levels]
    assert ranks == sorted(ranks), f"the issue went down the ladder: {ranks}"
    assert all(lv.level == lv.unit.kind.value for lv in s.levels)

    # One outcome per level left; none on the current level while people work on it.
    for lv in s.levels[:-1]:
        assert lv.outcome is not None and lv.left_at is not None, lv
    current = s.current.outcome
    if s.status in WORKING:
        assert current is None and s.current.left_at is None
    elif s.status is Status.WITHDRAWN:
        assert current is Outcome.WITHDRAWN
    else:
        assert current is Outcome.RESOLVED

    # The resolution: where the last accepted resolve happened, while it stands.
    if s.status in (Status.AWAITING_FEEDBACK, Status.CLOSED):
        assert s.resolution is not None and expect.resolves
        assert (s.resolution.level, s.resolution.unit) == expect.resolves[-1]
    else:
        assert s.resolution is None, f"{s.status}: a resolution stands ({s.resolution})"

    # Clocks that make sense together.
    if s.overdue_since is not None and s.status in WORKING:
        assert s.at_ceiling and s.current.deadline <= s.overdue_since
    if s.pending_extension is not None:
        assert s.status is Status.IN_PROGRESS and s.current.extension_requested
        assert s.overdue_since is None, "an extension still pending on an overdue issue"
    if s.status is Status.AWAITING_FEEDBACK:
        assert s.feedback_deadline is not None
    elif s.status in WORKING:
        assert s.feedback_deadline is None

    # The events: gapless, and telling the same story as the state.
    assert [e.seq for e in s.events] == list(range(1, s.next_seq))
    types = [e.type for e in s.events]
    assert types.count(EventType.LEVEL_ENTERED) == len(s.levels)
    assert types.count(EventType.ACCEPTED) == sum(lv.accepted_at is not None for lv in s.levels)
    assert types.count(EventType.RESOLVED) == sum(lv.outcome is Outcome.RESOLVED for lv in s.levels)
    assert types.count(EventType.TRANSFERRED) == sum(
        lv.outcome is Outcome.TRANSFERRED for lv in s.levels
    )
    escalations = [e.data["outcome"] for e in s.events if e.type is EventType.ESCALATED]
    for outcome in (Outcome.ESCALATED_ON_REQUEST, Outcome.ESCALATED_ON_TIMEOUT):
        assert escalations.count(outcome.value) == sum(lv.outcome is outcome for lv in s.levels)
    assert types.count(EventType.WARNING) == s.warnings_sent
    assert types.count(EventType.FEEDBACK) == len(s.feedback_history)
    reopened = [e.data["unit"] for e in s.events if e.type is EventType.REOPENED]
    assert reopened == s.reopened_at_level and len(set(reopened)) == len(reopened), reopened
    assert types.count(EventType.REPORTED) == sum(d.reported_at is not None for d in s.departments)
    whistled = [e.data["departments"] for e in s.events if e.type is EventType.WHISTLED]
    assert sum(len(w) for w in whistled) == len(s.departments)
    assert (EventType.OVERDUE in types) == s.overdue
    if s.status is Status.CLOSED:
        assert types[-1] is EventType.CLOSED
    if s.status is Status.WITHDRAWN:
        assert types[-1] is EventType.WITHDRAWN

    # Every unit action on record was taken by that unit (or an admin).
    unit_work = (
        EventType.ACCEPTED,
        EventType.PROGRESS,
        EventType.RESOLVED,
        EventType.WHISTLED,
        EventType.EXTENSION_REQUESTED,
    )
    for e in s.events:
        if e.type in unit_work and e.actor.role is not Role.ADMIN:
            assert e.actor.unit_code == e.unit, f"{e.type} at {e.unit} by {e.actor}"


def check_pure_invariants(s: IssueState, expect: Expect) -> None:
    """What only a pure driver can check after every step."""
    assert s.awaiting is None, "a decision still waits for its clock"
    due = next_due(s)
    assert (due is not None) == (s.status in OPEN_STATUSES), f"{s.status}: next clock {due}"
    assert all(a.at <= b.at for a, b in itertools.pairwise(s.events)), "time ran back"
    assert s.progress_notes <= limits.MAX_PROGRESS_NOTES
    assert s.transfers <= limits.MAX_TRANSFERS
    assert len(s.departments) <= limits.MAX_DEPARTMENT_CALLS
    assert len(s.applied_requests) <= limits.REQUEST_MEMORY
    seqs = {e.seq for e in s.events}
    for n in s.outbox:
        assert n.seq in seqs and (n.units or n.departments or n.supervisors_of), n
    assert view_of(s).decider == decider_unit(s)
    lvl, fractions = s.current, s.terms.warnings if s.terms else ()
    span = lvl.deadline - lvl.entered_at
    unsent = [lvl.entered_at + span * f for f in fractions[lvl.warnings_sent :]]
    assert lvl.warnings[lvl.warnings_sent :] == unsent, "the warnings left the deadline behind"
