"""Properties of the pure lifecycle under random actions, actors and jumps of time (hypothesis).

The same action model and invariants as ``tests/workflows/test_properties.py``, which plays them
on a Temporal test server, here applied to the pure core from registration in microseconds: each
step jumps the clock (every clock due meanwhile fires at its own instant, in order), then one
action by one kind of caller — mostly the plausible next action by the right one, sometimes
anything by anyone — or a wait for the next clock. Nothing is recorded, so ``state.events`` holds
the whole trail. After every step:

- the invariants of the workflow's property test (``lifecycle_invariants``): the ladder and its
  ceiling, one outcome per level left, the resolution where the last accepted resolve happened,
  clocks that make sense together, events gapless and telling the same story as the state, every
  unit action taken by that unit;
- a refused action raised ``Rejected`` and left the state exactly as it was (its pickle equal);
  whoever never has a say is refused, whoever plainly has one is not;
- the next clock is never before the instant of the last decision, and exists while the issue
  is open; the trail is in time order; the caps hold;
- the state as the workflow holds it before a record (this step's events and notices only) stays
  under 512 KB in Temporal's JSON, far below its 2 MB payload limit.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from domain.lifecycle import limits
from domain.lifecycle.checks import Rejected, check
from domain.lifecycle.clocks import next_due
from domain.lifecycle.transitions import apply
from domain.models import (
    OPEN_STATUSES,
    Action,
    Actor,
    EventType,
    Feedback,
    IssueState,
    Satisfaction,
    Status,
    Term,
    Transfer,
    UnitKind,
    UnitRef,
    Urgency,
)
from tests.domain.conftest import (
    ADMIN,
    CITIZEN,
    COUNTY,
    DEPARTMENTS,
    HOUR,
    OTHER_TOWNSHIP,
    OTHER_VILLAGE,
    OUTSIDE_TOWNSHIP,
    OUTSIDE_VILLAGE,
    SIBLING_VILLAGE,
    START,
    SUPERVISOR,
    TOWNSHIP,
    VILLAGE,
    act,
    action,
    advance,
    bounded,
    clerk,
    department,
    drive,
    ladder_of,
    leader,
    payload_size,
    registered,
)
from tests.domain.lifecycle_invariants import (
    WORKING,
    Expect,
    check_invariants,
)

STATE_BUDGET = 512 * 1024  # bytes: a quarter of Temporal's 2 MB payload limit
LONG = "办" * 2000  # the API's longest text (2,000 characters; JSON escapes each to 6 bytes)
WD, NO_DAYS, HOUR_TERM = Term(working_days=1), Term(working_days=0), Term(seconds=3600)
TEXT_FIELD = {"progress": "note", "resolve": "summary", "escalate": "reason", "supervise": "note"}

ACTIONS = [
    "accept",
    "progress",
    "resolve",
    "escalate",
    "whistle",
    "report",
    "extension",
    "extension_decision",
    "transfer",
    "supervise",
    "feedback",
    "withdraw",
    "wait",  # no action: the next clock fires
]
# The unit holding the issue, its parent, a unit off the ladder, a unit the issue left behind, ...
WHO = ["unit", "parent", "outsider", "below", "supervisor", "citizen", "department", "admin"]
RIGHT = {"report": "department", "extension_decision": "parent", "supervise": "supervisor"}
RIGHT |= {"feedback": "citizen", "withdraw": "citizen"}
# Who else plausibly takes an action, by ``pick``: anyone may try to record the 回访.
SOMETIMES_BY = {
    "feedback": ["citizen", "citizen", "outsider", "supervisor", "unit", "parent"],
    "transfer": ["unit", "unit", "unit", "parent", "parent", "unit"],
}
HOURS = [0] * 6 + [1, 6, 24, 72, 170]
UNIT_WORK = {"accept", "progress", "resolve", "escalate", "whistle", "extension"}
# Who may never take an action, whatever the state ("below" only when it is not the unit).
NEVER: dict[str, set[str]] = {
    "outsider": set(ACTIONS) - {"feedback", "wait"},  # any staff off the chain may record a 回访
    "department": set(ACTIONS) - {"report", "wait"},
    "citizen": set(ACTIONS) - {"feedback", "withdraw", "wait"},
    "supervisor": set(ACTIONS) - {"supervise", "feedback", "wait"},
    "below": set(ACTIONS) - {"wait"},  # it handled the issue: not even the 回访
    "unit": {"report", "supervise", "feedback"},  # nor may the unit that holds it
    "parent": UNIT_WORK | {"report", "withdraw"},  # below the ceiling: the unit's work is not its
    "parent clerk": set(ACTIONS) - {"feedback", "wait"},  # transfers are its leader's
}


@dataclass(frozen=True)
class Choice:
    """One step as drawn: the same shape whatever the state, read against it by ``step_for``."""

    hours: int
    sensible: bool  # the next plausible action by the right caller, or anything by anyone
    index: int
    who: str
    pick: int  # chooses among an action's variants: target, term, departments, satisfaction
    text: str  # "short", "blank" or "long": the action's required text


@dataclass(frozen=True)
class Step:
    action: str
    who: str
    pick: int
    text: str


choices = st.builds(
    Choice,
    hours=st.sampled_from(HOURS),
    sensible=st.sampled_from([True, True, True, False]),
    index=st.integers(0, 255),
    who=st.sampled_from(WHO),
    pick=st.integers(0, 5),
    text=st.sampled_from(["short"] * 7 + ["blank", "long", "long"]),
)


def sensible(s: IssueState) -> list[str]:
    """What plausibly happens next, weighted, so that examples get somewhere."""
    if s.status is Status.PENDING_ACCEPT:
        return ["accept"] * 4 + ["escalate", "transfer", "supervise", "wait"]
    if s.status is Status.AWAITING_FEEDBACK:
        return ["feedback"] * 3 + ["wait"]
    menu = ["resolve"] * 3 + ["whistle"] * 2 + ["progress", "escalate", "transfer", "supervise"]
    menu += ["extension"] * (0 if s.current.extension_requested else 3)
    menu += ["extension_decision"] * (20 if s.pending_extension else 0)
    menu += ["report"] * (4 if any(d.reported_at is None for d in s.departments) else 0)
    return [*menu, "withdraw", "wait"]


def step_for(c: Choice, s: IssueState) -> Step:
    if c.sensible:
        name = sensible(s)[c.index % len(sensible(s))]
        pick = c.pick
        waiting = [d.department for d in s.departments if d.reported_at is None]
        if name == "report" and waiting:  # a department that was called in reports
            pick = list(DEPARTMENTS).index(waiting[pick % len(waiting)])
        who = RIGHT.get(name, "unit")
        if name in SOMETIMES_BY:  # a 回访 by phone, a transfer the parent decides
            who = SOMETIMES_BY[name][pick]
        return Step(name, who, pick, "long" if c.text == "long" else "short")
    return Step(ACTIONS[c.index % len(ACTIONS)], c.who, c.pick, c.text)


def unit_actor(unit: UnitRef, pick: int) -> Actor:
    return clerk(unit) if unit.kind is UnitKind.VILLAGE or pick % 2 else leader(unit)


def actor_for(step: Step, s: IssueState) -> Actor:
    parent = s.ladder[min(s.rung + 1, len(s.ladder) - 1)]
    pick = step.pick
    return {
        "unit": lambda: unit_actor(s.unit, pick),
        "parent": lambda: clerk(parent) if pick == 4 else leader(parent),
        "outsider": lambda: clerk(OUTSIDE_VILLAGE) if pick % 2 else leader(OUTSIDE_TOWNSHIP),
        "below": lambda: unit_actor(s.levels[0].unit, pick),
        "supervisor": lambda: SUPERVISOR,
        "citizen": lambda: CITIZEN,
        "department": lambda: department(list(DEPARTMENTS)[pick % len(DEPARTMENTS)]),
        "admin": lambda: ADMIN,
    }[step.who]()


def action_for(step: Step, s: IssueState, actor: Actor) -> Action:
    text = {"short": "说明", "blank": "", "long": LONG}[step.text]
    pick, name = step.pick, step.action
    if name == "whistle":
        a, b, c = DEPARTMENTS
        chosen = [[a], [b], [a, b], [a, a], [c], [a, b, c]][pick]
        return action(name, actor, departments=chosen, reason=text)
    if name == "report":
        return action(name, actor, contribution=text or None)
    if name == "extension":
        term = [WD, Term(working_days=2), Term(working_days=3), WD, NO_DAYS, HOUR_TERM][pick]
        return action(name, actor, term=term, reason=text)
    if name == "extension_decision":
        granted = None if pick < 3 else Term(working_days=1)
        return action(name, actor, approve=pick % 2 == 0, term=granted, comment=text or None)
    if name == "transfer":
        return Transfer(actor=actor, ladder=transfer_target(s, pick), reason=text)
    if name == "feedback":
        rating = list(Satisfaction)[pick % 3]
        return Feedback(actor=actor, solved=pick % 2 == 0, satisfaction=rating, comment=text)
    if name in ("accept", "withdraw"):
        return action(name, actor)
    return action(name, actor, **{TEXT_FIELD[name]: text})


def transfer_target(s: IssueState, pick: int) -> list[UnitRef]:
    unit = s.unit
    if unit.kind is UnitKind.VILLAGE:
        return ladder_of([SIBLING_VILLAGE, OTHER_VILLAGE, VILLAGE][pick % 3])
    if unit.kind is UnitKind.TOWNSHIP:
        other = OTHER_TOWNSHIP if unit != OTHER_TOWNSHIP else TOWNSHIP
        return ladder_of([other, unit][pick % 2])
    return ladder_of(COUNTY)


def never(step: Step, s: IssueState) -> bool:
    who = step.who
    if who == "below" and s.levels[0].unit == s.unit:
        return False  # the first unit is still the one holding the issue
    if who == "parent" and s.at_ceiling:
        return False  # at the ceiling the "parent" is the county itself: the unit, or its leader
    if who == "parent" and step.pick == 4:
        who = "parent clerk"
    return step.action in NEVER.get(who, set())


def must_succeed(step: Step, s: IssueState) -> bool:
    """Actions the rules plainly allow: the right caller, the right state, the text given."""
    if step.text == "blank" and step.action not in ("accept", "feedback", "withdraw", "report"):
        return False
    who, name = step.who, step.action
    if who == "unit":
        room = s.progress_notes < limits.MAX_PROGRESS_NOTES
        return (
            (name == "accept" and s.status is Status.PENDING_ACCEPT)
            or (name == "resolve" and s.status is Status.IN_PROGRESS)
            or (name == "progress" and s.status is Status.IN_PROGRESS and room)
            or (name == "escalate" and s.status in WORKING and not s.at_ceiling)
        )
    if who in ("supervisor", "admin") and name == "supervise":
        return s.status in WORKING
    if who in ("citizen", "admin"):
        return (name == "feedback" and s.status is Status.AWAITING_FEEDBACK) or (
            name == "withdraw" and s.status in WORKING
        )
    if who == "department" and name == "report" and s.status in WORKING:
        code = list(DEPARTMENTS)[step.pick % len(DEPARTMENTS)]
        return any(d.department == code and d.reported_at is None for d in s.departments)
    return False


# ---- the driver --------------------------------------------------------------------------------


def play(s: IssueState, step: Step, now: datetime, e: Expect) -> bool:
    """Take the step's action at ``now`` and judge the answer; True if it was applied."""
    actor = actor_for(step, s)
    a = action_for(step, s, actor)
    a.request_id = f"request-{s.next_seq}-{step.action}"
    before = pickle.dumps(s)  # byte for byte, and cheaper than ``asdict`` on a long trail
    try:
        check(s, step.action, a, now)
    except Rejected as refused:
        assert pickle.dumps(s) == before, f"a refused {step.action} changed the issue"
        assert not must_succeed(step, s), f"{actor.user}'s {step.action} refused: {refused}"
        return False
    assert not never(step, s), f"{actor} may not {step.action}"
    level, unit, first = s.current.level, s.unit.code, s.next_seq
    apply(s, step.action, a, now)
    drive(s)
    assert any(ev.actor == actor for ev in s.events[first - 1 :]), f"{step.action}: no event"
    if step.action == "resolve":
        e.resolves.append((level, unit))
    if step.action == "feedback" and s.status in WORKING:
        e.resolves.clear()  # the resolution was turned down
    return True


def run_plan(urgency: Urgency, plan: list[Choice]) -> IssueState:
    s = registered(urgency)
    expect, now = Expect(), START
    check_invariants(s, expect)

    def clocks_until(until: datetime) -> None:
        latest = max(ev.at for ev in s.events)
        late = [ev for ev in advance(s, until) if ev.at < latest]
        assert not late, f"clocks fired before the last event: {late}"

    for number, c in enumerate(plan, start=1):
        first, sent = s.next_seq, len(s.outbox)
        now += timedelta(hours=c.hours)
        clocks_until(now)
        if s.status not in OPEN_STATUSES:  # the clocks closed it
            check_invariants(s, expect)
            break
        step = step_for(c, s)
        note(f"step {number} at {now}: {step}")
        if step.action == "wait":
            due = next_due(s)
            assert due is not None
            now = max(now, due)
            clocks_until(now)
        elif play(s, step, now, expect):
            event(f"applied: {step.action}")
        check_invariants(s, expect)
        due = next_due(s)
        assert due is None or due >= now, f"the next clock {due} is before {now}"
        size = payload_size(bounded(s, first, sent))
        assert size < STATE_BUDGET, f"the live state is {size} bytes"
    return s


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Left alone for five weeks: escalated twice, overdue, reminded every working day.
@example(urgency=Urgency.NORMAL, plan=[Choice(170, True, 7, "unit", 0, "short")] * 5)
# A call still open when the resolve is turned down: its report clock fires at the reopening.
@example(
    urgency=Urgency.NORMAL,
    plan=[
        Choice(1, False, ACTIONS.index("accept"), "unit", 0, "short"),
        Choice(0, False, ACTIONS.index("whistle"), "unit", 0, "short"),
        Choice(0, False, ACTIONS.index("resolve"), "unit", 0, "short"),
        Choice(2, False, ACTIONS.index("feedback"), "citizen", 1, "short"),
        Choice(0, False, ACTIONS.index("wait"), "unit", 0, "short"),
    ],
)
@given(
    urgency=st.sampled_from(list(Urgency)),
    plan=st.lists(choices, min_size=1, max_size=40),
)
def test_random_actions_keep_the_issue_consistent(urgency: Urgency, plan: list[Choice]) -> None:
    s = run_plan(urgency, plan)
    event(f"final status: {s.status.value}")
    event(f"levels: {len(s.levels)}")
    for kind in (EventType.REOPENED, EventType.OVERDUE_REMINDER, EventType.TRANSFERRED):
        if any(ev.type is kind for ev in s.events):
            event(f"reached: {kind.value}")


def test_a_report_deadline_missed_while_awaiting_feedback_does_not_fire_in_the_past() -> None:
    s = registered()
    at = START + HOUR
    act(s, "accept", action("accept", clerk(VILLAGE)), at)
    act(s, "whistle", action("whistle", clerk(VILLAGE)), at)  # 住建 must report by 10:30
    act(s, "resolve", action("resolve", clerk(VILLAGE)), at)  # before 住建 reported
    at += 2 * HOUR  # awaiting feedback: the report clock is not among the running clocks
    turned_down = Feedback(actor=CITIZEN, solved=False, satisfaction=Satisfaction.UNSATISFIED)
    act(s, "feedback", turned_down, at)
    assert s.unit == VILLAGE and s.status is Status.PENDING_ACCEPT  # reopened
    due = next_due(s)
    assert due is not None and due >= at, f"the next clock ({due}) is before {at}"
